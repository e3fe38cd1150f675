"""The patrol writes: each idempotent, points de-duplicated by instant, the
distance measured, bad instants refused naming the field, and another
worker's patrol id answered as if it did not exist."""

from __future__ import annotations

import datetime as dt

import pytest

from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from shanzhi.patrols import services
from shanzhi.patrols.models import CheckIn, Patrol

from .conftest import EAST_004, TUESDAY, WEST_001, WEST_002, new_id

MINUTE = dt.timedelta(minutes=1)


def start(actor, patrol_id=None, **fields):
    fields = {"started_at": TUESDAY - 30 * MINUTE, **WEST_001, **fields}
    return services.patrol_start(actor=actor, id=patrol_id or new_id(), **fields)


def point(minutes: float, lng: float, lat: float, accuracy: float | None = 5.0) -> dict:
    return {"at": TUESDAY - 30 * MINUTE + dt.timedelta(minutes=minutes), "lng": lng,
            "lat": lat, "accuracy": accuracy}


def test_a_worker_starts_a_patrol_in_their_grid(personas, territory, frozen):
    patrol, created = start(personas.worker)
    assert created
    assert patrol.grid == territory.west_grids[0]
    assert patrol.path == territory.west_grids[0].path
    assert patrol.point_count == 1 and patrol.running


def test_starting_again_with_the_same_id_answers_the_same_patrol(personas, frozen):
    first, _ = start(personas.worker)
    again, created = start(personas.worker, patrol_id=first.pk,
                           started_at=TUESDAY - 10 * MINUTE)
    assert not created and again.pk == first.pk
    assert again.started_at == first.started_at
    assert Patrol.objects.count() == 1


def test_another_worker_cannot_take_a_patrol_id(personas, part_timer, frozen):
    first, _ = start(personas.worker)
    with pytest.raises(Conflict) as refused:
        start(part_timer, patrol_id=first.pk, **WEST_002)
    assert refused.value.field == "id"


def test_only_grid_workers_patrol(personas, frozen):
    with pytest.raises(PermissionDenied):
        start(personas.west_operator)


def test_a_start_outside_the_workers_grids_is_refused(personas, frozen):
    with pytest.raises(ValidationError) as refused:
        start(personas.worker, **EAST_004)
    assert refused.value.field == "location"


def test_a_start_in_the_future_is_refused_naming_the_field(personas, frozen):
    with pytest.raises(ValidationError) as refused:
        start(personas.worker, started_at=TUESDAY + 10 * MINUTE)
    assert refused.value.field == "started_at"


def test_a_naive_start_is_refused(personas, frozen):
    with pytest.raises(ValidationError) as refused:
        start(personas.worker, started_at=(TUESDAY - 60 * MINUTE).replace(tzinfo=None))
    assert refused.value.field == "started_at"


def test_gcj02_points_are_stored_in_wgs84(personas, frozen):
    from shanzhi.geo.crs import wgs84_to_gcj02

    lng, lat = wgs84_to_gcj02(120.005, 31.015)
    patrol, _ = start(personas.worker, lng=float(lng), lat=float(lat), crs="gcj02")
    assert patrol.grid_id is not None
    assert patrol.track[0][1] == pytest.approx(120.005, abs=1e-5)


def test_points_sent_twice_are_stored_once_and_kept_sorted(personas, frozen):
    patrol, _ = start(personas.worker)
    batch = [point(2, 120.006, 31.015), point(1, 120.0055, 31.015)]
    services.patrol_points(actor=personas.worker, patrol_id=patrol.pk, points=batch)
    patrol = services.patrol_points(actor=personas.worker, patrol_id=patrol.pk,
                                    points=[*batch, point(3, 120.0065, 31.015)])
    times = [p[0] for p in patrol.track]
    assert times == sorted(times) and len(times) == len(set(times)) == 4
    assert patrol.point_count == 4
    assert patrol.duration_s == 3 * 60


def test_the_distance_of_a_known_track(personas, frozen):
    patrol, _ = start(personas.worker, lng=120.001, lat=31.011)
    # 0.001° of latitude is 111.19 m on the mean earth sphere; the noisy point is kept, not counted
    patrol = services.patrol_points(actor=personas.worker, patrol_id=patrol.pk, points=[
        point(1, 120.001, 31.012), point(2, 120.009, 31.019, accuracy=250),
        point(3, 120.001, 31.013)])
    assert patrol.point_count == 4
    assert patrol.distance_m == pytest.approx(2 * 111.195, abs=0.2)


def test_a_point_before_the_start_is_refused_naming_it(personas, frozen):
    patrol, _ = start(personas.worker)
    with pytest.raises(ValidationError) as refused:
        services.patrol_points(actor=personas.worker, patrol_id=patrol.pk,
                               points=[point(1, 120.005, 31.015), point(-5, 120.005, 31.015)])
    assert refused.value.field == "points[1].at"
    assert Patrol.objects.get().point_count == 1


