"""The patrol API as the phone's outbox uses it: status codes of first sends
and retries, the one error format naming the field, and scope."""

from __future__ import annotations

import datetime as dt

import pytest

from shanzhi.patrols.models import CheckIn, Patrol

from .conftest import EAST_004, TUESDAY, WEST_001, new_id

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def call(client, bearer):
    tokens: dict = {}

    def send(user, method, url, body=None, expect=200, **kwargs):
        if user.username not in tokens:
            tokens[user.username] = bearer(user)
        if method == "get":
            response = client.get(url, headers=tokens[user.username])
        elif kwargs.get("multipart"):
            response = client.post(url, body, headers=tokens[user.username])
        else:
            response = client.post(url, body, content_type="application/json",
                                   headers=tokens[user.username])
        assert response.status_code == expect, response.content
        return response.json() if response.get("Content-Type", "").startswith(
            "application/json") else response
    return send


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def started(call, user, patrol_id=None, expect=201, **fields):
    body = {"id": str(patrol_id or new_id()), "started_at": iso(TUESDAY - 30 * MINUTE),
            **WEST_001, "crs": "wgs84", **fields}
    return call(user, "post", "/api/v1/patrols", body, expect=expect)


def test_a_patrol_from_start_to_stop(call, personas, frozen, jpeg):
    patrol = started(call, personas.worker)
    assert patrol["running"] and patrol["points"] == 1
    assert patrol["grid"]["code"] == "320505001001001"
    url = f"/api/v1/patrols/{patrol['id']}"
    points = {"points": [{"at": iso(TUESDAY - (29 - i) * MINUTE), "lng": 120.005 + i * 1e-4,
                          "lat": 31.015, "accuracy": 8} for i in range(5)], "crs": "wgs84"}
    call(personas.worker, "post", f"{url}/points", points)
    again = call(personas.worker, "post", f"{url}/points", points)
    assert again["points"] == 6 and again["distance_m"] > 0
    checkin = {"id": str(new_id()), "at": iso(TUESDAY - 20 * MINUTE), "lng": "120.0055",
               "lat": "31.015", "crs": "wgs84", "note": "路灯不亮", "photos": jpeg()}
    answer = call(personas.worker, "post", f"{url}/checkins", checkin, expect=201,
                  multipart=True)
    checkin["photos"] = jpeg()
    call(personas.worker, "post", f"{url}/checkins", checkin, expect=200, multipart=True)
    assert len(answer["checkins"]) == 1 and CheckIn.objects.count() == 1
    photo = answer["checkins"][0]["photos"][0]["url"]
    assert call(personas.worker, "get", photo).status_code == 200
    stopped = call(personas.worker, "post", f"{url}/stop", {"ended_at": iso(TUESDAY)})
    assert not stopped["running"] and stopped["duration_s"] == 30 * 60
    call(personas.worker, "post", f"{url}/stop", {"ended_at": iso(TUESDAY + MINUTE)})
    detail = call(personas.west_operator, "get", url)
    assert detail["track"]["type"] == "LineString"
    assert len(detail["track"]["coordinates"]) == len(detail["times"]) == 6
    assert detail["ended_at"] == stopped["ended_at"]


def test_a_retried_start_answers_200_with_the_same_patrol(call, personas, frozen):
    patrol_id = new_id()
    first = started(call, personas.worker, patrol_id)
    again = started(call, personas.worker, patrol_id, expect=200)
    assert first == again and Patrol.objects.count() == 1


def test_an_operator_may_not_start_a_patrol(call, personas, frozen):
    error = started(call, personas.west_operator, expect=403)["error"]
    assert error["code"] == "forbidden"


def test_a_start_outside_my_grids_names_the_location(call, personas, frozen):
    error = started(call, personas.worker, expect=400, **EAST_004)["error"]
    assert error["field"] == "location"


def test_a_future_point_is_refused_naming_it(call, personas, frozen):
    patrol = started(call, personas.worker)
    error = call(personas.worker, "post", f"/api/v1/patrols/{patrol['id']}/points",
                 {"points": [{"at": iso(TUESDAY + 30 * MINUTE), "lng": 120.005,
                              "lat": 31.015}]}, expect=400)["error"]
    assert error["field"] == "points[0].at" and error["code"] == "invalid"


def test_more_than_500_points_at_once_are_refused(call, personas, frozen):
    patrol = started(call, personas.worker)
    body = {"points": [{"at": iso(TUESDAY - 29 * MINUTE), "lng": 120.005, "lat": 31.015}] * 501}
    error = call(personas.worker, "post", f"/api/v1/patrols/{patrol['id']}/points", body,
                 expect=400)["error"]
    assert error["field"] == "points"


def test_unknown_fields_are_refused(call, personas, frozen):
    error = started(call, personas.worker, expect=400, speed=3)["error"]
    assert error["field"] == "speed"


def test_another_workers_patrol_is_404_and_its_id_409(call, personas, part_timer, frozen):
    patrol = started(call, personas.worker)
    url = f"/api/v1/patrols/{patrol['id']}"
    call(part_timer, "post", f"{url}/stop", {"ended_at": iso(TUESDAY)}, expect=404)
    call(part_timer, "get", url, expect=404)
    error = started(call, part_timer, patrol["id"], expect=409, lng=120.015)["error"]
    assert error["code"] == "conflict" and error["field"] == "id"


def test_the_outsider_sees_nothing(call, personas, frozen):
    patrol = started(call, personas.worker)
    assert call(personas.east_operator, "get", "/api/v1/patrols")["count"] == 0
    call(personas.east_operator, "get", f"/api/v1/patrols/{patrol['id']}", expect=404)
    listed = call(personas.west_operator, "get", f"/api/v1/patrols?day={TUESDAY.date()}")
    assert [p["id"] for p in listed["items"]] == [patrol["id"]]


def test_a_bad_day_and_a_bad_id_are_400(call, personas, frozen):
    call(personas.west_operator, "get", "/api/v1/patrols?day=20260310", expect=400)
    call(personas.west_operator, "get", "/api/v1/patrols/not-a-uuid", expect=400)
