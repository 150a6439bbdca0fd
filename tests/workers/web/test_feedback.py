"""The feedback pages behind a card's "more / less like this": GET shows, POST records, undo."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.readers.feedback import ratings_of
from pipeline.readers.interests import load_interests
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from tests.pipeline.relevance.world import get, reader, seed_fields
from tests.workers.web.site import CSRF_RE, Site


def _setup(site: Site, status: str = "active") -> tuple[Subscriber, int, str]:
    fields = seed_fields(site.sessions)
    ann = reader(site.sessions, "reader1@example.org", status=status)
    paper = fields["astro"][0]
    url = site.links.feedback(ann.link_id, ann.token_version, paper)
    return ann, paper, url.removeprefix(site.settings.base_url.rstrip("/"))


def _ratings(site: Site, subscriber: Subscriber) -> list[tuple[int, int]]:
    with site.sessions() as session:
        return [(r.paper_id, r.value) for r in ratings_of(session, subscriber.id)]


def _press(site: Site, client: Any, path: str) -> Any:
    page = client.get(path)
    token = CSRF_RE.search(page.get_data(as_text=True))
    assert token, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": token.group(1)})


def test_opening_the_link_records_nothing_and_shows_one_button(site: Site) -> None:
    ann, _paper, path = _setup(site)
    client = site.client()
    for vote in ("more", "less"):
        page = client.get(f"{path}/{vote}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Dark Matter Halo Profiles of Dwarf Galaxies" in html
        assert html.count('type="submit"') == 1 and 'method="post"' in html
    assert _ratings(site, ann) == []  # a scanner's prefetch changes nothing


def test_pressing_the_button_records_and_undo_removes(site: Site) -> None:
    ann, paper, path = _setup(site)
    client = site.client()
    done = _press(site, client, f"{path}/more")
    assert done.status_code == 200 and "Noted: more papers like this" in done.get_data(as_text=True)
    assert _ratings(site, ann) == [(paper, 1)]
    assert "Undo" in done.get_data(as_text=True)
    _press(site, client, f"{path}/less")
    assert _ratings(site, ann) == [(paper, -1)]  # changed its mind: one rating, replaced
    undone = _press(site, client, f"{path}/clear")
    assert "Rating removed" in undone.get_data(as_text=True)
    assert _ratings(site, ann) == []


def test_a_post_without_the_page_is_refused(site: Site) -> None:
    ann, _paper, path = _setup(site)
    assert site.client().post(f"{path}/more").status_code == 400  # no CSRF token
    assert _ratings(site, ann) == []


@pytest.mark.parametrize(
    ("damage", "status"),
    [
        (lambda p: p[:-3] + "xyz", 400),  # forged signature
        (lambda p: p + "x", 400),
        (lambda p: "/feedback/not-a-token", 400),
    ],
)
def test_forged_links_get_a_clear_error_and_record_nothing(
    site: Site, damage: Any, status: int
) -> None:
    ann, _paper, path = _setup(site)
    page = site.client().get(damage(path) + "/more")
    assert page.status_code == status
    assert "not valid" in page.get_data(as_text=True) or "damaged" in page.get_data(as_text=True)
    assert _ratings(site, ann) == []


def test_an_unknown_vote_is_not_found(site: Site) -> None:
    _ann, _paper, path = _setup(site)
    assert site.client().get(f"{path}/maybe").status_code == 404


def test_a_revoked_link_no_longer_rates(site: Site) -> None:
    ann, _paper, path = _setup(site)
    with write_transaction(site.sessions) as session:
        get(session, Subscriber, ann.id).token_version += 1
    assert site.client().get(f"{path}/more").status_code == 404


def test_a_reader_who_left_sees_why_nothing_is_kept(site: Site) -> None:
    ann, _paper, path = _setup(site, status="unsubscribed")
    page = site.client().get(f"{path}/more")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "kept only for active subscriptions" in html and 'type="submit"' not in html
    with site.sessions() as session:
        assert get(session, Subscriber, ann.id).status == "unsubscribed"


# --- the preferences page: interests and ratings ----------------------------------------


def _preferences(site: Site, subscriber: Subscriber) -> str:
    url = site.links.preferences(subscriber.link_id, subscriber.token_version)
    return url.removeprefix(site.settings.base_url.rstrip("/"))


def _form(site: Site, client: Any, path: str, **changes: str) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    token = CSRF_RE.search(page)
    assert token
    form = {
        "csrf_token": token.group(1),
        "cadence": "daily",
        "papers_per_digest": "10",
        "send_hour": "8",
        "timezone": "UTC",
        "weekly_day": "0",
        "skip_empty": "on",
    }
    form.update(changes)
    return form


def test_the_preferences_page_keeps_what_the_reader_likes(site: Site) -> None:
    ann, _paper, _path = _setup(site)
    client = site.client()
    path = _preferences(site, ann)
    form = _form(
        site,
        client,
        path,
        seeds="https://arxiv.org/abs/2611.00012v2\n2611.00013",
        follow_authors="Yann LeCun, Ada Lovelace",
        mute_authors="B. Surname",
        exclude_keywords="survey",
        relevance_weight="100",
        min_score="50",
    )
    saved = client.post(path, data=form)
    assert saved.status_code == 303
    with site.sessions() as session:
        interests = load_interests(session, ann.id)
    assert interests.seeds == ("2611.00012", "2611.00013")
    assert interests.follow_authors == ("Yann LeCun", "Ada Lovelace")
    assert (interests.relevance_weight, interests.min_score, interests.skip_empty) == (
        1.0,
        0.5,
        True,
    )
    page = client.get(path).get_data(as_text=True)
    assert "2611.00012" in page and "Ada Lovelace" in page and 'value="100" selected' in page


def test_bad_interests_are_refused_next_to_their_field_and_nothing_is_saved(site: Site) -> None:
    ann, _paper, _path = _setup(site)
    client = site.client()
    path = _preferences(site, ann)
    refused = client.post(path, data=_form(site, client, path, seeds="not a paper", send_hour="9"))
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'id="seeds-error"' in html and "not an arXiv id" in html
    with site.sessions() as session:
        assert load_interests(session, ann.id).seeds == ()
        assert get(session, Subscriber, ann.id).send_hour == 8  # the whole form waits
    odd = client.post(path, data=_form(site, client, path, relevance_weight="nan"))
    assert odd.status_code == 400 and 'id="relevance_weight-error"' in odd.get_data(as_text=True)


def test_ratings_are_listed_and_each_can_be_removed(site: Site) -> None:
    ann, paper, path = _setup(site)
    client = site.client()
    _press(site, client, f"{path}/more")
    page = client.get(_preferences(site, ann)).get_data(as_text=True)
    assert "More like this:" in page and "Dark Matter Halo Profiles" in page
    remove = f"{_preferences(site, ann)}/ratings/{paper}/remove"
    assert remove in page
    token = CSRF_RE.search(page)
    assert token
    done = client.post(remove, data={"csrf_token": token.group(1)})
    assert done.status_code == 303
    assert _ratings(site, ann) == []
    assert "None yet" in client.get(_preferences(site, ann)).get_data(as_text=True)
