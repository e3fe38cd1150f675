"""Every refusal a person reads is in the reader's language: the API answers
its messages in the language of ``Accept-Language`` (Chinese without one,
the city's language), while each error's ``code`` stays the same English word."""

from __future__ import annotations

import pytest

from shanzhi.incidents import workflow as wf
from tests.incidents.conftest import incident_in

#: (headers sent, the language the message must be in)
LANGUAGES = [({"Accept-Language": "zh-hans"}, "zh"), ({}, "zh"), ({"Accept-Language": "en"}, "en")]


def _outside_every_city(api, cast, headers):
    return api.client.post("/api/v1/incidents", {
        "channel": "grid_patrol", "description": "路边有暴露垃圾", "lng": 121.5, "lat": 31.2},
        content_type="application/json", headers={**api.headers(cast.worker), **headers}), {}


def _same_key_other_report(api, cast, headers):
    first = api.report(cast.worker, headers={"Idempotency-Key": "patrol-0001"})
    response = api.client.post("/api/v1/incidents", {
        "channel": "grid_patrol", "description": "另一处垃圾", "category": "SJ0102",
        "lng": 120.005, "lat": 31.015}, content_type="application/json",
        headers={**api.headers(cast.worker), "Idempotency-Key": "patrol-0001", **headers})
    return response, {"number": first["number"]}


def _no_such_incident(api, cast, headers):
    return api.client.get("/api/v1/incidents/SJ2099010100000001",
                          headers={**api.headers(cast.town_operator), **headers}), {}


def _no_extension_waiting(api, cast, headers):
    incident = incident_in(cast, wf.IN_PROGRESS)
    return api.client.post(f"/api/v1/incidents/{incident.number}/approve_extension", {},
                           content_type="application/json",
                           headers={**api.headers(cast.town_operator), **headers}), {}


def _reject_without_reason(api, cast, headers):
    incident = incident_in(cast, wf.REPORTED)
    return api.client.post(f"/api/v1/incidents/{incident.number}/reject", {},
                           content_type="application/json",
                           headers={**api.headers(cast.town_operator), **headers}), {}


def _accept_what_is_registered(api, cast, headers):
    incident = incident_in(cast, wf.REGISTERED)
    return api.client.post(f"/api/v1/incidents/{incident.number}/accept", {},
                           content_type="application/json",
                           headers={**api.headers(cast.town_operator), **headers}), {}


def _unknown_calendar_unit(api, cast, headers):
    return api.client.get("/api/v1/calendar/due?start=2026-02-13T10:00:00%2B08:00&amount=1"
                          "&unit=days", headers={**api.headers(cast.worker), **headers}), {}


def _locate_without_lat(api, cast, headers):
    return api.client.get("/api/v1/geo/locate?lng=120.005",
                          headers={**api.headers(cast.worker), **headers}), {}


#: refusal → (how to provoke it, status, code, the Chinese words, the English words)
REFUSALS = {
    "incidents: a point outside every city": (
        _outside_every_city, 400, "invalid", "不在本平台服务的任何城市内",
        "lies outside every city this platform serves"),
    "incidents: the same Idempotency-Key for another report": (
        _same_key_other_report, 422, "idempotency_key_reused", "已登记为 {number}",
        "already registered as {number}"),
    "incidents: an incident out of territory": (
        _no_such_incident, 404, "not_found", "您的辖区内没有事件 SJ2099010100000001",
        "No incident SJ2099010100000001 in your territory"),
    "incidents: an action its guard refuses": (
        _no_extension_waiting, 409, "invalid_state", "没有待审批的延期申请",
        "No extension request is waiting"),
    "incidents: an action without the field the table requires": (
        _reject_without_reason, 400, "invalid", "“不予受理”需要填写：原因。",
        "“Reject the report” needs: Reason."),
    "incidents: an action the state does not allow": (
        _accept_what_is_registered, 409, "invalid_state",
        "事件处于“已立案”状态，不能执行“受理立案”",
        "The action “Accept and register” is not possible on an incident that is Registered"),
    "core: an unknown unit of the working calendar": (
        _unknown_calendar_unit, 400, "invalid", "未知的 unit days", "Unknown unit days"),
    "geo: a point without its latitude": (
        _locate_without_lat, 400, "invalid", "缺少 lat 和 lng", "lat and lng are required"),
}


@pytest.mark.parametrize(("headers", "language"), LANGUAGES,
                         ids=["zh-hans", "no header", "en"])
@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refusal_is_told_in_the_readers_language_with_the_same_code(api, cast, refusal,
                                                                      headers, language):
    provoke, status, code, chinese, english = REFUSALS[refusal]
    response, names = provoke(api, cast, headers)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    expected, other = (chinese, english) if language == "zh" else (english, chinese)
    assert expected.format(**names) in error["message"]
    assert other.format(**names) not in error["message"]
