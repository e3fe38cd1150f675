"""The demo's registries on the small city: valid synthetic numbers, every
row in its grid and its grid's community, the counts in proportion, and the
follow-up tasks with their history and the engine's deadlines."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import shapely
from django.db import transaction
from django.utils import timezone

from shanzhi.accounts.models import GridWorker, Role
from shanzhi.accounts.services import user_create
from shanzhi.cases.engine import deadline
from shanzhi.core.identity import credit_code_valid, id_number_valid
from shanzhi.demo.load import _grid_workers
from shanzhi.demo.registry import (
    PEOPLE_PER_MEMBER,
    PEOPLE_PER_ORGANISATION,
    PEOPLE_PER_PLACE,
    build_registry,
)
from shanzhi.geo.index import get_index, reset_index
from shanzhi.geo.models import Grid
from shanzhi.registry import addresses
from shanzhi.registry import workflow as wf
from shanzhi.registry.models import (
    Building,
    House,
    Household,
    KeyPlace,
    Member,
    Organisation,
    Person,
    PersonKind,
    Visit,
    VisitEntry,
    VisitStage,
)
from tests.demo.test_history import _small_city

pytestmark = pytest.mark.django_db

#: A Thursday afternoon.
END = dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC)
PEOPLE = 4000


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The small city with its grid workers and a demo persona, then its
    registries, built once for the module and rolled back after."""
    with django_db_blocker.unblock(), transaction.atomic():
        _small_city()
        _grid_workers()
        grid = Grid.objects.get(code="320505001001002")
        user_create(username="worker_full", password="x", role=Role.GRID_WORKER,
                    grid_codes=[grid.code], validate=False)
        reset_index()
        yield build_registry(people=PEOPLE, seed=2026, end=END, progress=lambda m: None)
        transaction.set_rollback(True)
    reset_index()


def test_it_makes_the_people_and_the_rest_in_proportion(demo):
    assert demo.people == Person.objects.count() == PEOPLE
    assert demo.organisations == Organisation.objects.count()
    assert abs(demo.organisations - PEOPLE / PEOPLE_PER_ORGANISATION) <= 12
    active = Member.objects.filter(ended_on__isnull=True).count()
    members = Member.objects.count()
    assert PEOPLE / PEOPLE_PER_MEMBER <= members <= PEOPLE / PEOPLE_PER_MEMBER + 6
    assert active >= 0.85 * members
    assert PEOPLE / PEOPLE_PER_PLACE <= KeyPlace.objects.count() <= PEOPLE / PEOPLE_PER_PLACE + 1
    assert Household.objects.count() == demo.households
    assert House.objects.count() >= Household.objects.count()
    kinds = Counter(Person.objects.values_list("kind", flat=True))
    assert 0.55 <= kinds[PersonKind.REGISTERED] / PEOPLE <= 0.8
    assert 0.15 <= kinds[PersonKind.MIGRANT] / PEOPLE <= 0.4
    assert 0 < kinds[PersonKind.OVERSEAS] <= 0.01 * PEOPLE
    assert demo.seconds < 30


def test_identity_numbers_and_credit_codes_are_valid_and_unique(demo):
    residents = Person.objects.exclude(kind=PersonKind.OVERSEAS)
    for number, kind, born, gender in residents.values_list("id_number", "kind", "birth_date",
                                                            "gender"):
        assert id_number_valid(number, today=END.date()), number
        assert number[6:14] == f"{born:%Y%m%d}"
        assert int(number[16]) % 2 == (1 if gender == "1" else 0)
        if kind == PersonKind.REGISTERED:
            assert number.startswith("3205"), number
        else:
            assert not number.startswith("3205"), number
    overseas = Person.objects.filter(kind=PersonKind.OVERSEAS)
    assert all(p.id_type == "passport" and p.nationality and p.visa_expires for p in overseas)
    assert Person.objects.values("id_type", "id_number").distinct().count() == PEOPLE
    assert all(credit_code_valid(c) for c in Organisation.objects.values_list("credit_code",
                                                                            flat=True))


def test_every_row_has_its_grids_path_and_the_grid_lies_in_its_community(demo):
    grids = {g.pk: g for g in Grid.objects.all()}
    for model in (Building, House, Person, Organisation, Member, KeyPlace):
        for grid_id, path in model.objects.values_list("grid_id", "path"):
            assert path and path == grids[grid_id].path, model
    for visit in Visit.objects.values("grid_id", "path"):
        assert visit["path"] == grids[visit["grid_id"]].path
    for building in Building.objects.select_related("community"):
        assert grids[building.grid_id].community_id == building.community_id
        assert shapely.contains_xy(grids[building.grid_id].shape, building.lng, building.lat)
        assert get_index().locate(building.lng, building.lat).grid.id == building.grid_id
    people = Person.objects.select_related("house", "household__house")
    assert all(p.house.grid_id == p.grid_id and p.household.house_id == p.house_id
               for p in people)


