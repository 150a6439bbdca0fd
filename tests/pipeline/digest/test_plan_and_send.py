"""A real digest through the whole pipeline (plan -> compose -> SMTP on loopback), checked as
the receiving side sees it: segments, one compile per edition, DKIM, the text part, the size.
"""

from __future__ import annotations

import base64
import html
import re
import subprocess
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import dkim
import pytest
from sqlalchemy import func, select

from pipeline.delivery import SendReport, send_edition
from pipeline.digest.compose import DigestComposer
from pipeline.digest.planning import plan_edition
from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.persist import store_entries
from pipeline.render.edition import GMAIL_CLIP_BYTES
from pipeline.settings import Settings
from pipeline.store.db import write_transaction
from pipeline.store.models import Segment, Source
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import CATEGORIES, add_readers, seed_papers, settings_for

LONG_WORDS = (
    "We propose a scalable method for aligning multimodal representations with sparse "
    "mixture-of-experts routing and show state-of-the-art results on twelve benchmarks. "
)


def seed_rich_papers(sessions, n: int = 40) -> list[PaperEntry]:
    """Worst-case papers: long unicode titles and abstracts, many authors, every link kind,
    thumbnails on half of them (the things that make the HTML big)."""
    entries = [
        PaperEntry(
            key=f"arxiv:2501.{i:05d}",
            arxiv_id=f"2501.{i:05d}",
            external_id=f"2501.{i:05d}",
            title=f"Ünïcode & <Scaling> laws for paper {i}: a very long title that keeps going "
            f"and going across the line {'diffusion' if i % 2 else 'transformers'}",
            abstract=(LONG_WORDS * 12)[:1800],
            authors=tuple(f"Áuthor Number{k} Surname{i}" for k in range(14)),
            categories=(CATEGORIES[i % len(CATEGORIES)], "cs.AI"),
            links={
                "abs": f"https://arxiv.org/abs/2501.{i:05d}",
                "pdf": f"https://arxiv.org/pdf/2501.{i:05d}",
                "code": f"https://github.com/example/paper-{i}?tab=readme&lang=en",
                "project": f"https://project{i}.example.org/page",
            },
            thumbnail=f"https://cdn.example.org/thumbs/{i}.png" if i % 2 else None,
            upvotes=500 - i,
        )
        for i in range(n)
    ]
    with write_transaction(sessions) as session:
        source = Source(name="rich", kind="hf-daily", url="https://example.org/rich")
        session.add(source)
        session.flush()
        store_entries(session, source.id, entries, datetime.now(UTC))
    return entries


def plan(store: Store, settings: Settings) -> int:
    with write_transaction(store.sessions) as session:
        return plan_edition(session, pool_size=settings.edition_pool_size).edition_id


def send(
    store: Store, settings: Settings, edition_id: int, composer: DigestComposer | None = None
) -> SendReport:
    return send_edition(
        store.sessions,
        edition_id,
        composer or Wiring(settings, store.sessions).composer(),
        Wiring(settings).transports,
        Wiring(settings).send_policy(),
    )


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if tag == "a" and name == "href" and value:
                self.hrefs.append(value)


def hrefs(markup: str) -> list[str]:
    parser = _Hrefs()
    parser.feed(markup)
    return parser.hrefs


@pytest.fixture
def smtp():
    with ScriptedSmtpServer() as server:
        yield server


def test_segments_no_empty_mail_and_one_compile_per_edition(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, store.url, smtp.url)
    seed_papers(store.sessions, 40)
    groups = {}
    for n, category in enumerate(CATEGORIES):  # 5 selections x 4 readers
        groups[category] = add_readers(store.sessions, 4, start=n * 10, categories=[category])
    nobody = add_readers(store.sessions, 3, start=900, keywords=["zzz-matches-nothing"])
    with write_transaction(store.sessions) as session:
        report = plan_edition(session)
    assert (report.deliveries, report.segments, report.no_match) == (20, 5, 3)
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Segment)) == 5
    composer = Wiring(settings, store.sessions).composer()
    result = send(store, settings, report.edition_id, composer)
    assert result.sent == 20
    assert composer.compiles == 1  # MJML + premailer once for the edition, not per segment
    received = {m.rcpt_tos[0]: parse(m.data) for m in smtp.messages}
    assert len(received) == len(smtp.messages) == 20
    assert not set(nobody) & set(received)  # no empty email for a reader with no match
    for category, readers in groups.items():
        titles = {
            tuple(re.findall(r"Paper number \d+ on \w+", parts(received[r])[0])) for r in readers
        }
        assert len(titles) == 1, category  # one segment: the same papers for the group
        (shown,) = titles
        numbers = [int(t.split()[2]) for t in shown]
        assert numbers and all(CATEGORIES[i % 5] == category for i in numbers)
    # assembling every segment afresh still compiles only once
    fresh = Wiring(settings, store.sessions).composer()
    with store.sessions() as session:
        selections = [[str(p) for p in ids] for ids in session.scalars(select(Segment.paper_ids))]
    templates = [fresh.template(report.edition_id, keys) for keys in selections]
    assert len(templates) == 5 and fresh.compiles == 1


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True, timeout=60
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_every_sent_message_carries_a_dkim_signature_that_verifies(
    sqlite_store: Store, smtp: ScriptedSmtpServer, tmp_path: Path, dkim_key: tuple[Path, bytes]
) -> None:
    key, record = dkim_key
    settings = settings_for(
        tmp_path,
        sqlite_store.url,
        smtp.url,
        sender_address="digest@papers.example.org",
        dkim_selector="pr2025",
        dkim_domain="papers.example.org",
        dkim_key_path=str(key),
    )
    seed_papers(sqlite_store.sessions, 20)
    add_readers(sqlite_store.sessions, 6)
    result = send(sqlite_store, settings, plan(sqlite_store, settings))
    assert result.sent == 6 and len(smtp.messages) == 6
    asked: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record if name == b"pr2025._domainkey.papers.example.org." else b""

    for received in smtp.messages:
        assert received.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(received.data, dnsfunc=dnsfunc), received.rcpt_tos
        tampered = received.data.replace(b"Paper number", b"Paper numbre", 1)
        assert not dkim.verify(tampered, dnsfunc=dnsfunc)
    assert set(asked) == {b"pr2025._domainkey.papers.example.org."}


def test_text_part_carries_every_title_and_link_and_html_fits_gmail(
    store: Store, smtp: ScriptedSmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, store.url, smtp.url)
    most = settings.max_papers_per_digest
    entries = seed_rich_papers(store.sessions, most + 10)
    add_readers(store.sessions, 2, papers_per_digest=most)
    result = send(store, settings, plan(store, settings))
    assert result.sent == 2
    for received in smtp.messages:
        message = parse(received.data)
        text, markup = parts(message)
        assert "<script" not in markup.lower()
        size = len(markup.encode("utf-8"))
        assert size < GMAIL_CLIP_BYTES, f"HTML part is {size} bytes with {most} papers"
        flat_text = " ".join(text.split())
        shown = [e for e in entries if html.escape(e.title, quote=False) in markup]
        assert len(shown) == most  # the reader got the maximum, all long
        for entry in shown:
            assert " ".join(entry.title.split()) in flat_text, entry.title
        links = {html.unescape(h) for h in hrefs(markup)}
        assert len(links) >= 4 * most + 3  # abs, pdf, code, project + the personal links
        words = set(text.split())
        missing = sorted(h for h in links if h not in words and f"<{h}>" not in words)
        assert not missing, missing[:5]
        for personal in ("/unsubscribe/", "/preferences/", "/view/", "/feedback/"):
            assert any(personal in h for h in links), personal
