"""The inbox, GET /api/v1/me/notifications: who is told what — a new incident
its holding centre's operators, a dispatch the department's members, a
supervision both — and POST /api/v1/me/notifications/read."""

from __future__ import annotations

import importlib

import pytest

from shanzhi.accounts.models import Role
from shanzhi.accounts.services import user_create
from shanzhi.cases.models import Notification
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
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
    told = Notification.objects.filter(user=cast.town_operator).values_list("number",
                                                                          flat=True)
    assert sorted(told) == sorted([first, second])


# ---------------------------------------------------------------- read in the reader's language

def test_a_notification_is_a_record_rendered_in_the_readers_language(api, cast, client):
    incident = incident_in(cast, wf.DISPATCHED)
    services.incident_return(actor=cast.handler, incident=incident, reason="非本部门职责")
    note = Notification.objects.get(user=cast.town_operator, kind="return")
    assert note.params["number"] == incident.number and note.params["reason"] == "非本部门职责"
    assert note.message == ""  # no sentence is stored: it is written when read

    def first(language: str | None) -> dict:
        headers = {**api.headers(cast.town_operator)}
        if language:
            headers["Accept-Language"] = language
        return client.get(INBOX, headers=headers).json()["items"][0]

    assert first("zh-hans")["message"] == f"{incident.number} 被退单：非本部门职责"
    assert first(None)["message"] == f"{incident.number} 被退单：非本部门职责"
    assert first("en")["message"] == f"{incident.number} was returned: 非本部门职责"
    assert first("en")["params"]["reason"] == "非本部门职责"


def test_a_sweep_notification_names_its_stage_in_the_readers_language(cast):
    from django.utils import translation

    note = Notification(user=cast.town_operator, kind="overdue", case_type="incident",
                        params={"number": "SJ2026030200000001", "stage": "handle"})
    with translation.override("zh-hans"):
        assert note.text == "SJ2026030200000001 已超期（处置）"
    with translation.override("en"):
        assert note.text == "SJ2026030200000001 is overdue (handling)"


def test_an_extension_request_names_its_unit_in_the_readers_language(cast):
    from django.utils import translation

    incident = incident_in(cast, wf.IN_PROGRESS)
    services.incident_request_extension(actor=cast.handler, incident=incident, reason="材料未到",
                                        amount=2, unit="working_days")
    note = Notification.objects.get(user=cast.town_operator, kind="request_extension")
    with translation.override("zh-hans"):
        assert note.text == f"{incident.number} 申请延期 2 工作日"
    with translation.override("en"):
        assert note.text == f"{incident.number} asks for an extension of 2 working days"


# ---------------------------------------------------------------- rows written before

MIGRATION = importlib.import_module("shanzhi.incidents.migrations.0005_notification_records")


@pytest.mark.parametrize(("kind", "sentence", "params"), [
    ("new", "新事件 SJ2026030200000001：路边有暴露垃圾",
     {"number": "SJ2026030200000001", "description": "路边有暴露垃圾"}),
    ("escalate", "SJ2026030200000001 上报至虎丘区：超出权限",
     {"number": "SJ2026030200000001", "centre": "虎丘区", "reason": "超出权限"}),
    ("request_extension", "SJ2026030200000001 申请延期 1.5 working_days",
     {"number": "SJ2026030200000001", "amount": 1.5, "unit": "working_days"}),
    ("overdue", "SJ2026030200000001 已超期（核查）",
     {"number": "SJ2026030200000001", "stage": "verify"}),
    ("verify_pass", "SJ2026030200000001 核查通过，已结案", {"number": "SJ2026030200000001"}),
])
def test_the_migration_reads_an_old_sentence_back_into_its_record(kind, sentence, params):
    assert MIGRATION.parse(kind, sentence) == params


def test_an_old_sentence_that_does_not_read_back_is_kept_as_it_was(cast):
    from django.utils import translation

    assert MIGRATION.parse("supervise", "请尽快处理") is None
    note = Notification.objects.create(user=cast.town_operator, kind="supervise",
                                       message="请尽快处理")
    with translation.override("en"):
        assert note.text == "请尽快处理"
