"""Territory: an out-of-territory persona gets nothing of a west incident on
any endpoint — 404 on the incident, its timeline and every action, nothing in
the list under any filter, nothing in the inbox. A handler sees what was sent
to their department, a grid worker their grids. Contact details are masked
except for operators, and every unmasked view is logged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shanzhi.core.models import AccessLog
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, TimelineEntry
from shanzhi.incidents.workflow import INCIDENT
from tests.incidents.conftest import CGJ, ZJJ, at, drive, incident_in, report

OUTSIDERS = ["east_operator", "neighbour_worker", "cgj_handler", "nobody"]
CONTACT = {"contact_name": "张三", "contact_phone": "13812345678"}
BODIES = {"reject": {"reason": "x"}, "merge": {"original": "SJ1"}, "self_resolve": {"result": "x"},
          "assign_down": {"region": "320505001001"}, "dispatch": {"department": ZJJ},
          "escalate": {"reason": "x"}, "return": {"reason": "x"},
          "report_result": {"result": "x"}, "verify_fail": {"reason": "x"},
          "request_extension": {"reason": "x", "amount": 1},
          "refuse_extension": {"reason": "x"}, "supervise": {"note": "x"},
          "callback": {"satisfaction": "satisfied"}, "reopen": {"reason": "x"}}


@pytest.fixture
def west_incident(cast) -> Incident:
    """Dispatched to ZJJ and signed for, supervised once: everyone inside has
    been told something about it."""
    incident = incident_in(cast, wf.IN_PROGRESS, **CONTACT)
    return services.incident_supervise(actor=cast.town_operator, incident=incident,
                                       note="请加快")


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("suffix", ["", "/timeline"], ids=["detail", "timeline"])
def test_an_outsider_gets_404_for_the_incident_and_its_timeline(api, cast, west_incident, who,
                                                                suffix):
    for key in (west_incident.number, west_incident.pk):
        body = api.get(getattr(cast, who), f"/api/v1/incidents/{key}{suffix}", expect=404)
        assert body["error"]["code"] == "not_found"
        assert west_incident.description not in str(body)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_an_outsider_gets_404_for_every_action(api, cast, west_incident, who):
    version = west_incident.version
    for t in INCIDENT.transitions:
        body = api.act(getattr(cast, who), west_incident.number, t.action, expect=404,
                       **BODIES.get(t.action, {}))
        assert body["error"]["code"] == "not_found", t.action
    assert Incident.objects.get(pk=west_incident.pk).version == version


FILTERS = ["", "state=in_progress", "state=reported,registered,dispatched,in_progress",
           "channel=grid_patrol", "category=SJ0102", "category=SJ01", "light=green",
           "light=yellow", "light=red", "q=垃圾", "region=320505", "region=320505001001",
           "limit=500"]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_an_outsider_sees_nothing_in_the_list_under_any_filter(api, cast, west_incident, who):
    insider = {f: api.get(cast.west_operator, f"/api/v1/incidents?{f}") for f in FILTERS}
    for query in [*FILTERS, f"q={west_incident.number}"]:
        response = api.client.get(f"/api/v1/incidents?{query}",
                                  headers=api.headers(getattr(cast, who)))
        assert west_incident.number not in response.content.decode(), query
        if response.status_code == 404:  # a region outside the territory
            assert query.startswith("region=")
        else:
            assert response.status_code == 200 and response.json()["count"] == 0, query
    assert all(west_incident.number in str(body) for f, body in insider.items()
               if not f.startswith("light=") or f == "light=green"), "the filters match inside"


@pytest.mark.parametrize("who", OUTSIDERS)
def test_an_outsider_is_told_nothing_about_it(api, cast, west_incident, who):
    for insider in (cast.town_operator, cast.handler):
        inbox = api.get(insider, "/api/v1/me/notifications")
        assert west_incident.number in {n["incident"] for n in inbox["items"]}
    inbox = api.get(getattr(cast, who), "/api/v1/me/notifications")
    assert west_incident.number not in str(inbox)


def test_a_merge_into_an_incident_outside_the_territory_is_refused_as_unknown(api, cast):
    west = incident_in(cast, wf.REPORTED)
    east = report(cast, actor=cast.east_operator, lng=120.035, lat=31.005)
    body = api.act(cast.town_operator, west.number, "merge", expect=400, original=east.number)
    assert body["error"]["field"] == "original"
    assert east.description not in body["error"]["message"]


# ---------------------------------------------------------------- what each role sees

def listed(api, user, query: str = "") -> set[str]:
    return {i["number"] for i in api.get(user, f"/api/v1/incidents?{query}")["items"]}


def test_a_handler_sees_only_what_was_sent_to_their_department(api, cast):
    to_zjj = incident_in(cast, wf.DISPATCHED)
    to_cgj = drive(cast, report(cast), wf.DISPATCHED, department=CGJ)
    registered = incident_in(cast, wf.REGISTERED)
    assert listed(api, cast.handler) == {to_zjj.number}
    assert listed(api, cast.cgj_handler) == {to_cgj.number}
    api.get(cast.handler, f"/api/v1/incidents/{to_cgj.number}", expect=404)
    api.get(cast.handler, f"/api/v1/incidents/{registered.number}", expect=404)
    services.incident_return(actor=cast.handler, incident=to_zjj, reason="非本部门职责")
    assert listed(api, cast.handler) == set()  # returned: no longer sent to them


def test_a_grid_worker_sees_only_the_incidents_of_their_grids(api, cast):
    mine = report(cast)
    next_door = report(cast, actor=cast.neighbour_worker, lng=120.015, lat=31.015)
    no_grid = report(cast, actor=cast.town_operator, channel="hotline_12345", lng=None,
                     lat=None, region="320505001001", address="西社区")
    assert listed(api, cast.worker) == {mine.number}
    assert listed(api, cast.neighbour_worker) == {next_door.number}
    assert listed(api, cast.town_operator) == {mine.number, next_door.number, no_grid.number}
    api.get(cast.worker, f"/api/v1/incidents/{no_grid.number}", expect=404)


def test_a_viewer_sees_the_whole_city_but_may_not_act(api, cast):
    west = incident_in(cast, wf.REGISTERED)
    east = report(cast, actor=cast.east_operator, lng=120.035, lat=31.005)
    assert listed(api, cast.viewer) == {west.number, east.number}
    assert api.get(cast.viewer, f"/api/v1/incidents/{west.number}")["actions"] == []
    api.act(cast.viewer, west.number, "supervise", expect=403, note="x")


# ---------------------------------------------------------------- personal data

@pytest.mark.parametrize("who", ["handler", "worker", "viewer"])
def test_contact_details_are_masked_for_handlers_grid_workers_and_viewers(api, cast,
                                                                         west_incident, who):
    logged = AccessLog.objects.count()
    detail = api.get(getattr(cast, who), f"/api/v1/incidents/{west_incident.number}")
    assert detail["contact"] == {"name": "张*", "phone": "138****5678", "masked": True}
    assert "13812345678" not in str(detail)
    assert AccessLog.objects.count() == logged


@pytest.mark.parametrize("who", ["town_operator", "west_operator", "admin"])
def test_operators_see_contact_details_on_request_with_a_reason_and_each_view_is_logged(
        api, cast, west_incident, who):
    user = getattr(cast, who)
    logged = AccessLog.objects.count()
    detail = api.get(user, f"/api/v1/incidents/{west_incident.number}")
    assert detail["contact"] == {"name": "张*", "phone": "138****5678", "masked": True}
    assert "13812345678" not in str(detail)
    assert AccessLog.objects.count() == logged  # the detail alone reveals nothing
    for _ in range(2):
        contact = api.act(user, west_incident.number, "contact", reason="回访核实诉求")
        assert contact == {"name": "张三", "phone": "13812345678", "masked": False}
    entries = AccessLog.objects.order_by("-id")[:2]
    assert AccessLog.objects.count() == logged + 2
    assert {(e.user, e.action, e.object_type, e.object_id, e.fields, e.reason, e.address)
            for e in entries} == {
        (user, "view", "incidents.incident", str(west_incident.pk),
         "contact_name,contact_phone", "回访核实诉求", "127.0.0.1")}


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 201])
def test_revealing_a_contact_needs_a_reason_of_1_to_200_characters(api, cast, west_incident,
                                                                    reason):
    fields = {} if reason is None else {"reason": reason}
    body = api.act(cast.town_operator, west_incident.number, "contact", expect=400, **fields)
    assert body["error"]["field"] == "reason"
    assert AccessLog.objects.count() == 0


@pytest.mark.parametrize("who", ["handler", "worker", "viewer"])
def test_a_role_that_sees_contacts_masked_gets_403_when_it_asks_for_one(api, cast,
                                                                         west_incident, who):
    body = api.act(getattr(cast, who), west_incident.number, "contact", expect=403,
                   reason="想看看")
    assert body["error"]["code"] == "forbidden"
    assert "13812345678" not in str(body)
    assert AccessLog.objects.count() == 0


@pytest.mark.parametrize("who", OUTSIDERS)
def test_an_outsider_gets_404_for_the_contact(api, cast, west_incident, who):
    body = api.act(getattr(cast, who), west_incident.number, "contact", expect=404,
                   reason="回访")
    assert "13812345678" not in str(body)
    assert AccessLog.objects.count() == 0


def test_the_list_masks_contact_details_even_for_operators(api, cast, west_incident):
    logged = AccessLog.objects.count()
    (item,) = api.get(cast.town_operator, "/api/v1/incidents")["items"]
    assert item["contact"]["phone"] == "138****5678"
    assert AccessLog.objects.count() == logged


def test_the_timeline_carries_no_contact_details(api, cast, west_incident):
    timeline = api.get(cast.handler, f"/api/v1/incidents/{west_incident.number}/timeline")
    assert [e["action"] for e in timeline][:4] == ["report", "accept", "dispatch", "sign"]
    assert "13812345678" not in str(timeline) and "张三" not in str(timeline)
    assert len(timeline) == TimelineEntry.objects.filter(incident=west_incident).count()


# ---------------------------------------------------------------- cost of the list

def test_the_list_costs_as_many_queries_for_30_incidents_as_for_3(api, cast, memos_kept,
                                                                   time_machine):
    """Both lists are counted under the same memos and the same wall-clock
    minute: 27 reports taking longer than a memo's ttl or the token's
    ``TOUCH_EVERY`` on a slow machine must not change the count."""
    time_machine.move_to(at(2026, 3, 4, 10), tick=False)
    headers = api.headers(cast.town_operator)
    api.client.get("/api/v1/incidents", headers=headers)  # the token's first use is recorded

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as context:
            assert api.client.get("/api/v1/incidents", headers=headers).status_code == 200
        return len(context.captured_queries)

    for _ in range(3):
        drive(cast, report(cast), wf.DISPATCHED)
    few = queries_for_list()
    for _ in range(27):
        drive(cast, report(cast), wf.DISPATCHED)
    assert queries_for_list() == few
