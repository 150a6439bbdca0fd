"""Corpora for relevance tests: planted topics (generated) and real-looking abstracts (a
hand-written fixture in four fields)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from pipeline.relevance.features import PaperText
from tests.conftest import FIXTURES

TOPICS = {
    "graphs": "graph vertex edge spectral clustering community partition laplacian",
    "vision": "image pixel convolution segmentation detection camera object scene",
    "proteins": "protein folding residue enzyme binding structure ligand amino",
    "markets": "market price auction trading liquidity volatility portfolio equilibrium",
}
COMMON = [
    "we",
    "study",
    "propose",
    "method",
    "results",
    "show",
    "novel",
    "approach",
    "model",
    "data",
    "analysis",
    "new",
]


@dataclass(frozen=True)
class Labeled:
    paper: PaperText
    field: str


def planted(per_topic: int = 60, seed: int = 3) -> list[Labeled]:
    """Papers whose words come from one topic's vocabulary plus common words."""
    rng = random.Random(seed)
    papers = []
    pid = 1
    for topic, words in TOPICS.items():
        vocabulary = words.split()
        for _ in range(per_topic):
            title = " ".join(rng.choice(vocabulary) for _ in range(4)).title()
            body = [rng.choice(vocabulary if rng.random() < 0.35 else COMMON) for _ in range(60)]
            papers.append(Labeled(PaperText(pid, title, " ".join(body), ()), topic))
            pid += 1
    rng.shuffle(papers)
    return papers


def abstracts() -> list[Labeled]:
    data = json.loads((FIXTURES / "relevance" / "abstracts.json").read_text())
    return [
        Labeled(PaperText(i + 1, p["title"], p["abstract"], tuple(p["categories"])), p["field"])
        for i, p in enumerate(data["papers"])
    ]
