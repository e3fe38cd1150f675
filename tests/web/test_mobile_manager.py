"""管理通 (``/m/`` for everyone who is not a grid worker): the territory's
figures — the command centre's — and what waits for the user by role, each
list the desks' selector ordered by deadline, each row a link to the phone
incident page; one-tap forms (to the incident API, for the outbox) only where
the action needs no input and the user may take it. The east's operator sees
nothing of the west; a viewer gets figures and the overdue list, no forms."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shanzhi.accounts.scope import Scope
from shanzhi.incidents import selectors, services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from shanzhi.incidents.routing import suggest_department
from shanzhi.patrols.services import patrol_start
from shanzhi.web.mobile import manager
from tests.incidents.conftest import (
    EAST_POINT,
    WEST_POINT,
    at,
    incident_in,
    keep_memos,
    report,
)

BEFORE = at(2026, 3, 9, 9, 0)   # a Monday
NOW = at(2026, 3, 9, 10, 30)    # a report of 9:00 is red by now (to accept within 1 h)


@dataclass
class Row:
    number: str
    href: str = ""
    form_action: str = ""
    outbox: bool = False
    fields: dict = field(default_factory=dict)
    button: str = ""


class _Home(HTMLParser):
    """The lists of a 管理通 page: {list key: [Row, …]} in order, and the figures."""

    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[str, list[Row]] = {}
        self.kpis: dict[str, str] = {}
        self.list: str | None = None
        self.row: Row | None = None
        self.kpi: str | None = None
        self.in_dd = self.in_button = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "data-waiting" in a:
            self.list = a["data-waiting"]
            self.lists[self.list] = []
        elif tag == "li" and "data-number" in a and self.list:
            self.row = Row(a["data-number"])
            self.lists[self.list].append(self.row)
        elif self.row is not None and tag == "a" and not self.row.href:
            self.row.href = a.get("href", "")
        elif self.row is not None and tag == "form":
            self.row.form_action, self.row.outbox = a.get("action", ""), "data-outbox" in a
        elif self.row is not None and tag == "input" and a.get("type") == "hidden":
            self.row.fields[a["name"]] = a.get("value", "")
        elif self.row is not None and tag == "button":
            self.in_button = True
        elif tag == "div" and "data-kpi" in a:
            self.kpi = a["data-kpi"]
        elif tag == "dd" and self.kpi:
            self.in_dd = True

    def handle_data(self, data):
        if self.in_button and self.row is not None:
            self.row.button += data.strip()
        if self.in_dd and self.kpi:
            self.kpis[self.kpi] = data.strip()

    def handle_endtag(self, tag):
        if tag == "li":
            self.row = None
        elif tag == "button":
            self.in_button = False
        elif tag == "dd":
            self.in_dd, self.kpi = False, None
        elif tag == "section":
            self.list = None


def page(client, user, url: str = "/m/") -> tuple[_Home, str]:
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    parsed = _Home()
    parsed.feed(html)
    return parsed, html


def numbers(home: _Home, key: str) -> list[str]:
    return [row.number for row in home.lists[key]]


@pytest.fixture
def west(cast):
    """West incidents in every state a manager or a handler waits on (ZJJ's
    handler holds the dispatched and in-progress ones, one with an extension
    asked for), and one in the east."""
    with time_machine.travel(BEFORE, tick=False):
        late = report(cast, description="西街1号垃圾满溢")                  # red by NOW
        registered = incident_in(cast, wf.REGISTERED, description="西街2号井盖缺失")
        dispatched = incident_in(cast, wf.DISPATCHED, description="西街3号路灯不亮")
        working = incident_in(cast, wf.IN_PROGRESS, description="西街4号水管破裂")
        asking = incident_in(cast, wf.IN_PROGRESS, description="西街5号路面塌陷")
        asking = services.incident_request_extension(actor=cast.handler, incident=asking,
                                                     reason="需要等待材料", amount=2)
        east, _ = services.incident_report(actor=cast.east_operator, channel="hotline_12345",
                                           description="东区噪音扰民", category="SJ0102",
                                           **EAST_POINT)
    with time_machine.travel(at(2026, 3, 9, 10, 20), tick=False):
        fresh = report(cast, description="西街6号暴露垃圾")                  # green at NOW
    return {"late": late, "registered": registered, "dispatched": dispatched,
            "working": working, "asking": asking, "east": east, "fresh": fresh, "cast": cast}


def test_an_operator_sees_what_waits_to_accept_dispatch_approve_and_supervise(client, west):
    home, html = page(client, west["cast"].town_operator)
    assert list(home.lists) == ["accept", "dispatch", "extension", "supervise"]
    assert numbers(home, "accept") == [west["late"].number, west["fresh"].number]  # by deadline
    assert numbers(home, "dispatch") == [west["registered"].number]
    assert numbers(home, "extension") == [west["asking"].number]
    with time_machine.travel(NOW, tick=False):
        urgent = selectors.incidents_list(scope=Scope.for_user(west["cast"].town_operator),
                                          light_filter="red,yellow", sort="due_at")
        assert numbers(home, "supervise") == [i.number for i in urgent]
    assert west["late"].number in numbers(home, "supervise")
    assert west["fresh"].number not in numbers(home, "supervise")
    for key in home.lists:
        for row in home.lists[key]:
            assert row.href == f"/m/incidents/{row.number}/"
    assert "待受理" in html and "待派遣" in html
    assert '<p class="mg-desktop"><a href="/">' in html  # 电脑版


def test_the_one_tap_forms_carry_the_version_and_the_api_address(client, west):
    home, _html = page(client, west["cast"].town_operator)
    (late, _fresh) = home.lists["accept"]
    incident = Incident.objects.get(number=late.number)
    assert late.outbox and late.form_action == f"/api/v1/incidents/{late.number}/accept"
    assert late.fields == {"version": str(incident.version)}
    assert late.button == "受理立案"
    (registered,) = home.lists["dispatch"]
    incident = west["registered"]
    route = suggest_department(region=incident.region, category=incident.category,
                               rules=incident.rules)
    assert route.department is not None
    assert registered.form_action == f"/api/v1/incidents/{incident.number}/dispatch"
    assert registered.fields == {"version": str(incident.version),
                                 "department": route.department.code}
    assert route.department.name in registered.button  # 派遣到…
    (asking,) = home.lists["extension"]
    assert asking.form_action == f"/api/v1/incidents/{asking.number}/approve_extension"
    assert asking.fields == {"version": str(west["asking"].version)}
    assert all(not row.form_action for row in home.lists["supervise"])  # 督办 needs a note


def test_an_unclassified_report_gets_no_one_tap_accept(client, west):
    with time_machine.travel(BEFORE, tick=False):
        unclassified = report(west["cast"], category=None, description="西街7号不明情况")
    home, _html = page(client, west["cast"].town_operator)
    row = next(r for r in home.lists["accept"] if r.number == unclassified.number)
    assert row.form_action == "" and row.href == f"/m/incidents/{unclassified.number}/"


def test_the_one_tap_forms_posted_as_the_outbox_does_take_their_actions(client, west):
    cast = west["cast"]
    home, _html = page(client, cast.town_operator)
    taps = [home.lists["accept"][0], home.lists["dispatch"][0], home.lists["extension"][0]]
    for row in taps:
        with time_machine.travel(NOW, tick=False):
            response = client.post(row.form_action, row.fields,
                                   headers={"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 200, response.content
    assert Incident.objects.get(number=west["late"].number).state == wf.REGISTERED
    assert Incident.objects.get(number=west["registered"].number).state == wf.DISPATCHED
    assert Incident.objects.get(number=west["asking"].number).pending_extension is None
    home, _html = page(client, cast.handler)
    sign = next(r for r in home.lists["sign"] if r.number == west["dispatched"].number)
    with time_machine.travel(NOW, tick=False):
        response = client.post(sign.form_action, sign.fields,
                               headers={"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 200, response.content
        stale = client.post(sign.form_action, sign.fields,  # someone acted first: 409
                            headers={"Idempotency-Key": str(uuid.uuid4())})
    assert stale.status_code == 409
    assert Incident.objects.get(number=west["dispatched"].number).state == wf.IN_PROGRESS


def test_a_handler_sees_what_to_sign_and_to_handle(client, west):
    cast = west["cast"]
    home, _html = page(client, cast.handler)
    assert list(home.lists) == ["sign", "handle"]
    (sign,) = home.lists["sign"]
    assert sign.number == west["dispatched"].number
    assert sign.form_action == f"/api/v1/incidents/{sign.number}/sign" and sign.outbox
    assert sign.fields == {"version": str(west["dispatched"].version)}
    assert set(numbers(home, "handle")) == {west["working"].number, west["asking"].number}
    assert all(not row.form_action for row in home.lists["handle"])  # result: photos, text
    home, html = page(client, cast.cgj_handler)  # another department
    assert home.lists == {"sign": [], "handle": []}
    assert "西街" not in html


def test_the_east_operator_sees_nothing_of_the_west(client, west):
    home, html = page(client, west["cast"].east_operator)
    assert numbers(home, "accept") == [west["east"].number]
    assert all(not home.lists[k] for k in ("dispatch", "extension"))
    for key in ("late", "registered", "dispatched", "working", "asking", "fresh"):
        assert west[key].number not in html
    assert "西街" not in html and "虎丘区" not in html


def test_a_viewer_gets_the_figures_and_the_overdue_list_without_action_forms(client, west):
    home, html = page(client, west["cast"].viewer)
    assert list(home.lists) == ["overdue"]
    assert west["late"].number in numbers(home, "overdue")
    assert west["fresh"].number not in numbers(home, "overdue")
    assert all(not row.form_action for row in home.lists["overdue"])
    assert "/api/v1/incidents" not in html
    assert home.kpis["open"] != ""


@pytest.mark.parametrize("who", ["town_operator", "viewer", "handler"])
def test_the_figures_are_the_command_centres(client, west, who):
    user = getattr(west["cast"], who)
    home, _html = page(client, user)
    with time_machine.travel(NOW, tick=False):
        kpis = client.get("/api/v1/command/summary").json()["kpis"]
    for key in ("open", "overdue", "near_due", "today_reported"):
        assert home.kpis[key] == str(kpis[key]), key
    for key in ("on_time_rate", "satisfaction"):
        expected = "—" if kpis[key] is None else f"{kpis[key] * 100:.0f}%"
        assert home.kpis[key] == expected


def test_the_home_shows_five_and_the_full_list_pages_the_rest(client, cast, monkeypatch):
    with time_machine.travel(BEFORE, tick=False):
        made = [report(cast, description=f"西街{n}号暴露垃圾") for n in range(7)]
    home, html = page(client, cast.town_operator)
    assert len(home.lists["accept"]) == manager.HOME_ROWS == 5
    assert '<a class="mg-more" href="/m/waiting/accept/">' in html  # 更多
    monkeypatch.setattr(manager, "PAGE_ROWS", 4)
    first, html = page(client, cast.town_operator, "/m/waiting/accept/")
    second, _ = page(client, cast.town_operator, "/m/waiting/accept/?page=2")
    assert numbers(first, "accept") + numbers(second, "accept") == [i.number for i in made]
    assert "第 1 / 2 页" in html and 'data-waiting="dispatch"' in html  # the other lists' tabs


def test_a_list_that_is_not_the_roles_is_not_found(client, west):
    cast = west["cast"]
    client.force_login(cast.handler)
    assert client.get("/m/waiting/accept/").status_code == 404
    assert client.get("/m/waiting/nonsense/").status_code == 404
    assert client.get("/m/waiting/").url == "/m/waiting/sign/"
    client.force_login(cast.viewer)
    assert client.get("/m/waiting/").url == "/m/waiting/overdue/"
    client.force_login(cast.worker)
    assert client.get("/m/waiting/accept/").url == "/m/"


def test_the_list_of_pending_extensions_is_the_desks_selector(west):
    scope = Scope.for_user(west["cast"].town_operator)
    waiting = selectors.incidents_list(scope=scope, pending_extension=True)
    assert [i.number for i in waiting] == [west["asking"].number]
    others = selectors.incidents_list(scope=scope, state=wf.IN_PROGRESS,
                                      pending_extension=False)
    assert [i.number for i in others] == [west["working"].number]


def test_patrols_today_count_the_territorys_walks_and_not_the_easts(client, west):
    cast = west["cast"]
    with time_machine.travel(at(2026, 3, 9, 8, 0), tick=False):
        patrol_start(actor=cast.worker, id=uuid.uuid4(), started_at=at(2026, 3, 9, 8, 0),
                     **WEST_POINT)
    with time_machine.travel(at(2026, 3, 8, 8, 0), tick=False):  # yesterday: not today's
        patrol_start(actor=cast.worker, id=uuid.uuid4(), started_at=at(2026, 3, 8, 8, 0))
    home, _html = page(client, cast.town_operator)
    assert home.kpis["patrols"] == "1"
    home, _html = page(client, cast.east_operator)
    assert home.kpis["patrols"] == "0"
    home, _html = page(client, cast.handler)
    assert "patrols" not in home.kpis


@pytest.mark.parametrize("who", ["town_operator", "viewer"])
def test_the_homes_queries_do_not_grow_with_its_rows(client, cast, who, monkeypatch):
    keep_memos(monkeypatch)
    client.force_login(getattr(cast, who))

    def queries() -> int:
        with time_machine.travel(NOW, tick=False):
            client.get("/m/")  # the memos filled
            with CaptureQueriesContext(connection) as done:
                assert client.get("/m/").status_code == 200
        return len(done.captured_queries)

    with time_machine.travel(BEFORE, tick=False):
        report(cast)
        incident_in(cast, wf.REGISTERED)
    few = queries()
    with time_machine.travel(BEFORE, tick=False):
        for _ in range(4):
            report(cast)
            incident_in(cast, wf.REGISTERED)
    assert queries() == few


def test_a_user_without_territory_sees_no_figures_and_nothing_waiting(client, west):
    home, html = page(client, west["cast"].nobody)
    assert home.kpis == {} and all(not rows for rows in home.lists.values())
    assert "西街" not in html
