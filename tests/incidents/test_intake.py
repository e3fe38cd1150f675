"""Intake: every channel through POST /api/v1/incidents, the device webhook,
coordinates in GCJ-02 and BD-09, photos, idempotent retries, an earlier
reported_at, and every kind of bad input — each a 400 in the one error format
with nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from shanzhi.geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from shanzhi.incidents import services
from shanzhi.incidents.models import Attachment, Incident, IncidentStage, TimelineEntry
from tests.incidents.conftest import WEST_POINT, at, counts

URL = "/api/v1/incidents"

def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 90, 60)).save(out, format="JPEG")
    return out.getvalue()


JPEG = _jpeg()  # a real one: photos are decoded and encoded again (tests/incidents/test_uploads.py)
WEST_GRID_1 = "320505001001001"


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------- channels


@pytest.mark.parametrize(("channel", "who"), [
    ("grid_patrol", "viewer"), ("hotline_12345", "worker"), ("citizen_web", "viewer"),
    ("department", "worker"), ("iot", "west_operator"), ("video", "admin")])
def test_a_role_may_report_only_through_its_own_channels(api, cast, channel, who):
    before = Incident.objects.count()
    response = api.client.post(URL, {"channel": channel, "description": "x", **WEST_POINT},
                               content_type="application/json",
                               headers=api.headers(getattr(cast, who)))
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "channel"
    assert Incident.objects.count() == before

CHANNELS = [
    pytest.param("grid_patrol", "worker", WEST_POINT, WEST_GRID_1, id="grid_patrol"),
    pytest.param("hotline_12345", "town_operator",
                 {"address": "西街道西社区 88 号门口", "region": "320505001001"}, None,
                 id="hotline_12345-address-and-region"),
    pytest.param("citizen_web", "admin", WEST_POINT, WEST_GRID_1, id="citizen_web"),
    pytest.param("open311", "west_operator", WEST_POINT, WEST_GRID_1, id="open311"),
    pytest.param("department", "handler", WEST_POINT, WEST_GRID_1, id="department"),
]


@pytest.mark.parametrize(("channel", "who", "place", "grid"), CHANNELS)
def test_every_channel_reports_through_one_endpoint(api, cast, territory, channel, who, place,
                                                    grid):
    reporter = getattr(cast, who)
    body = {"channel": channel, "description": "路边有暴露垃圾", "category": "SJ0102",
            "contact_name": "张三", "contact_phone": "13812345678", **place}
    response = api.client.post(URL, body, content_type="application/json",
                               headers=api.headers(reporter))
    assert response.status_code == 201, response.content
    out = response.json()
    assert out["state"] == "reported" and out["channel"] == channel
    assert out["holder"]["code"] == territory.west_town.code
    assert (out["grid"] or {}).get("code") == grid
    incident = Incident.objects.get(number=out["number"])
    assert incident.reporter == reporter and incident.stage == "accept" and incident.due_at
    if "region" in place:
        assert incident.lng is None and incident.region == territory.west_community
        assert incident.address == place["address"]
    (entry,) = TimelineEntry.objects.filter(incident=incident)
    assert (entry.action, entry.from_state, entry.to_state) == ("report", "", "reported")
    assert entry.data["channel"] == channel and entry.data["located"]["grid"] == grid


# ---------------------------------------------------------------- devices

@pytest.fixture
def camera(cast):
    return services.device_create(device_id="cam-0001", name="西街道路口摄像头", channel="video",
                                  category="SJ0102", **WEST_POINT)


def alert(client, token, event_id="evt-1", **fields):
    return client.post("/api/v1/intake/devices/cam-0001/alerts",
                       {"event_id": event_id, "description": "识别到暴露垃圾", **fields},
                       content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"} if token else {})


def test_a_device_alert_becomes_an_incident_in_the_devices_grid(client, camera):
    device, token = camera
    response = alert(client, token)
    assert response.status_code == 201, response.content
    assert response.json()["grid"] == WEST_GRID_1
    incident = Incident.objects.get(number=response.json()["number"])
    assert (incident.channel, incident.device, incident.reporter) == ("video", device, None)


def test_a_retried_device_alert_returns_the_same_incident(client, camera):
    _device, token = camera
    first = alert(client, token)
    again = alert(client, token)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("token", ["dv_wrong", ""], ids=["wrong-token", "no-token"])
def test_a_device_alert_with_a_wrong_token_is_401_and_writes_nothing(client, camera, token):
    before = counts()
    response = alert(client, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert counts() == before


def test_an_alert_that_occurred_over_30_days_ago_is_refused_every_time(client, camera):
    _device, token = camera
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=40)).isoformat()
    for _ in range(2):
        response = alert(client, token, occurred_at=long_ago)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "occurred_at"


def test_an_alert_for_an_unknown_device_is_401(client, camera):
    _device, token = camera
    response = client.post("/api/v1/intake/devices/cam-9999/alerts", {"event_id": "e"},
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


# ---------------------------------------------------------------- coordinates

#: A WGS-84 point in west grid 001 whose GCJ-02 and BD-09 readings, taken as
#: WGS-84, would fall in grids 004 and 002: only a real conversion finds 001.
NEAR_EDGE = (120.008, 31.011)


@pytest.mark.parametrize(("crs", "convert"), [("gcj02", wgs84_to_gcj02),
                                              ("bd09", wgs84_to_bd09)])
def test_a_gcj02_or_bd09_point_lands_in_the_grid_of_its_wgs84_point(api, cast, crs, convert):
    wgs = api.report(cast.worker, lng=NEAR_EDGE[0], lat=NEAR_EDGE[1])
    lng, lat = convert(*NEAR_EDGE)
    unconverted = api.report(cast.town_operator, lng=lng, lat=lat)  # outside the worker's grid
    converted = api.report(cast.worker, lng=lng, lat=lat, crs=crs)
    assert converted["grid"]["code"] == wgs["grid"]["code"] == WEST_GRID_1
    assert unconverted["grid"]["code"] != WEST_GRID_1
    assert converted["lng"] == pytest.approx(NEAR_EDGE[0], abs=1e-7)
    assert converted["lat"] == pytest.approx(NEAR_EDGE[1], abs=1e-7)


# ---------------------------------------------------------------- photos

def multipart(**fields):
    return {"channel": "grid_patrol", "description": "路边有暴露垃圾", "category": "SJ0102",
            "lng": str(WEST_POINT["lng"]), "lat": str(WEST_POINT["lat"]), **fields}


def test_a_photo_sent_as_multipart_is_stored_with_the_report(api, cast, settings):
    photo = SimpleUploadedFile("a.jpg", JPEG, content_type="image/jpeg")
    response = api.client.post(URL, multipart(photos=[photo]),
                               headers=api.headers(cast.worker))
    assert response.status_code == 201, response.content
    (attachment,) = Attachment.objects.all()
    assert attachment.incident.number == response.json()["number"]
    assert attachment.entry.action == "report"
    assert attachment.content_type == "image/jpeg"
    assert attachment.size == len(attachment.file.read())
    assert len(response.json()["attachments"]) == 1


@pytest.mark.parametrize(("goods", "field"), [(0, "photos[0]"), (1, "photos[1]")])
def test_a_text_file_named_jpg_is_400_on_its_field_and_nothing_is_written(api, cast, settings,
                                                                        goods, field):
    photos = [SimpleUploadedFile(f"{i}.jpg", JPEG, content_type="image/jpeg")
              for i in range(goods)]
    photos.append(SimpleUploadedFile("fake.jpg", b"just some text, not a picture",
                                     content_type="image/jpeg"))
    before = counts()
    response = api.client.post(URL, multipart(photos=photos), headers=api.headers(cast.worker))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert counts() == before
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_multipart_report_takes_its_extra_fields_as_json(api, cast):
    response = api.client.post(URL, multipart(category="BJ0101",
                                              extra='{"component_state": "damaged"}'),
                               headers=api.headers(cast.worker))
    assert response.status_code == 201, response.content
    assert response.json()["extra"] == {"component_state": "damaged"}


# ---------------------------------------------------------------- idempotent retries

def test_a_retry_with_the_same_key_and_body_returns_the_first_incident(api, cast):
    first = api.report(cast.worker, headers={"Idempotency-Key": "patrol-0001"})
    before = counts()
    again = api.report(cast.worker, expect=200, headers={"Idempotency-Key": "patrol-0001"})
    assert again["number"] == first["number"]
    assert counts() == before and Incident.objects.count() == 1


def test_the_same_key_with_another_body_is_422_and_writes_nothing(api, cast):
    first = api.report(cast.worker, headers={"Idempotency-Key": "patrol-0001"})
    before = counts()
    body = api.report(cast.worker, expect=422, headers={"Idempotency-Key": "patrol-0001"},
                      description="另一处垃圾")
    assert body["error"]["code"] == "idempotency_key_reused"
    assert body["error"]["details"]["incident"] == first["number"]
    assert counts() == before


def test_the_same_key_from_another_user_is_a_new_incident(api, cast):
    first = api.report(cast.worker, headers={"Idempotency-Key": "k-1"})
    other = api.report(cast.town_operator, headers={"Idempotency-Key": "k-1"})
    assert other["number"] != first["number"]
    assert Incident.objects.count() == 2


# ---------------------------------------------------------------- reported_at

@time_machine.travel(at(2026, 3, 10, 11, 0), tick=False)  # a Tuesday
def test_an_operator_may_enter_an_earlier_reported_at_and_the_deadline_counts_from_it(api,
                                                                                      cast):
    out = api.report(cast.town_operator, channel="hotline_12345",
                     reported_at="2026-03-10T09:30:00+08:00")
    assert instant(out["reported_at"]) == at(2026, 3, 10, 9, 30)
    assert instant(out["due_at"]) == at(2026, 3, 10, 10, 30)  # 1 working hour to accept
    stage = IncidentStage.objects.get(incident__number=out["number"])
    assert stage.started_at == at(2026, 3, 10, 9, 30)
    assert out["number"].startswith("SJ20260310")


@time_machine.travel(at(2026, 3, 10, 11, 0), tick=False)
@pytest.mark.parametrize(("who", "reported_at"), [
    pytest.param("worker", "2026-03-10T09:30:00+08:00", id="backdated-by-a-grid-worker"),
    pytest.param("town_operator", "2026-03-10T12:00:00+08:00", id="in-the-future"),
    pytest.param("town_operator", "2026-01-01T09:00:00+08:00", id="more-than-30-days-ago"),
    pytest.param("town_operator", "2026-03-10T09:30:00", id="without-an-offset"),
])
def test_a_reported_at_that_is_not_allowed_is_400(api, cast, who, reported_at):
    before = counts()
    body = api.report(getattr(cast, who), expect=400, reported_at=reported_at)
    assert body["error"]["field"] == "reported_at"
    assert counts() == before


# ---------------------------------------------------------------- bad input

BAD = [
    ("unknown-category", {"category": "SJ9999"}, "category"),
    ("a-class-instead-of-a-subclass", {"category": "SJ01"}, "category"),
    ("a-point-outside-the-city", {"lng": 121.5, "lat": 31.3}, "location"),
    ("lat-not-a-number", {"lat": "abc"}, "lat"),
    ("lng-out-of-range", {"lng": 200}, "lng"),
    ("lng-without-lat", {"lat": None}, "lat"),
    ("unknown-crs", {"crs": "epsg3857"}, "crs"),
    ("no-place-at-all", {"lng": None, "lat": None}, "location"),
    ("missing-description", {"description": None}, "description"),
    ("blank-description", {"description": "   "}, "description"),
    ("description-over-4000-characters", {"description": "垃" * 4001}, "description"),
    ("missing-required-extra-field", {"category": "BJ0101"}, "extra.component_state"),
    ("unknown-extra-field", {"extra": {"colour": "red"}}, "extra.colour"),
    ("extra-number-that-is-not", {"category": "SJ0301", "extra": {"people_involved": "many"}},
     "extra.people_involved"),
    ("extra-value-not-in-the-list",
     {"category": "BJ0101", "extra": {"component_state": "melted"}}, "extra.component_state"),
    ("extra-without-a-category", {"category": None, "extra": {"location_desc": "x"}}, "extra"),
    ("extra-not-an-object", {"extra": "red"}, "extra"),
    ("unknown-urgency", {"urgency": "whenever"}, "urgency"),
    ("unknown-channel", {"channel": "fax"}, "channel"),
    ("unknown-field-in-the-body", {"priority": "high"}, "priority"),
    ("unknown-region-for-an-address", {"lng": None, "lat": None, "region": "999999"},
     "region"),
]


@pytest.mark.parametrize(("changes", "field"),
                         [pytest.param(c, f, id=name) for name, c, f in BAD])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api, cast, changes, field):
    body = {"channel": "grid_patrol", "description": "路边有暴露垃圾", "category": "SJ0102",
            **WEST_POINT, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    before = counts()
    response = api.client.post(URL, body, content_type="application/json",
                               headers=api.headers(cast.worker))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(response.json()) == {"error"}
    assert {"code", "message", "field"} <= set(error) and error["message"]
    assert error["field"] == field
    assert counts() == before


def test_an_address_in_a_region_outside_the_reporters_territory_is_refused(api, cast,
                                                                           territory):
    before = counts()
    response = api.client.post(URL, {
        "channel": "hotline_12345", "description": "东边的路灯不亮", "address": "东街 1 号",
        "region": territory.east_community.code}, content_type="application/json",
        headers=api.headers(cast.town_operator))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == "region"
    assert counts() == before


def test_a_point_outside_the_reporters_territory_is_refused(api, cast):
    before = counts()
    response = api.client.post(URL, {
        "channel": "hotline_12345", "description": "西边的路灯不亮", **WEST_POINT},
        content_type="application/json", headers=api.headers(cast.east_operator))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == "location"
    assert counts() == before


def test_a_body_that_is_not_json_is_400_and_writes_nothing(api, cast):
    before = counts()
    response = api.client.post(URL, "channel=grid_patrol{", content_type="application/json",
                               headers=api.headers(cast.worker))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"
    assert counts() == before


def test_a_json_array_is_not_a_report(api, cast):
    response = api.client.post(URL, [1, 2], content_type="application/json",
                               headers=api.headers(cast.worker))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"


def test_an_unauthenticated_report_is_401_and_writes_nothing(client, cast):
    before = counts()
    response = client.post(URL, {"channel": "grid_patrol", "description": "x", **WEST_POINT},
                           content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert counts() == before
