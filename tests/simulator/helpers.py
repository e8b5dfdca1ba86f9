"""Small HTTP helpers for the simulator tests (real requests to 127.0.0.1)."""

from __future__ import annotations

from urllib.parse import quote

import requests

from simulator import XmattersSimulator


def session_for(sim: XmattersSimulator, *, api_key: bool = False) -> requests.Session:
    session = requests.Session()
    session.auth = (sim.api_key_id, sim.api_key_secret) if api_key else (sim.username, sim.password)
    return session


def get(sim: XmattersSimulator, path: str, **kwargs) -> requests.Response:
    """GET `path` (relative to the base URL, e.g. "/people?limit=5") with the user + password."""
    kwargs.setdefault("auth", (sim.username, sim.password))
    kwargs.setdefault("timeout", 10)
    return requests.get(sim.base_url + path, **kwargs)


def members_path(key: str) -> str:
    return f"/groups/{quote(key, safe='')}/members"


def fetch_all(session: requests.Session, sim: XmattersSimulator, path: str) -> tuple[list[dict], list[dict]]:
    """Follow `links.next` from `path`; returns (all rows, every page envelope)."""
    url = sim.base_url + path
    rows: list[dict] = []
    pages: list[dict] = []
    while True:
        response = session.get(url, timeout=10)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        rows.extend(page["data"])
        next_link = page["links"].get("next")
        if not next_link:
            return rows, pages
        assert len(pages) < 1000, "paging does not end"
        url = sim.origin + next_link
