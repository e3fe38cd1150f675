"""The case desk (受理/派遣台) and the department desk (处置台): scoped lists
narrowed by filters carried in the address, sorted, paginated; htmx gets the
results alone. The east district's operator sees nothing of the west."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shanzhi.accounts.models import User
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from tests.incidents.conftest import CGJ, EAST_POINT, at, drive, incident_in, keep_memos, report

from .pages import listed_numbers

HX = {"HX-Request": "true"}


def desk_page(client, user, query: str = "", url: str = "/incidents/", **headers) -> str:
    client.force_login(user)
    response = client.get(f"{url}?{query}" if query else url, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def west_and_east(cast):
    """Three west incidents (registered, dispatched to ZJJ, in progress at CGJ)
    and one in the east, reported by the east's operator."""
    registered = incident_in(cast, wf.REGISTERED, description="西街1号井盖缺失")
    dispatched = incident_in(cast, wf.DISPATCHED, description="西街2号路灯不亮")
    in_cgj = drive(cast, report(cast, description="西街3号水果摊占道"), wf.IN_PROGRESS,
                   department=CGJ)
    east, _ = services.incident_report(actor=cast.east_operator, channel="hotline_12345",
                                       description="东区噪音扰民", category="SJ0102",
                                       **EAST_POINT)
    return registered, dispatched, in_cgj, east


def test_the_case_desk_lists_every_incident_of_the_territory(client, cast, west_and_east):
    registered, dispatched, in_cgj, _east = west_and_east
    html = desk_page(client, cast.admin)
    assert set(listed_numbers(html)) == {i.number for i in west_and_east}
    assert "受理派遣台" in html and "共 4 件" in html
    html = desk_page(client, cast.town_operator)
    assert set(listed_numbers(html)) == {registered.number, dispatched.number, in_cgj.number}


def test_the_east_operator_lists_nothing_of_the_west(client, cast, west_and_east):
    html = desk_page(client, cast.east_operator)
    assert listed_numbers(html) == [west_and_east[3].number]
    for incident in west_and_east[:3]:
        assert incident.number not in html
        assert incident.description not in html
    assert "虎丘区" not in html  # not even among the filter's regions or departments


def test_a_region_outside_the_territory_is_an_error_and_selects_nothing(client, cast,
                                                                        west_and_east):
    html = desk_page(client, cast.east_operator, "region=320505")
    assert listed_numbers(html) == []
    assert "您的辖区内没有该区划" in html
    assert "虎丘区" not in html


@pytest.mark.parametrize(("query", "expected"), [
    ("state=registered", ["registered"]),
    ("state=dispatched,in_progress", ["dispatched", "in_cgj"]),
    ("department=320505-CGJ", ["in_cgj"]),
    ("channel=hotline_12345", ["east"]),
    ("region=320506", ["east"]),
    ("region=320505001001", ["registered", "dispatched", "in_cgj"]),
    ("category=SJ01", ["registered", "dispatched", "in_cgj", "east"]),
    ("category=SJ0201", []),
    ("q=路灯", ["dispatched"]),
    ("light=green", ["registered", "dispatched", "in_cgj", "east"]),
    ("light=red", []),
])
def test_each_filter_narrows_the_list(client, cast, west_and_east, query, expected):
    names = dict(zip(["registered", "dispatched", "in_cgj", "east"], west_and_east, strict=True))
    html = desk_page(client, cast.admin, query)
    assert sorted(listed_numbers(html)) == sorted(names[n].number for n in expected)


def test_the_reported_dates_select_whole_days_in_the_citys_time(client, cast):
    with time_machine.travel(at(2026, 3, 2, 23, 30), tick=False):  # a Monday night
        late = report(cast)
    with time_machine.travel(at(2026, 3, 3, 0, 30), tick=False):
        early = report(cast)
    with time_machine.travel(at(2026, 3, 4, 10), tick=False):
        assert listed_numbers(desk_page(client, cast.admin, "reported_from=2026-03-03")) == [
            early.number]
        assert listed_numbers(desk_page(client, cast.admin, "reported_to=2026-03-02")) == [
            late.number]
        # an end before the start is said to be wrong, and left out
        html = desk_page(client, cast.admin, "reported_from=2026-03-03&reported_to=2026-03-01")
        assert listed_numbers(html) == [early.number]
        assert "截止日期早于起始日期" in html


def test_the_light_filter_follows_the_deadlines(client, cast):
    with time_machine.travel(at(2026, 3, 2, 9), tick=False):
        incident = report(cast)  # acceptance within 1 working hour
    with time_machine.travel(at(2026, 3, 2, 11), tick=False):
        assert listed_numbers(desk_page(client, cast.admin, "light=red")) == [incident.number]
        assert listed_numbers(desk_page(client, cast.admin, "light=green")) == []


def test_sorting_by_a_column_and_back(client, cast):
    first, second, third = (report(cast) for _ in range(3))
    assert listed_numbers(desk_page(client, cast.admin)) == [third.number, second.number,
                                                             first.number]
    html = desk_page(client, cast.admin, "sort=number")
    assert listed_numbers(html) == [first.number, second.number, third.number]
    assert 'aria-sort="ascending"' in html
    assert "sort=-number" in html  # the header now sorts the other way
    assert listed_numbers(desk_page(client, cast.admin, "sort=-number")) == [
        third.number, second.number, first.number]


def test_sorting_by_deadline_puts_closed_incidents_last(client, cast):
    closed = incident_in(cast, wf.CLOSED)
    open_ = incident_in(cast, wf.REGISTERED)
    assert listed_numbers(desk_page(client, cast.admin, "sort=due_at")) == [
        open_.number, closed.number]


