"""The home page of each role: the counts that matter to it, each a link to
its list, the pages it works in, and its latest notifications."""

from __future__ import annotations

import re

import pytest

from shanzhi.incidents import workflow as wf
from shanzhi.web import pages, views
from tests.incidents.conftest import incident_in, report


@pytest.fixture(autouse=True)
def _no_command_centre(monkeypatch):
    """The menu is checked without the command centre unless a test adds it."""
    command(monkeypatch, None)


def command(monkeypatch, url: str | None) -> None:
    monkeypatch.setattr(pages, "command_centre_url", lambda: url)
    monkeypatch.setattr(views, "command_centre_url", lambda: url)


def home(client, user) -> str:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def tiles(html: str) -> dict[str, tuple[int, str]]:
    """label → (count, link) of the home page's tiles."""
    found = re.findall(r'<a class="tile[^"]*" href="([^"]+)">\s*<span class="tile-count">(\d+)'
                       r'</span>\s*<span class="tile-label">([^<]+)</span>', html)
    return {label: (int(count), url.replace("&amp;", "&")) for url, count, label in found}


def menu(html: str) -> list[str]:
    return re.findall(r'data-menu="([a-z_]+)"', html)


def test_an_operator_sees_the_work_of_each_stage(client, cast):
    report(cast)
    incident_in(cast, wf.REGISTERED)
    incident_in(cast, wf.REGISTERED)
    incident_in(cast, wf.HANDLED)
    html = home(client, cast.town_operator)
    assert tiles(html) == {
        "待受理": (1, "/incidents/?state=reported"),
        "待派遣": (2, "/incidents/?state=registered"),
        "待签收": (0, "/incidents/?state=dispatched"),
        "处置中": (0, "/incidents/?state=in_progress"),
        "待核查": (1, "/incidents/?state=handled"),
        "已超期": (0, "/incidents/?light=red"),
    }
    assert menu(html) == ["home", "incidents", "mediation", "patrols", "registry", "map",
                          "notifications"]
    assert "您好，town_operator" in html and "受理派遣台" in html


def test_a_handler_sees_the_work_of_the_department(client, cast):
    incident_in(cast, wf.DISPATCHED)
    incident_in(cast, wf.IN_PROGRESS)
    incident_in(cast, wf.REGISTERED)  # not sent to the department
    html = home(client, cast.handler)
    assert tiles(html) == {
        "待签收": (1, "/desk/?state=dispatched"),
        "处置中": (1, "/desk/?state=in_progress"),
        "待核查": (0, "/desk/?state=handled"),
        "已超期": (0, f"/desk/?state={'%2C'.join(wf.STATES)}&light=red"),
    }
    assert menu(html) == ["home", "department_desk", "mediation", "map", "notifications"]
    assert "处置台" in html


def test_a_grid_worker_sees_what_waits_for_verification_in_their_grid(client, cast):
    incident_in(cast, wf.HANDLED)
    html = home(client, cast.worker)
    assert tiles(html)["待核查"] == (1, "/incidents/?state=handled")
    assert menu(html) == ["home", "incidents", "registry", "map", "notifications"]


def test_the_east_operator_counts_nothing_of_the_west(client, cast):
    incident_in(cast, wf.REGISTERED)
    assert all(count == 0 for count, _ in tiles(home(client, cast.east_operator)).values())


def test_the_latest_notifications_link_to_their_incidents(client, cast):
    incident = report(cast)
    html = home(client, cast.town_operator)
    assert f'href="/incidents/{incident.number}/"' in html
    assert "1 条未读" in html


def test_a_notification_is_written_in_the_language_of_the_page(client, cast):
    incident = report(cast, description="路边有暴露垃圾")
    assert f"新事件 {incident.number}：路边有暴露垃圾</a>" in home(client, cast.town_operator)
    english = client.get("/", headers={"Accept-Language": "en"}).content.decode()
    assert f"New incident {incident.number}: 路边有暴露垃圾</a>" in english


@pytest.mark.parametrize("user", ["admin", "viewer"])
def test_the_command_centre_is_linked_once_it_exists(client, cast, monkeypatch, user):
    html = home(client, getattr(cast, user))
    assert "command" not in menu(html)
    command(monkeypatch, "/command/")
    html = home(client, getattr(cast, user))
    mediation = ["mediation"] if user == "admin" else []  # the viewer does not mediate
    assert menu(html) == ["home", "incidents", "command", *mediation, "patrols", "registry",
                          "map", "notifications"]
    assert 'href="/command/"' in html and "指挥中心" in html


def test_a_handler_gets_no_command_centre_link(client, cast, monkeypatch):
    command(monkeypatch, "/command/")
    assert "command" not in menu(home(client, cast.handler))
