"""Every free text of a report or an action has a longest length, which the
services alone enforce (one constant per kind); a longer one is refused with
a message naming the field and the limit, on the API as a 400 with its field,
and never cut short in silence. The API's schema states the same numbers."""

from __future__ import annotations

import pytest
from django.utils import translation

from shanzhi.core.errors import ValidationError
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, TimelineEntry
from tests.incidents.conftest import incident_in, report

from .conftest import ZJJ

#: (the state it starts in, the action, its free-text field, the limit, its Chinese name)
ACTIONS = [
    (wf.REPORTED, "accept", "note", services.MAX_NOTE, "备注"),
    (wf.REPORTED, "reject", "reason", services.MAX_REASON, "原因"),
    (wf.REGISTERED, "dispatch", "note", services.MAX_NOTE, "备注"),
    (wf.DISPATCHED, "sign", "note", services.MAX_NOTE, "备注"),
    (wf.DISPATCHED, "return", "reason", services.MAX_REASON, "原因"),
    (wf.IN_PROGRESS, "report_result", "result", services.MAX_RESULT, "处置结果"),
    (wf.HANDLED, "verify_fail", "reason", services.MAX_REASON, "原因"),
]


def take(cast, incident: Incident, action: str, **fields) -> Incident:
    actor = cast.handler if action in ("sign", "return", "report_result") else cast.town_operator
    extra = {"department": ZJJ} if action == "dispatch" else {}
    return services.ACTIONS[action](actor=actor, incident=incident, **extra, **fields)


@pytest.mark.parametrize(("state", "action", "field", "limit", "name"), ACTIONS,
                         ids=[a[1] for a in ACTIONS])
def test_a_text_one_character_too_long_is_refused_and_nothing_changes(
        cast, state, action, field, limit, name):
    incident = incident_in(cast, state)
    entries = TimelineEntry.objects.count()
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        take(cast, incident, action, **{field: "长" * (limit + 1)})
    assert refused.value.field == field
    assert refused.value.message == (f"“{name}”最多 {limit} 个字，现有 {limit + 1} 个字，"
                                     "超出 1 个字。")
    incident.refresh_from_db()
    assert incident.state == state
    assert TimelineEntry.objects.count() == entries


@pytest.mark.parametrize(("state", "action", "field", "limit", "name"), ACTIONS,
                         ids=[a[1] for a in ACTIONS])
def test_a_text_of_exactly_the_limit_is_kept_whole(cast, state, action, field, limit, name):
    incident = take(cast, incident_in(cast, state), action, **{field: "长" * limit})
    entry = TimelineEntry.objects.filter(incident=incident, action=action).get()
    assert entry.data[field] == "长" * limit


def test_the_limits_are_one_per_kind():
    assert (services.MAX_NOTE, services.MAX_REASON, services.MAX_RESULT,
            services.MAX_DESCRIPTION) == (2000, 2000, 4000, 4000)
    assert {name: limit for name, (limit, _) in services.ACTION_TEXTS.items()} == {
        "note": 2000, "reason": 2000, "result": 4000}


def test_a_twenty_thousand_character_note_is_refused_on_the_api(api, cast):
    incident = report(cast)
    response = api.client.post(f"/api/v1/incidents/{incident.number}/accept",
                               {"note": "备" * 20_000}, content_type="application/json",
                               headers={**api.headers(cast.town_operator),
                                        "Accept-Language": "zh-hans"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "note"
    assert error["message"] == "“备注”最多 2000 个字，现有 20000 个字，超出 18000 个字。"
    incident.refresh_from_db()
    assert incident.state == wf.REPORTED


def test_the_api_speaks_english_when_asked(api, cast):
    incident = report(cast)
    response = api.client.post(f"/api/v1/incidents/{incident.number}/reject",
                               {"reason": "x" * 2001}, content_type="application/json",
                               headers={**api.headers(cast.town_operator),
                                        "Accept-Language": "en"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid", "field": "reason",
        "message": "“Reason” may be at most 2000 characters long: it has 2001, 1 too many."}


def test_a_description_over_4000_characters_is_refused_not_cut(api, cast):
    before = Incident.objects.count()
    body = api.report(cast.worker, expect=400, description="述" * 4500,
                      headers={"Accept-Language": "zh-hans"})
    assert body["error"]["field"] == "description"
    assert body["error"]["message"] == ("“事件描述”最多 4000 个字，现有 4500 个字，"
                                        "超出 500 个字。")
    assert Incident.objects.count() == before
    kept = api.report(cast.worker, description="述" * 4000)
    assert len(Incident.objects.get(number=kept["number"]).description) == 4000


def test_a_line_break_counts_once_as_the_browser_counts_it(cast):
    text = "行\r\n" * 1000  # 2,000 characters in the browser, 3,000 as sent
    incident = take(cast, incident_in(cast, wf.REPORTED), "accept", note=text)
    assert incident.state == wf.REGISTERED


def body_of(schema: dict, path: str) -> dict:
    post = schema["paths"][path]["post"]
    return post["requestBody"]["content"]["application/json"]["schema"]["properties"]


def test_the_schema_states_the_services_limits(client):
    schema = client.get("/api/v1/openapi.json").json()
    action = body_of(schema, "/api/v1/incidents/{incident_id}/{action}")
    assert (action["note"]["maxLength"], action["reason"]["maxLength"],
            action["result"]["maxLength"]) == (services.MAX_NOTE, services.MAX_REASON,
                                               services.MAX_RESULT)
    assert action["note"]["description"] == "at most 2,000 characters"
    report_body = body_of(schema, "/api/v1/incidents")
    assert report_body["description"]["maxLength"] == services.MAX_DESCRIPTION


def test_the_api_refuses_a_text_over_its_limit_even_one_the_action_does_not_use(api, cast):
    incident = report(cast)
    response = api.client.post(f"/api/v1/incidents/{incident.number}/accept",
                               {"result": "果" * 4001}, content_type="application/json",
                               headers=api.headers(cast.town_operator))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "result"
    incident.refresh_from_db()
    assert incident.state == wf.REPORTED
