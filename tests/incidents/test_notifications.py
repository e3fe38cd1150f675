"""The inbox, GET /api/v1/me/notifications: who is told what — a new incident
its holding centre's operators, a dispatch the department's members, a
supervision both — and POST /api/v1/me/notifications/read."""

from __future__ import annotations

from shanzhi.accounts.models import Role
from shanzhi.accounts.services import user_create
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Notification
from tests.incidents.conftest import incident_in, report

INBOX = "/api/v1/me/notifications"


def inbox(api, user, query: str = "") -> list[tuple[str, str]]:
    """(kind, incident number) of each notification, newest first."""
    return [(n["kind"], n["incident"]) for n in api.get(user, f"{INBOX}?{query}")["items"]]


def test_a_new_incident_tells_the_operators_of_its_holding_centre(api, cast):
    number = api.report(cast.worker)["number"]
    assert inbox(api, cast.town_operator) == [("new", number)]
    for user in (cast.worker, cast.west_operator, cast.east_operator, cast.handler):
        assert inbox(api, user) == []
    (item,) = api.get(cast.town_operator, INBOX)["items"]
    assert number in item["message"] and item["read_at"] is None


def test_the_reporter_is_not_told_of_their_own_report(api, cast):
    api.report(cast.town_operator, channel="hotline_12345")
    assert inbox(api, cast.town_operator) == []


def test_a_dispatch_tells_the_members_of_the_department(api, cast):
    incident = incident_in(cast, wf.DISPATCHED)
    assert inbox(api, cast.handler) == [("dispatch", incident.number)]
    assert inbox(api, cast.cgj_handler) == []


def test_a_supervision_tells_the_department_and_the_holding_centre(api, cast):
    incident = incident_in(cast, wf.IN_PROGRESS)
    services.incident_supervise(actor=cast.west_operator, incident=incident, note="请加快")
    assert ("supervise", incident.number) in inbox(api, cast.handler)
    assert ("supervise", incident.number) in inbox(api, cast.town_operator)
    assert inbox(api, cast.west_operator) == []


def test_a_reported_result_tells_the_centre_and_the_grid_workers_of_the_grid(api, cast):
    incident = incident_in(cast, wf.HANDLED)
    assert ("report_result", incident.number) in inbox(api, cast.worker)
    assert ("report_result", incident.number) in inbox(api, cast.town_operator)
    assert inbox(api, cast.neighbour_worker) == []


def test_a_returned_incident_tells_the_centre(api, cast):
    incident = incident_in(cast, wf.DISPATCHED)
    services.incident_return(actor=cast.handler, incident=incident, reason="非本部门职责")
    assert inbox(api, cast.town_operator)[0] == ("return", incident.number)


def test_reading_marks_only_the_given_notifications(api, cast):
    first, second = report(cast), report(cast)
    items = api.get(cast.town_operator, INBOX)["items"]
    assert [i["incident"] for i in items] == [second.number, first.number]
    newest = items[0]["id"]
    response = api.client.post(f"{INBOX}/read", {"ids": [newest]},
                               content_type="application/json",
                               headers=api.headers(cast.town_operator))
    assert response.json() == {"marked": 1}
    assert inbox(api, cast.town_operator, "unread=true") == [("new", first.number)]
    read = next(i for i in api.get(cast.town_operator, INBOX)["items"] if i["id"] == newest)
    assert read["read_at"] is not None


def test_reading_without_ids_marks_everything(api, cast):
    report(cast)
    report(cast)
    response = api.client.post(f"{INBOX}/read", headers=api.headers(cast.town_operator))
    assert response.json() == {"marked": 2}
    assert inbox(api, cast.town_operator, "unread=true") == []


def test_nobody_can_mark_someone_elses_notifications(api, cast):
    report(cast)
    theirs = list(Notification.objects.filter(user=cast.town_operator).values_list("id",
                                                                                   flat=True))
    response = api.client.post(f"{INBOX}/read", {"ids": theirs},
                               content_type="application/json",
                               headers=api.headers(cast.east_operator))
    assert response.json() == {"marked": 0}
    assert inbox(api, cast.town_operator, "unread=true") != []


def test_ids_that_are_not_a_list_of_numbers_are_400(api, cast):
    response = api.client.post(f"{INBOX}/read", {"ids": "all"},
                               content_type="application/json",
                               headers=api.headers(cast.town_operator))
    assert response.status_code == 400 and response.json()["error"]["field"] == "ids"


def test_the_inbox_pages_and_checks_its_limit(api, cast):
    for _ in range(3):
        report(cast)
    page = api.get(cast.town_operator, f"{INBOX}?limit=2&offset=2")
    assert (page["count"], len(page["items"])) == (3, 1)
    assert api.get(cast.town_operator, f"{INBOX}?limit=0", expect=400)["error"]["field"] == "limit"


def test_the_inbox_needs_a_login(client, cast):
    assert client.get(INBOX).status_code == 401


def test_an_operator_added_or_switched_off_later_is_told_or_not_at_once(api, cast):
    first = api.report(cast.worker)["number"]  # who works where is in memory now
    newcomer = user_create(username="newcomer", password="x" * 12, role=Role.OPERATOR,
                           region_code=cast.town_operator.region.code)
    second = api.report(cast.worker)["number"]
    cast.town_operator.is_active = False
    cast.town_operator.save()
    third = api.report(cast.worker)["number"]
    assert inbox(api, newcomer) == [("new", third), ("new", second)]
    told = Notification.objects.filter(user=cast.town_operator).values_list("incident__number",
                                                                          flat=True)
    assert sorted(told) == sorted([first, second])
