"""No input gets a 500: odd numbers in JSON and forms, absurd archive ids, and the errors the
HTTP server writes itself carry the site's security headers."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.digest.planning import plan_edition
from pipeline.store.db import write_transaction
from tests.support.world import add_readers, link_id_of, seed_papers
from tests.workers.web.site import Site, served
from workers.web.security import CSP, HEADERS

NUMERIC_FIELDS = ("papers_per_digest", "send_hour", "weekly_day")
# As JSON text: NaN and the infinities are what Python's json module reads (and writes) for
# them; 1e400 overflows to infinity; the rest are numbers too big for any column.
JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e30", str(10**30)]
JSON_OTHERS = [str(-(10**30)), "2.5", "true", "[]", "{}", '"NaN"', '"1e400"', '"12abc"']
FORM_VALUES = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e400", "1e3", str(10**30)]
FORM_OTHERS = [str(-(10**30)), "2.5", "٣", "5_0", "9" * 5000, "0x10", " "]


def _api(site: Site, body: str) -> Any:
    return site.client().post("/api/subscribe", data=body, content_type="application/json")


@pytest.mark.parametrize("field", NUMERIC_FIELDS)
@pytest.mark.parametrize("number", JSON_NUMBERS + JSON_OTHERS)
def test_json_numbers_get_a_400_naming_the_field(site: Site, field: str, number: str) -> None:
    response = _api(site, f'{{"email": "n@example.org", "{field}": {number}}}')
    body = response.get_json()
    assert response.status_code == 400, (field, number, body)
    assert body["error"] == "invalid_preferences" and body["field"] == field, body
    assert body["message"].endswith(".")


@pytest.mark.parametrize("number", JSON_NUMBERS)
def test_odd_numbers_anywhere_in_the_json_get_a_400(site: Site, number: str) -> None:
    cases = {
        "email": f'{{"email": {number}}}',
        "categories": f'{{"email": "n@example.org", "categories": [{number}]}}',
        "cadence": f'{{"email": "n@example.org", "cadence": {number}}}',
        "timezone": f'{{"email": "n@example.org", "timezone": {number}}}',
        "token": f'{{"token": {number}}}',
    }
    for field, body in cases.items():
        path = "/api/unsubscribe" if field == "token" else "/api/subscribe"
        response = site.client().post(path, data=body, content_type="application/json")
        assert response.status_code == 400, (field, body, response.get_data())
        assert response.get_json()["field"] == field
    assert site.reader("n@example.org") is None


def test_json_the_parser_cannot_read_gets_a_400(site: Site) -> None:
    for body in ["[" * 5000 + "]" * 5000, '{"a":' * 2000 + "1" + "}" * 2000, "1" * 5000]:
        response = _api(site, body)
        assert response.status_code == 400, body[:20]
        assert response.get_json()["error"] == "invalid_json"
    too_long = _api(site, '{"email": "n@example.org", "send_hour": ' + "9" * 5000 + "}")
    assert too_long.status_code == 400  # more digits than Python reads as an int


@pytest.mark.parametrize("field", NUMERIC_FIELDS)
@pytest.mark.parametrize("value", FORM_VALUES + FORM_OTHERS)
def test_form_numbers_get_a_400_next_to_the_field(site: Site, field: str, value: str) -> None:
    add_readers(site.sessions, 1, domain="numbers.example")
    prefs = site.links.preferences(link_id_of(site.sessions, "reader0@numbers.example"), 1)
    path = prefs.removeprefix(site.settings.base_url)
    client = site.client()
    response = client.post(path, data={"csrf_token": site.csrf(client, path), field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 400, (field, value)
    assert f'id="{field}-error"' in page and "Please check the form" in page
    # The home form sends no such fields, but a hand-made POST may.
    home = site.subscribe(site.client(), "n@example.org", **{field: value})
    assert home.status_code == 400 and "Please check the form" in home.get_data(as_text=True)
    reader = site.reader("reader0@numbers.example")
    assert reader is not None and (reader.papers_per_digest, reader.send_hour) == (5, 8)
    assert site.reader("n@example.org") is None


def test_big_but_valid_looking_numbers_are_refused_by_range(site: Site) -> None:
    response = _api(site, '{"email": "n@example.org", "papers_per_digest": 1e30}')
    assert response.get_json()["message"] == "Papers per digest: choose 1 to 20."
    whole = _api(site, '{"email": "n@example.org", "send_hour": 7.0}')
    assert whole.status_code == 202  # 7.0 is a whole number


def test_time_zones_that_cannot_exist_get_a_400(site: Site) -> None:
    for zone in ["x" * 10_000, "../../etc/passwd", "Europe/\x00Berlin", "a/" * 200]:
        response = site.client().post(
            "/api/subscribe", json={"email": "n@example.org", "timezone": zone}
        )
        assert response.status_code == 400 and response.get_json()["field"] == "timezone"


@pytest.mark.parametrize(
    "edition_id",
    ["99999999999999999999999", str(2**63), str(2**64 + 1), "-1", "-99999999999999999999", "0"],
)
def test_absurd_archive_ids_are_404(any_site: Site, edition_id: str) -> None:
    response = any_site.client().get(f"/archive/{edition_id}")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_the_largest_archive_id_is_looked_up_and_not_found(any_site: Site) -> None:
    assert any_site.client().get(f"/archive/{2**63 - 1}").status_code == 404


def test_an_edition_is_shown_as_soon_as_it_exists(any_site: Site) -> None:
    """A 404 for an edition that is not there yet is not cached: people follow the archive
    link of a digest while it is being sent, and the next edition's id is easy to guess."""
    site = any_site
    seed_papers(site.sessions, n=6)
    add_readers(site.sessions, 1)
    client = site.client()
    assert client.get("/archive/1").status_code == 404
    with write_transaction(site.sessions) as session:
        report = plan_edition(session, cadence="daily")
    assert report.edition_id == 1
    page = client.get("/archive/1")
    assert page.status_code == 200 and "Paper number 0" in page.get_data(as_text=True)


def _raw(url: str, request: bytes) -> tuple[str, dict[str, str]]:
    """Send bytes as they are (no client library would send these) and read the head."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        raw.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = raw.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return head[0], headers


def _assert_site_headers(headers: dict[str, str]) -> None:
    assert headers["content-security-policy"] == CSP
    for name, value in HEADERS.items():
        assert headers[name.lower()] == value, name
    assert headers["cache-control"] == "no-store"


def test_errors_written_by_the_http_server_carry_the_security_headers(site: Site) -> None:
    with served(site.app) as url:
        cases = {
            "413": b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n",
            "400": b"GET / HTTP/1.1\r\nHost: x\r\nno colon in this header\r\n\r\n",
            "400 ": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n",
            "431": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n",
        }
        for status, request in cases.items():
            line, headers = _raw(url, request)
            assert line.split()[1] == status.strip(), (status, line)
            _assert_site_headers(headers)
            assert headers["server"] == "paperround"
        # A chunked body has no declared length: it is refused once too much has arrived.
        line, headers = _raw(
            url,
            b"POST /api/subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n4e20\r\n" + b" " * 20_000 + b"\r\n0\r\n\r\n",
        )
        assert line.split()[1] == "413", line
        _assert_site_headers(headers)