def test_addresses_are_standard_and_their_keys_are_found_again(demo):
    for house in House.objects.select_related("building", "building__community")[:300]:
        b = house.building
        assert b.key == addresses.building_key(b.community.code, b.road, b.number, b.building)
        assert house.key == addresses.house_key(b.key, house.unit, house.room)
        assert house.address.startswith(b.address)
        assert addresses.key(house.address) == house.key
        found = addresses.match(house.address)
        assert found.exact and found.house == house
    heads = Household.objects.exclude(head=None).count()
    assert heads == Household.objects.count()


def test_migrants_hold_permits_and_those_near_their_end_have_an_open_renewal_task(demo):
    today = timezone.localdate(END)
    migrants = Person.objects.filter(kind=PersonKind.MIGRANT).exclude(permit_expires=None)
    assert migrants.count() > 0.6 * Person.objects.filter(kind=PersonKind.MIGRANT).count()
    window = migrants.filter(permit_expires__gte=today - dt.timedelta(days=30),
                             permit_expires__lte=today + dt.timedelta(days=30))
    soon = window.filter(permit_expires__gt=today)
    assert soon.exists()
    tasks = Visit.objects.filter(kind=wf.PERMIT, state=wf.DUE)
    assert set(tasks.values_list("person_id", flat=True)) == set(window.values_list("pk",
                                                                                   flat=True))
    assert Person.objects.exclude(left_behind="").exists()


def test_each_active_member_has_a_visit_history_and_one_open_task(demo):
    active = Member.objects.filter(ended_on__isnull=True)
    open_ = Counter(Visit.objects.filter(kind=wf.GROUP, state=wf.DUE)
                    .values_list("member_id", flat=True))
    assert set(open_) == set(active.values_list("pk", flat=True))
    assert set(open_.values()) == {1}
    assert not Visit.objects.filter(member__ended_on__isnull=False, state=wf.DUE).exists()
    done = Visit.objects.filter(kind=wf.GROUP, state=wf.DONE)
    assert done.count() >= active.count()
    for visit in done[:200]:
        assert visit.visited_at and visit.note and visit.finding
        assert visit.visited_at <= END and visit.closed_at == visit.visited_at
        assert visit.worker_id and visit.lng is not None
        actions = list(visit.timeline.order_by("at", "id").values_list("action", flat=True))
        assert actions == ["create", "record"]
    assert set(Visit.objects.values_list("grid_id", flat=True)) <= set(
        GridWorker.grids.through.objects.values_list("grid_id", flat=True))


def test_open_tasks_carry_the_engines_deadline_and_some_are_late(demo):
    open_ = Visit.objects.filter(state=wf.DUE).select_related("member")
    assert open_.count() == demo.open_visits
    late = 0
    for visit in open_:
        due = deadline(float(visit.interval), "working_days", visit.created_at)
        assert (visit.due_at, visit.warn_at) == (due.due_at, due.warn_at)
        assert visit.overdue == (visit.due_at < END)
        if visit.kind == wf.GROUP:
            assert visit.interval == wf.DEFAULT_INTERVAL[visit.member.level]
        assert visit.number == f"ZF{timezone.localtime(visit.created_at):%Y%m%d}{visit.pk:08d}"
        late += visit.overdue
    assert 0 < late < open_.count()
    assert VisitStage.objects.filter(ended_at=None).count() == open_.count()
    assert VisitEntry.objects.filter(action="create").count() == Visit.objects.count()


def test_the_demo_grid_worker_has_members_and_due_visits_in_their_grid(demo):
    worker = GridWorker.objects.get(user__username="worker_full")
    grid = worker.grids.get()
    members = Member.objects.filter(grid=grid, ended_on__isnull=True)
    assert members.count() >= 3
    assert set(members.values_list("worker_id", flat=True)) == {worker.user_id}
    due = Visit.objects.filter(worker_id=worker.user_id, state=wf.DUE)
    assert due.count() >= 3 and due.filter(overdue=True).exists()


def test_it_is_built_once(demo):
    again = build_registry(people=100, seed=1, end=END, progress=lambda m: None)
    assert again.people == 0 and Person.objects.count() == PEOPLE