def test_an_unknown_sort_or_state_falls_back_and_says_so(client, cast):
    incident = report(cast)
    html = desk_page(client, cast.admin, "sort=password&state=lost")
    assert listed_numbers(html) == [incident.number]
    assert "未知状态：lost" in html


def test_the_list_is_paginated_and_its_links_keep_the_filters(client, cast):
    incidents = [report(cast) for _ in range(52)]
    html = desk_page(client, cast.admin, "state=reported")
    assert len(listed_numbers(html)) == 50
    assert "第 1 / 2 页" in html
    assert 'href="/incidents/?state=reported&amp;page=2"' in html
    html = desk_page(client, cast.admin, "state=reported&page=2")
    assert listed_numbers(html) == [incidents[1].number, incidents[0].number]
    html = desk_page(client, cast.admin, "state=reported&page=99")  # the last page
    assert len(listed_numbers(html)) == 2


def test_htmx_gets_the_results_alone_with_a_clean_address_to_show(client, cast):
    report(cast)
    client.force_login(cast.admin)
    response = client.get("/incidents/?q=&state=reported&light=&sort=-reported_at", headers=HX)
    html = response.content.decode()
    assert html.startswith('<div id="results"')
    assert "<header" not in html
    assert response["HX-Push-Url"] == "/incidents/?state=reported"
    assert 'href="/incidents/export.xlsx?state=reported"' in html
    # a history restore wants the whole page
    response = client.get("/incidents/?state=reported", headers={
        **HX, "HX-History-Restore-Request": "true"})
    assert "<header" in response.content.decode()


def test_the_list_costs_the_same_queries_for_few_rows_or_many(client, cast, monkeypatch):
    keep_memos(monkeypatch)  # however long the reports take, no memo looks again in between
    client.force_login(cast.admin)
    report(cast)
    client.get("/incidents/")  # warm the caches
    with CaptureQueriesContext(connection) as few:
        client.get("/incidents/")
    drive(cast, report(cast), wf.DISPATCHED)
    for _ in range(8):
        drive(cast, report(cast), wf.REGISTERED)
    with CaptureQueriesContext(connection) as many:
        client.get("/incidents/")
    assert len(many) == len(few)


def test_the_filter_offers_the_regions_and_departments_of_the_territory(client, cast):
    html = desk_page(client, cast.town_operator)
    assert '<option value="320505001">西街道</option>' in html
    assert '<option value="320505001001">\u3000西社区</option>' in html  # few: communities too
    assert 'value="320505-ZJJ"' in html and 'value="320505001-ZHZF"' in html
    assert "320506" not in html


# ---------------------------------------------------------------- the department desk

def test_the_department_desk_shows_what_was_sent_to_my_department(client, cast, west_and_east):
    registered, dispatched, in_cgj, east = west_and_east
    html = desk_page(client, cast.handler, url="/desk/")
    assert listed_numbers(html) == [dispatched.number]
    assert "处置台" in html and "虎丘区住建局" in html
    html = desk_page(client, cast.cgj_handler, url="/desk/")
    assert listed_numbers(html) == [in_cgj.number]
    for other in (registered, east):
        assert other.number not in html


def test_the_department_desk_tabs_count_by_state(client, cast):
    for state in (wf.DISPATCHED, wf.DISPATCHED, wf.IN_PROGRESS, wf.HANDLED):
        incident_in(cast, state)
    html = desk_page(client, cast.handler, url="/desk/")
    assert len(listed_numbers(html)) == 3  # to do: to sign and in progress
    tabs = dict(zip(
        ["待办", "待签收", "处置中", "待核查", "已结案", "全部"],
        [int(n) for n in re.findall(r'<span class="tab-count">(\d+)</span>', html)],
        strict=True))
    assert tabs == {"待办": 3, "待签收": 2, "处置中": 1, "待核查": 1, "已结案": 0, "全部": 4}
    assert len(listed_numbers(desk_page(client, cast.handler, "state=handled", "/desk/"))) == 1
    all_states = ",".join(wf.STATES)
    assert len(listed_numbers(desk_page(client, cast.handler, f"state={all_states}",
                                        "/desk/"))) == 4


def test_the_department_desk_answers_htmx_with_its_results(client, cast):
    incident_in(cast, wf.DISPATCHED)
    client.force_login(cast.handler)
    response = client.get("/desk/?state=dispatched", headers=HX)
    assert response.content.decode().startswith('<div id="results"')
    assert response["HX-Push-Url"] == "/desk/?state=dispatched"


def test_an_operator_is_sent_from_the_department_desk_to_the_case_desk(client, cast):
    client.force_login(cast.town_operator)
    response = client.get("/desk/")
    assert response.status_code == 302 and response["Location"] == "/incidents/"


def test_a_handler_without_department_sees_an_empty_desk(client, cast):
    lost = User.objects.create_user(username="lost", password="x" * 12, role="handler")
    incident_in(cast, wf.DISPATCHED)
    assert listed_numbers(desk_page(client, lost, url="/desk/")) == []


def test_the_desks_need_a_log_in(client, db):
    for url in ("/incidents/", "/desk/", "/incidents/export.xlsx", "/incidents/SJ1/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_a_grid_worker_lists_only_their_grids_incidents(client, cast):
    mine = report(cast)
    next_door = report(cast, actor=cast.neighbour_worker, lng=120.015, lat=31.015)  # grid 002
    html = desk_page(client, cast.worker)
    assert listed_numbers(html) == [mine.number]
    assert next_door.number not in html
    assert "事件" in html and "受理派遣台" not in html


def test_the_reported_time_is_shown_in_the_citys_time(client, cast):
    with time_machine.travel(dt.datetime(2026, 3, 2, 1, 5, tzinfo=dt.UTC), tick=False):
        report(cast)
        html = desk_page(client, cast.admin)
    assert "2026-03-02 09:05" in html
