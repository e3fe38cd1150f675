"""The demo database: the real districts and towns, 10,000+ generated grids in
a clean partition, and a log-in for every role."""

import datetime as dt

import pytest

from shanzhi import settings as production_settings
from shanzhi.accounts.models import GridWorker, Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.demo.load import build_demo
from shanzhi.geo.checks import check_territory
from shanzhi.geo.index import get_index, reset_index
from shanzhi.geo.models import Grid, Level, Region


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        reset_index()
        logins = build_demo(progress=lambda message: None)
        yield logins
        from shanzhi.registry import models as registry
        for model in (registry.VisitEntry, registry.VisitStage, registry.Visit,
                      registry.KeyPlace, registry.Member, registry.PersonChange):
            model.objects.all()._raw_delete(model.objects.db)
        registry.Household.objects.update(head=None)
        for model in (registry.Person, registry.Household, registry.Organisation,
                      registry.House, registry.Building):
            model.objects.all()._raw_delete(model.objects.db)
        from shanzhi.intake.models import PlaceName
        PlaceName.objects.all().delete()
        Grid.objects.all().delete()
        GridWorker.objects.all().delete()
        User.objects.all().delete()
        from shanzhi.accounts.models import Department
        Department.objects.all().delete()
        for level in reversed([Level.CITY, Level.DISTRICT, Level.TOWN, Level.COMMUNITY]):
            Region.objects.filter(level=level).delete()
        reset_index()


pytestmark = pytest.mark.django_db


def test_the_demo_holds_the_real_districts_and_towns(demo):
    current = Region.objects.current()
    assert current.filter(level=Level.DISTRICT).count() == 10
    assert current.filter(level=Level.TOWN).count() == 118
    assert current.get(code="320508").name == "姑苏区"
    assert current.get(code="320508").generated is False
    assert current.filter(level=Level.TOWN, generated=True).count() == 118  # generated shapes


def test_the_industrial_park_keeps_its_old_code_as_history(demo):
    old = Region.objects.get(code="320571")
    new = Region.objects.current().get(code="320576")
    assert old.valid_to == dt.date(2023, 1, 1) and new.valid_from == dt.date(2023, 1, 1)
    assert old.name == new.name == "苏州工业园区"
    assert Region.objects.current().filter(parent=new, level=Level.TOWN).count() == 5


def test_the_demo_has_ten_thousand_grids_all_labelled_generated(demo):
    grids = Grid.objects.current()
    assert grids.count() >= 10_000
    assert not grids.filter(generated=False).exists()


def test_a_district_of_the_demo_has_no_gaps_or_overlaps(demo):
    assert check_territory(root=Region.objects.current().get(code="320508")) == []


def test_every_role_has_a_demo_log_in_with_a_territory(demo, settings):
    # the demo was built with the production hashers (argon2), not the tests' MD5
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    assert {login.role for login in demo} == set(Role.values)
    for login in demo:
        user = User.objects.get(username=login.username)
        assert user.check_password("shanzhi-demo-2026")
        assert not Scope.for_user(user).is_empty, login.username


def test_every_grid_has_a_full_time_and_a_part_time_worker(demo):
    grid = Grid.objects.current().filter(code__startswith="320508").first()
    kinds = set(GridWorker.objects.filter(grids=grid).values_list("kind", flat=True))
    assert kinds == {GridWorker.Kind.FULL_TIME, GridWorker.Kind.PART_TIME}


def test_a_point_in_gusu_locates_to_a_gusu_grid(demo):
    location = get_index().locate(120.6, 31.3)
    assert location.inside
    assert location.region("district").code == "320508"
    assert location.grid.code.startswith(location.region("community").code)
