"""Numbers, bounds, lengths and shapes an attacker tries on the API: each a
4xx in the one error format with nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from shanzhi.cases.models import IdempotencyKey, Notification
from shanzhi.core.input import MAX_ID, MAX_OFFSET
from shanzhi.incidents import services
from shanzhi.incidents.models import Incident
from tests.incidents.conftest import WEST_POINT, report

URL = "/api/v1/incidents"
LONG_KEY = "k" * (services.MAX_IDEMPOTENCY_KEY + 1)


def refused(response, status=400, field=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert {"code", "message", "field"} <= set(error)
    if field is not None:
        assert error["field"] == field
    return error


# ---------------------------------------------------------------- numbers and bounds

@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=-1", "limit"),
    ("limit=%D9%A1", "limit"), ("limit=%C2%B2", "limit"), ("limit=+5", "limit"),
    ("limit=1_0", "limit"), ("limit=%205", "limit"), ("offset=-1", "offset"),
    (f"offset={MAX_OFFSET + 1}", "offset"), (f"offset={MAX_ID + 1}", "offset"),
    ("light=purple", "light"), ("q=" + "x" * 101, "q"),
])
def test_a_list_takes_ascii_numbers_within_bounds_only(api, cast, query, field):
    response = api.client.get(f"{URL}?{query}", headers=api.headers(cast.town_operator))
    refused(response, field=field)


def test_the_deepest_page_is_allowed_and_empty(api, cast):
    page = api.get(cast.town_operator, f"{URL}?offset={MAX_OFFSET}&limit=500")
    assert (page["offset"], page["items"]) == (MAX_OFFSET, [])


def test_the_inbox_takes_the_same_bounds(api, cast):
    response = api.client.get("/api/v1/me/notifications?limit=١٠",
                              headers=api.headers(cast.town_operator))
    refused(response, field="limit")


@pytest.mark.parametrize("ids", [[MAX_ID + 1], [0], ["1"], "all", [1.5], [True]])
def test_marking_notifications_read_takes_real_ids_only(api, cast, ids):
    report(cast)
    unread = Notification.objects.filter(read_at__isnull=True).count()
    response = api.client.post("/api/v1/me/notifications/read", {"ids": ids},
                               content_type="application/json",
                               headers=api.headers(cast.town_operator))
    assert refused(response)["field"].startswith("ids")
    assert Notification.objects.filter(read_at__isnull=True).count() == unread


@pytest.mark.parametrize("path", [f"attachments/{MAX_ID + 1}", "attachments/0",
                                  "attachments/%D9%A1"])
def test_an_attachment_id_is_an_ascii_id(api, cast, path):
    incident = report(cast)
    response = api.client.get(f"{URL}/{incident.number}/{path}",
                              headers=api.headers(cast.town_operator))
    assert response.status_code in (400, 404)
    assert "error" in response.json()


@pytest.mark.parametrize("version", [2**31, MAX_ID + 1, -1, "NaN"])
def test_an_action_with_an_impossible_version_is_400_and_the_state_stays(api, cast, version):
    incident = report(cast)
    body = f'{{"version": {version}}}'
    response = api.client.post(f"{URL}/{incident.number}/accept", body,
                               content_type="application/json",
                               headers=api.headers(cast.town_operator))
    refused(response, field="version")
    incident.refresh_from_db()
    assert (incident.state, incident.version) == ("reported", 1)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_amount_is_400(api, cast, amount):
    incident = report(cast)
    response = api.client.post(f"{URL}/{incident.number}/request_extension",
                               f'{{"reason": "x", "amount": {amount}}}',
                               content_type="application/json",
                               headers=api.headers(cast.town_operator))
    assert response.status_code == 400, response.content
    incident.refresh_from_db()
    assert incident.pending_extension is None


def test_an_unknown_action_is_400_naming_it(api, cast):
    incident = report(cast)
    response = api.client.post(f"{URL}/{incident.number}/explode", {},
                               content_type="application/json",
                               headers=api.headers(cast.town_operator))
    refused(response, field="action")


@pytest.mark.parametrize("zoom", ["-1", "25", "٣", "1e3"])
def test_a_map_zoom_is_a_small_ascii_number(api, cast, territory, zoom):
    response = api.client.get(f"/api/v1/geo/regions/320505/grids.geojson?zoom={zoom}",
                              headers=api.headers(cast.town_operator))
    refused(response, field="zoom")


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59+08:00",
                                   "0001-01-01T00:00:00-12:00", "1999-12-31T23:59:59+08:00",
                                   "2100-01-01T00:00:00+08:00"])
def test_the_calendar_computes_only_in_its_years(api, cast, start):
    for unit in ("working_days", "working_hours", "natural_hours"):
        response = api.client.get("/api/v1/calendar/due", {"start": start, "amount": "1",
                                                           "unit": unit},
                                  headers=api.headers(cast.town_operator))
        error = refused(response, field="start")
        assert "2000–2099" in error["message"]


def test_the_calendar_computes_at_the_edges_of_its_years(api, cast):
    answer = api.get(cast.town_operator, "/api/v1/calendar/due?start=2099-12-31T09:00:00"
                     "%2B08:00&amount=1&unit=natural_hours")
    assert answer["due"].startswith("2099-12-31T10:00:00")


# ---------------------------------------------------------------- lengths and shapes

def test_an_idempotency_key_over_200_characters_is_400_and_nothing_written(api, cast):
    before = Incident.objects.count()
    response = api.client.post(URL, {"channel": "grid_patrol", "description": "路边垃圾",
                                     "category": "SJ0102", **WEST_POINT},
                               content_type="application/json",
                               headers={**api.headers(cast.worker), "Idempotency-Key": LONG_KEY})
    refused(response, field="Idempotency-Key")
    assert Incident.objects.count() == before
    assert not IdempotencyKey.objects.exists()


def test_the_service_refuses_a_long_idempotency_key_too(cast):
    from shanzhi.core.errors import ValidationError

    with pytest.raises(ValidationError) as refusal:
        report(cast, idempotency_key=LONG_KEY)
    assert refusal.value.field == "Idempotency-Key"
    assert not Incident.objects.exists()


@pytest.fixture
def camera(cast):
    return services.device_create(device_id="cam-0001", name="西街道路口摄像头", channel="video",
                                  category="SJ0102", **WEST_POINT)


def alert(client, token, body):
    return client.post("/api/v1/intake/devices/cam-0001/alerts", body,
                       content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(("body", "field"), [
    ({"event_id": LONG_KEY}, "event_id"),
    ({"event_id": "e1", "extra": ["not", "an", "object"]}, "extra"),
    ({"event_id": "e1", "extra": "red"}, "extra"),
    ({"event_id": "e1", "extra": 5}, "extra"),
    ({"event_id": "e1", "lng": {"x": 1}}, "lng"),
    ({"event_id": "e1", "lat": [31]}, "lat"),
    ({"event_id": "e1", "description": {"a": 1}}, "description"),
    ({"event_id": ["e1"]}, "event_id"),
    ({"event_id": ""}, "event_id"),
    ({"event_id": "e1", "colour": "red"}, "colour"),
], ids=["event-id-too-long", "extra-a-list", "extra-a-string", "extra-a-number", "lng-object",
        "lat-list", "description-object", "event-id-list", "event-id-empty", "unknown-field"])
def test_a_device_alert_of_the_wrong_shape_is_400_and_writes_nothing(client, camera, body,
                                                                     field):
    _device, token = camera
    refused(alert(client, token, body), field=field)
    assert not Incident.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_a_device_alert_with_a_numeric_event_id_is_still_taken(client, camera):
    _device, token = camera
    assert alert(client, token, {"event_id": 42}).status_code == 201
