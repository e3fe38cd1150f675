"""The patrol reads, scoped: an operator sees the patrols of their territory
and nothing of another's; a grid worker only their own; what is due on a
working day, nothing on a weekend or a holiday; each worker's figures."""

from __future__ import annotations

import datetime as dt

import time_machine

from shanzhi.accounts.scope import Scope
from shanzhi.patrols import selectors, services

from .conftest import TUESDAY, WEST_001, WEST_002, at, new_id

MINUTE = dt.timedelta(minutes=1)


def walk(actor, started_at, place, *, metres_north: int = 0, checkins: int = 0):
    patrol, _ = services.patrol_start(actor=actor, id=new_id(), started_at=started_at, **place)
    if metres_north:
        services.patrol_points(actor=actor, patrol_id=patrol.pk, points=[{
            "at": started_at + 10 * MINUTE, "lng": place["lng"],
            "lat": place["lat"] + metres_north / 111_195, "accuracy": 5}])
    for i in range(checkins):
        services.patrol_checkin(actor=actor, patrol_id=patrol.pk, id=new_id(),
                                at=started_at + (i + 1) * MINUTE, **place)
    return services.patrol_stop(actor=actor, patrol_id=patrol.pk,
                                ended_at=started_at + 20 * MINUTE)


def listed(user, **filters) -> set:
    return set(selectors.patrols_list(Scope.for_user(user), **filters)
               .values_list("pk", flat=True))


def test_the_territory_sees_its_patrols_and_the_outsider_sees_none(personas, part_timer,
                                                                     community_operator, frozen):
    mine = walk(personas.worker, TUESDAY - 60 * MINUTE, WEST_001)
    theirs = walk(part_timer, TUESDAY - 50 * MINUTE, WEST_002)
    assert listed(personas.west_operator) == listed(community_operator) == {mine.pk, theirs.pk}
    assert listed(personas.admin) == listed(personas.viewer) == {mine.pk, theirs.pk}
    assert listed(personas.east_operator) == set()
    assert listed(personas.handler) == set()
    assert listed(personas.nobody) == set()


def test_a_worker_sees_only_their_own_and_the_part_timer_only_their_grid(personas, part_timer,
                                                                           frozen):
    mine = walk(personas.worker, TUESDAY - 60 * MINUTE, WEST_001)
    theirs = walk(part_timer, TUESDAY - 50 * MINUTE, WEST_002)
    assert listed(personas.worker) == {mine.pk}
    assert listed(part_timer) == {theirs.pk}


def test_the_list_filters_by_day_worker_and_grid(personas, part_timer, territory, frozen):
    today = walk(personas.worker, TUESDAY - 60 * MINUTE, WEST_001)
    yesterday = walk(personas.worker, TUESDAY - dt.timedelta(days=1), WEST_001)
    theirs = walk(part_timer, TUESDAY - 50 * MINUTE, WEST_002)
    operator = personas.west_operator
    assert listed(operator, day=TUESDAY.date()) == {today.pk, theirs.pk}
    assert listed(operator, day=TUESDAY.date() - dt.timedelta(days=1)) == {yesterday.pk}
    assert listed(operator, worker="part_timer") == {theirs.pk}
    assert listed(operator, grid=territory.west_grids[0].code) == {today.pk, yesterday.pk}


def test_a_grid_not_yet_patrolled_today_is_due_at_the_close_of_office(personas, territory,
                                                                      frozen):
    due = selectors.patrols_due(personas.worker, TUESDAY.date())
    assert [(d.grid.pk, d.due_at) for d in due] == [(territory.west_grids[0].pk,
                                                     at(2026, 3, 10, 17, 30))]
    walk(personas.worker, TUESDAY - 60 * MINUTE, WEST_001)
    assert selectors.patrols_due(personas.worker, TUESDAY.date()) == []


def test_nothing_is_due_on_a_weekend_or_a_holiday(personas):
    saturday = at(2026, 3, 14, 10, 0)
    national_day = at(2026, 10, 2, 10, 0)
    make_up_saturday = at(2026, 2, 14, 10, 0)  # before the Spring Festival: a working day
    for day in (saturday, national_day):
        with time_machine.travel(day, tick=False):
            assert selectors.patrols_due(personas.worker, day.date()) == []
    with time_machine.travel(make_up_saturday, tick=False):
        assert len(selectors.patrols_due(personas.worker, make_up_saturday.date())) == 1


def test_nothing_is_due_for_anyone_but_a_grid_worker(personas, frozen):
    assert selectors.patrols_due(personas.west_operator, TUESDAY.date()) == []


def test_each_workers_figures(personas, part_timer, frozen):
    walk(personas.worker, TUESDAY - 90 * MINUTE, WEST_001, metres_north=200, checkins=2)
    walk(personas.worker, TUESDAY - 60 * MINUTE, WEST_001, metres_north=100, checkins=1)
    walk(part_timer, TUESDAY - 50 * MINUTE, WEST_002)
    since, until = TUESDAY - dt.timedelta(days=1), TUESDAY + dt.timedelta(days=1)
    figures = {f.username: f for f in selectors.worker_figures(
        Scope.for_user(personas.west_operator), since, until)}
    worker = figures["worker"]
    assert (worker.patrols, worker.checkins, worker.duration_s) == (2, 3, 40 * 60)
    assert abs(worker.distance_m - 300) < 1
    assert figures["part_timer"].patrols == 1 and figures["part_timer"].checkins == 0
    assert selectors.worker_figures(Scope.for_user(personas.east_operator), since, until) == []
