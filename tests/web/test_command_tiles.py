"""The command centre's KPI tiles are links to the case desk's list of what
each one counts, for the region drilled into; for a rate, the list of the
incidents it is a share of. Followed by the same user, each link lists
exactly the incidents the tile counts. No links for a user whose menu has no
case desk (a handler works at the department desk); the east's operator
counts and lists nothing of the west."""

from __future__ import annotations

import re
from html import unescape

import pytest
import time_machine

from shanzhi.cases.sla import sweep
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from tests.incidents.conftest import at, drive, report

MONDAY = at(2026, 3, 9, 10, 0)
NOW = at(2026, 3, 10, 10, 55)   # Tuesday: a report of 10:00 is yellow (warns 10:48, due 11:00)
WEST_TOWN = "320505001"
TILES = ("today_reported", "open", "overdue", "near_due", "closure_rate", "on_time_rate",
         "self_resolved_share", "satisfaction")


@pytest.fixture
def west(cast):
    """A small west territory with incidents of each kind, seen at NOW."""
    with time_machine.travel(at(2026, 1, 29, 10, 0), tick=False):  # before the 30-day window
        drive(cast, report(cast), wf.CLOSED)
    with time_machine.travel(MONDAY, tick=False):
        report(cast)                                   # red: marked overdue by the sweep
        drive(cast, report(cast), wf.CLOSED)           # closed on time …
        called = drive(cast, report(cast), wf.CLOSED)  # … and called back, satisfied
        services.incident_callback(actor=cast.town_operator, incident=called,
                                   satisfaction="satisfied")
        drive(cast, report(cast), wf.REJECTED)         # not counted in the rates
        services.incident_self_resolve(actor=cast.worker, incident=report(cast),
                                       result="当场清理")
        drive(cast, report(cast), wf.DISPATCHED)       # red by NOW, marked too
    with time_machine.travel(at(2026, 3, 9, 17, 0), tick=False):
        sweep(now=at(2026, 3, 9, 17, 0))
    with time_machine.travel(at(2026, 3, 10, 9, 30), tick=False):
        report(cast)                                   # red at NOW, not yet marked
    with time_machine.travel(at(2026, 3, 10, 10, 0), tick=False):
        report(cast)                                   # yellow at NOW, not yet marked
    with time_machine.travel(at(2026, 3, 10, 10, 50), tick=False):
        report(cast)                                   # green
    return cast


def tile_links(client, user, query: str = "") -> dict[str, str]:
    client.force_login(user)
    response = client.get(f"/command/{query}")
    assert response.status_code == 200
    found = re.findall(r'<a class="kpi [^"]*" data-kpi="([a-z_]+)" href="([^"]+)"',
                       response.content.decode())
    return {kpi: unescape(href) for kpi, href in found}


def listed(client, href: str) -> int:
    """How many incidents the case desk lists at this address."""
    response = client.get(href)
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" not in html, href
    (count,) = re.findall(r'<span class="results-count">\D*([\d,]+)', html)
    return int(count.replace(",", ""))


def counted(client, region: str = "") -> dict[str, int]:
    """What each tile counts: its figure, or for a rate the incidents it is a share of."""
    query = f"?region={region}" if region else ""
    kpis = client.get(f"/api/v1/command/summary{query}").json()["kpis"]
    window = kpis["window"]
    valid = window["reported"] - window["rejected"]
    return {"today_reported": kpis["today_reported"], "open": kpis["open"],
            "overdue": kpis["overdue"], "near_due": kpis["near_due"], "closure_rate": valid,
            "on_time_rate": window["closed"], "self_resolved_share": valid,
            "satisfaction": window["closed"]}


@pytest.mark.parametrize("who", ["west_operator", "viewer", "worker"])
def test_each_tile_links_to_the_desk_list_of_exactly_what_it_counts(client, west, who):
    user = getattr(west, who)
    with time_machine.travel(NOW, tick=False):
        links = tile_links(client, user)
        assert tuple(links) == TILES
        figures = counted(client)
        assert {tile: listed(client, href) for tile, href in links.items()} == figures
    if who != "worker":  # the worker's one grid holds them all too, but says so less
        assert figures == {"today_reported": 3, "open": 5, "overdue": 3, "near_due": 1,
                           "closure_rate": 8, "on_time_rate": 3, "self_resolved_share": 8,
                           "satisfaction": 3}


def test_the_tiles_of_a_region_drilled_into_list_that_region(client, west):
    with time_machine.travel(NOW, tick=False):
        links = tile_links(client, west.viewer, f"?region={WEST_TOWN}")
        assert all(f"region={WEST_TOWN}" in href for href in links.values())
        assert links["closure_rate"] == (
            "/incidents/?state=" + "%2C".join(s for s in wf.STATES if s != wf.REJECTED)
            + f"&reported_from=2026-02-09&reported_to=2026-03-10&region={WEST_TOWN}")
        assert {tile: listed(client, href) for tile, href in links.items()} == counted(
            client, WEST_TOWN)


def test_the_east_operator_counts_and_lists_nothing_of_the_west(client, west):
    with time_machine.travel(NOW, tick=False):
        links = tile_links(client, west.east_operator)
        assert {tile: listed(client, href) for tile, href in links.items()} == dict.fromkeys(
            TILES, 0)
        assert counted(client) == dict.fromkeys(TILES, 0)


def test_a_user_without_the_case_desk_in_the_menu_gets_tiles_without_links(client, west):
    client.force_login(west.handler)
    html = client.get("/command/").content.decode()
    assert html.count('data-kpi="') == len(TILES)
    assert tile_links(client, west.handler) == {}
    assert '<div class="kpi kpi-open" data-kpi="open">' in html
