"""Ranking: the trending score and the store's papers read back in that order."""

from pipeline.ranking.ranked import RankedPaper, ranked_papers
from pipeline.ranking.top import top_trending
from pipeline.ranking.trending import Signals, trending_score

__all__ = ["RankedPaper", "Signals", "ranked_papers", "top_trending", "trending_score"]