def test_a_point_in_the_future_is_refused(personas, frozen):
    patrol, _ = start(personas.worker)
    with pytest.raises(ValidationError) as refused:
        services.patrol_points(actor=personas.worker, patrol_id=patrol.pk,
                               points=[point(60, 120.005, 31.015)])
    assert refused.value.field == "points[0].at"


def test_late_points_of_a_stopped_patrol_are_taken_within_its_span(personas, frozen):
    patrol, _ = start(personas.worker)
    services.patrol_stop(actor=personas.worker, patrol_id=patrol.pk,
                         ended_at=TUESDAY - 10 * MINUTE)
    patrol = services.patrol_points(actor=personas.worker, patrol_id=patrol.pk,
                                    points=[point(5, 120.006, 31.015)])
    assert patrol.point_count == 2
    with pytest.raises(ValidationError) as refused:
        services.patrol_points(actor=personas.worker, patrol_id=patrol.pk,
                               points=[point(25, 120.006, 31.015)])
    assert refused.value.field == "points[0].at"


def test_too_many_points_in_one_patrol_are_refused(personas, frozen, monkeypatch):
    monkeypatch.setattr(services, "MAX_POINTS", 3)
    patrol, _ = start(personas.worker)
    with pytest.raises(ValidationError) as refused:
        services.patrol_points(actor=personas.worker, patrol_id=patrol.pk,
                               points=[point(i, 120.005, 31.015) for i in (1, 2, 3)])
    assert refused.value.field == "points"


def test_a_patrol_started_without_a_place_lies_where_its_first_point_is(personas, territory,
                                                                       frozen):
    patrol, _ = services.patrol_start(actor=personas.worker, id=new_id(),
                                      started_at=TUESDAY - 30 * MINUTE)
    assert patrol.grid_id is None and patrol.point_count == 0
    patrol = services.patrol_points(actor=personas.worker, patrol_id=patrol.pk,
                                    points=[point(1, 120.005, 31.015)])
    assert patrol.grid == territory.west_grids[0]


def test_stopping_again_answers_the_patrol_as_it_is(personas, frozen):
    patrol, _ = start(personas.worker)
    first = services.patrol_stop(actor=personas.worker, patrol_id=patrol.pk,
                                 ended_at=TUESDAY - 5 * MINUTE)
    again = services.patrol_stop(actor=personas.worker, patrol_id=patrol.pk, ended_at=TUESDAY)
    assert again.ended_at == first.ended_at == TUESDAY - 5 * MINUTE
    assert again.duration_s == 25 * 60


def test_a_stop_before_the_start_is_refused_naming_the_field(personas, frozen):
    patrol, _ = start(personas.worker)
    with pytest.raises(ValidationError) as refused:
        services.patrol_stop(actor=personas.worker, patrol_id=patrol.pk,
                             ended_at=TUESDAY - 40 * MINUTE)
    assert refused.value.field == "ended_at"


def test_a_check_in_sent_twice_is_stored_once(personas, frozen, jpeg):
    patrol, _ = start(personas.worker)
    checkin_id = new_id()
    fields = {"actor": personas.worker, "patrol_id": patrol.pk, "id": checkin_id,
              "at": TUESDAY - 20 * MINUTE, **WEST_001, "note": "井盖松动"}
    first, created = services.patrol_checkin(photos=[jpeg()], **fields)
    again, created_again = services.patrol_checkin(photos=[jpeg()], **fields)
    assert created and not created_again and first.pk == again.pk
    assert CheckIn.objects.count() == 1 and first.photos.count() == 1
    assert first.grid_id is not None


def test_a_check_in_outside_the_patrol_is_refused(personas, frozen):
    patrol, _ = start(personas.worker)
    with pytest.raises(ValidationError) as refused:
        services.patrol_checkin(actor=personas.worker, patrol_id=patrol.pk, id=new_id(),
                                at=TUESDAY - 40 * MINUTE)
    assert refused.value.field == "at"


def test_another_workers_patrol_is_not_found(personas, part_timer, frozen):
    patrol, _ = start(personas.worker)
    for write in (
            lambda: services.patrol_points(actor=part_timer, patrol_id=patrol.pk,
                                           points=[point(1, 120.015, 31.015)]),
            lambda: services.patrol_stop(actor=part_timer, patrol_id=patrol.pk,
                                         ended_at=TUESDAY),
            lambda: services.patrol_checkin(actor=part_timer, patrol_id=patrol.pk, id=new_id(),
                                            at=TUESDAY)):
        with pytest.raises(NotFound):
            write()
    assert Patrol.objects.get().ended_at is None
