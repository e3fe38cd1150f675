"""The scope is the one place territorial reads are filtered: each persona sees
exactly their territory, and the out-of-territory persona nothing of it."""

import pytest

from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import NotFound
from shanzhi.geo.models import Grid, Region


def codes(qs):
    return sorted(qs.values_list("code", flat=True))


def test_a_city_admin_sees_the_whole_city(personas, territory):
    scope = Scope.for_user(personas.admin)
    assert codes(scope.regions()) == codes(Region.objects.all())
    assert len(codes(scope.grids())) == 8


def test_a_district_operator_sees_only_their_district(personas, territory):
    scope = Scope.for_user(personas.west_operator)
    assert codes(scope.regions()) == ["320505", "320505001", "320505001001"]
    assert codes(scope.grids()) == [g.code for g in territory.west_grids]


def test_the_out_of_territory_operator_gets_nothing_of_the_west(personas, territory):
    scope = Scope.for_user(personas.east_operator)
    assert not scope.regions().filter(code__startswith="320505").exists()
    assert not scope.grids().filter(code__startswith="320505").exists()
    with pytest.raises(NotFound):
        scope.region("320505")
    with pytest.raises(NotFound):
        scope.grid(territory.west_grids[0].code)


def test_a_grid_worker_sees_only_their_grids(personas, territory):
    scope = Scope.for_user(personas.worker)
    assert codes(scope.grids()) == [territory.west_grids[0].code]
    assert codes(scope.roots()) == [territory.west_community.code]
    with pytest.raises(NotFound):
        scope.grid(territory.west_grids[1].code)


def test_a_grid_given_to_a_worker_or_taken_away_counts_at_once(personas, territory):
    Scope.for_user(personas.worker)  # who works where is in memory now
    worker = personas.worker.grid_worker
    worker.grids.add(territory.west_grids[1])
    assert codes(Scope.for_user(personas.worker).grids()) == [
        territory.west_grids[0].code, territory.west_grids[1].code]
    worker.grids.remove(territory.west_grids[0])
    assert codes(Scope.for_user(personas.worker).grids()) == [territory.west_grids[1].code]


def test_a_handler_sees_the_territory_of_their_department(personas, territory):
    scope = Scope.for_user(personas.handler)
    assert scope.department_id == personas.handler.department_id
    assert codes(scope.roots()) == ["320505"]


def test_a_user_without_territory_sees_nothing(personas, territory):
    scope = Scope.for_user(personas.nobody)
    assert scope.is_empty
    assert not scope.regions().exists()
    assert not scope.grids().exists()


def test_an_inactive_user_sees_nothing(personas, territory):
    personas.west_operator.is_active = False
    assert Scope.for_user(personas.west_operator).is_empty


def test_a_retired_region_is_out_of_every_scope(personas, territory):
    import datetime as dt

    from shanzhi.geo.services import region_retire

    region_retire(region=territory.east, valid_to=dt.date(2023, 1, 1))
    assert "320506" not in codes(Scope.for_user(personas.admin).regions())
    assert Region.objects.filter(code="320506").exists()  # kept for history


def test_covers_checks_path_and_grid(personas, territory):
    worker = Scope.for_user(personas.worker)
    own, other = territory.west_grids[0], territory.west_grids[1]
    assert worker.covers(own.path, own.id)
    assert not worker.covers(other.path, other.id)
    east = Scope.for_user(personas.east_operator)
    assert not east.covers(own.path, own.id)
    assert Grid.objects.filter(path__startswith=territory.west.path).count() == 4
