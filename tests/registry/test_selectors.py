"""The registries' reads (``registry.selectors``): one scoping function, the
lists' filters, the search by name, identity number, phone and address, and
the out-of-territory persona and the handler who get nothing."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import NotFound, ValidationError
from shanzhi.core.identity import synthetic_credit_code
from shanzhi.registry import selectors
from shanzhi.registry.models import (
    Building,
    House,
    KeyPlace,
    Member,
    Organisation,
    Person,
    PersonKind,
)
from tests.registry.conftest import fresh_id_number

_rng = random.Random(1402)


def make_person(grid, *, name="张三", house=None, phone="13812345678", born=dt.date(1980, 1, 2),
                **fields) -> Person:
    number = fields.pop("id_number", None) or fresh_id_number(_rng, born=born)
    return Person.objects.create(grid=grid, house=house, name=name, id_number=number,
                                 gender="1", phone=phone, **fields)


@pytest.fixture
def world(territory, places):
    """One of each registry row in west grid 001, west grid 002 and east grid 001."""
    rows = {}
    for label, grid, house, building in (
            ("west", territory.west_grids[0], places.west_house, places.west_building),
            ("west2", territory.west_grids[1], None, None),
            ("east", territory.east_grids[0], places.east_house, places.east_building)):
        person = make_person(grid, name=f"{label}人", house=house)
        member = Member.objects.create(grid=grid, person=person, group="drug", level="high",
                                       since=dt.date(2025, 1, 1))
        organisation = Organisation.objects.create(
            grid=grid, name=f"{label}公司", credit_code=synthetic_credit_code(_rng, area="320505"),
            building=building)
        place = KeyPlace.objects.create(grid=grid, name=f"{label}场所", kind="fire")
        rows[label] = {"person": person, "member": member, "organisation": organisation,
                       "place": place, "house": house}
    return rows


LISTS = {
    "people": lambda scope: selectors.people_list(scope=scope),
    "houses": lambda scope: selectors.houses_list(scope=scope),
    "organisations": lambda scope: selectors.organisations_list(scope=scope),
    "members": lambda scope: selectors.members_list(scope=scope),
    "places": lambda scope: selectors.places_list(scope=scope),
}
KEY = {"people": "person", "houses": "house", "organisations": "organisation",
       "members": "member", "places": "place"}


@pytest.mark.parametrize("registry", sorted(LISTS))
def test_the_east_operator_sees_no_west_row(personas, world, registry):
    rows = list(LISTS[registry](Scope.for_user(personas.east_operator)))
    assert rows == [world["east"][KEY[registry]]]


@pytest.mark.parametrize("registry", sorted(LISTS))
@pytest.mark.parametrize("who", ["handler", "nobody"])
def test_handlers_and_people_without_territory_see_nothing(personas, world, registry, who):
    assert list(LISTS[registry](Scope.for_user(getattr(personas, who)))) == []


@pytest.mark.parametrize("registry", sorted(LISTS))
def test_a_grid_worker_sees_only_their_grid(personas, world, registry):
    rows = list(LISTS[registry](Scope.for_user(personas.worker)))
    assert rows == [world["west"][KEY[registry]]]


@pytest.mark.parametrize("registry", ["people", "organisations", "members", "places"])
def test_the_west_operator_and_the_viewer_see_their_territory(personas, world, registry):
    west = {world["west"][KEY[registry]].pk, world["west2"][KEY[registry]].pk}
    assert {r.pk for r in LISTS[registry](Scope.for_user(personas.west_operator))} == west
    everything = west | {world["east"][KEY[registry]].pk}
    assert {r.pk for r in LISTS[registry](Scope.for_user(personas.viewer))} == everything


@pytest.mark.parametrize("model", [Person, House, Building, Organisation, Member, KeyPlace])
def test_visible_is_empty_out_of_territory_for_every_table(personas, world, model):
    scope = Scope.for_user(personas.east_operator)
    paths = set(selectors.visible(scope, model).values_list("path", flat=True))
    assert paths and all(p.startswith(personas.east_operator.region.path) for p in paths)
    assert not selectors.visible(Scope.for_user(personas.handler), model).exists()


def test_one_record_outside_the_territory_is_not_found(personas, world):
    east = Scope.for_user(personas.east_operator)
    for getter, row in ((selectors.person_for, world["west"]["person"]),
                        (selectors.house_for, world["west"]["house"]),
                        (selectors.organisation_for, world["west"]["organisation"]),
                        (selectors.member_for, world["west"]["member"]),
                        (selectors.place_for, world["west"]["place"])):
        with pytest.raises(NotFound):
            getter(east, row.pk)
        assert getter(Scope.for_user(personas.west_operator), row.pk) == row
    with pytest.raises(NotFound):
        selectors.person_for(Scope.for_user(personas.worker), world["west2"]["person"].pk)
    with pytest.raises(NotFound):
        selectors.person_for(Scope.for_user(personas.handler), world["west"]["person"].pk)


# ---------------------------------------------------------------- filters

def test_people_filters(personas, territory, places, world):
    scope = Scope.for_user(personas.admin)
    grid = territory.west_grids[0]
    migrant = make_person(grid, name="流动甲", kind=PersonKind.MIGRANT,
                          permit_expires=dt.date(2026, 3, 20), house=places.west_house)
    later = make_person(grid, name="流动乙", kind=PersonKind.MIGRANT,
                        permit_expires=dt.date(2026, 9, 1))
    child = make_person(grid, name="留守丙", left_behind="child")

    def names(**filters):
        return [p.name for p in selectors.people_list(scope=scope, **filters)]

    assert names(kind="migrant") == ["流动乙", "流动甲"]
    assert set(names(grid=grid.code)) == {"west人", "流动甲", "流动乙", "留守丙"}
    assert set(names(grid=str(grid.pk))) == set(names(grid=grid.code))
    assert names(house=places.west_house.pk) == ["west人", "流动甲"]
    assert set(names(group="drug")) == {"west人", "west2人", "east人"}
    assert names(left_behind="child") == ["留守丙"] == names(left_behind=True)
    assert names(permit_expiring=30, today=dt.date(2026, 3, 1)) == ["流动甲"]
    assert names(permit_expiring=True, today=dt.date(2026, 8, 15)) == ["流动甲", "流动乙"]
    assert later.pk and migrant.pk and child.pk
    with pytest.raises(ValidationError) as caught:
        names(kind="alien")
    assert caught.value.field == "kind"


def test_merged_people_leave_the_lists_but_stay_readable(personas, territory, world):
    keep = world["west"]["person"]
    dup = make_person(territory.west_grids[0], name="west人")
    Person.objects.filter(pk=dup.pk).update(merged_into=keep)
    scope = Scope.for_user(personas.west_operator)
    assert dup.pk not in {p.pk for p in selectors.people_list(scope=scope)}
    assert selectors.person_for(scope, dup.pk).merged_into == keep


def test_members_and_places_filters(personas, world):
    scope = Scope.for_user(personas.admin)
    ended = world["west2"]["member"]
    Member.objects.filter(pk=ended.pk).update(ended_on=dt.date(2025, 6, 1))
    assert ended not in selectors.members_list(scope=scope)
    assert list(selectors.members_list(scope=scope, active=False)) == [ended]
    assert list(selectors.members_list(scope=scope, q="east")) == [world["east"]["member"]]
    KeyPlace.objects.filter(pk=world["east"]["place"].pk).update(is_active=False)
    assert {p.name for p in selectors.places_list(scope=scope)} == {"west场所", "west2场所"}
    assert [o.name for o in selectors.organisations_list(scope=scope, q="east")] == ["east公司"]
    code = world["west"]["organisation"].credit_code
    assert list(selectors.organisations_list(scope=scope, q=code.lower())) == [
        world["west"]["organisation"]]


def test_a_list_page_with_its_memberships_costs_a_fixed_number_of_queries(
        personas, territory, world, django_assert_max_num_queries):
    for i in range(10):
        person = make_person(territory.west_grids[0], name=f"批量{i}")
        Member.objects.create(grid=territory.west_grids[0], person=person, group="youth",
                              since=dt.date(2025, 1, 1))
    scope = Scope.for_user(personas.west_operator)
    with django_assert_max_num_queries(2):
        page = [selectors.present_person(p)
                for p in selectors.people_list(scope=scope)[:selectors.PAGE_LIMIT]]
    assert len(page) == 12
    assert page[0]["memberships"][0]["group"] in ("youth", "drug")


# ---------------------------------------------------------------- search

@pytest.fixture
def searchable(personas, territory, places):
    grid = territory.west_grids[0]
    return {
        "zhang": make_person(grid, name="张伟", phone="13955550001", house=places.west_house,
                             born=dt.date(1990, 3, 4)),
        "zhang2": make_person(grid, name="张伟明", phone="13955550002"),
        "lu": make_person(grid, name="路遥", phone="13600000003"),
        "east": make_person(territory.east_grids[0], name="张伟", phone="13955550004",
                            house=places.east_house),
    }


def _search(personas, q, who="west_operator"):
    scope = Scope.for_user(getattr(personas, who))
    return list(selectors.people_list(scope=scope, q=q))


def test_search_by_a_full_identity_number(personas, searchable):
    number = searchable["zhang"].id_number
    assert _search(personas, number) == [searchable["zhang"]]
    assert _search(personas, searchable["east"].id_number) == []


def test_search_by_the_beginning_of_an_identity_number_or_a_phone(personas, searchable):
    assert _search(personas, "1395555") == [searchable["zhang"], searchable["zhang2"]]
    assert _search(personas, searchable["zhang"].id_number[:10]) == [searchable["zhang"]]
    assert _search(personas, "1395555", who="east_operator") == [searchable["east"]]


def test_search_by_the_beginning_of_a_name(personas, searchable):
    assert _search(personas, "张伟") == [searchable["zhang"], searchable["zhang2"]]
    assert _search(personas, " 张 ") == [searchable["zhang"], searchable["zhang2"]]
    assert _search(personas, "伟") == []
    # 路 is also a surname: a name when it names no place
    assert _search(personas, "路遥") == [searchable["lu"]]
    assert _search(personas, "张伟", who="handler") == []


def test_search_by_address(personas, searchable):
    assert _search(personas, "西园路1号") == [searchable["zhang"]]
    assert _search(personas, "西园路1号1幢1单元101室") == [searchable["zhang"]]
    assert _search(personas, "西园路1号1幢1单元102室") == []
    assert _search(personas, "东园路1号") == []
    assert _search(personas, "东园路1号", who="east_operator") == [searchable["east"]]


def test_search_uses_the_indexed_forms(searchable):
    """Prefix matches (LIKE 'q%') ordered by the index's columns, so the
    database stops after a page."""
    qs = selectors.search_people(Person.objects.all(), "张伟")
    sql = str(qs.query)
    assert "LIKE" in sql and "%张伟%" not in sql
    from django.db import connection

    # PostgreSQL: bytewise, as its person_name index (name COLLATE "C", id)
    assert qs.query.order_by == (("name_c" if connection.vendor == "postgresql" else "name"),
                                 "id")
    assert selectors.search_people(Person.objects.all(), "1395").query.order_by == ("id",)


@pytest.mark.parametrize(("q", "index"), [
    ("张伟", "person_name"),
    ("1395555", "person_phone"),
    ("32050519", "person_id_number"),
    ("西园路1号", "house_key"),  # house_key_prefix, or the unique key's own _like index
])
def test_on_postgresql_each_search_form_can_use_its_index(searchable, q, index):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    from django.test.utils import CaptureQueriesContext

    # every query the search runs (a number is first probed in each index)
    with CaptureQueriesContext(connection) as ran:
        list(selectors.search_people(Person.objects.all(), q)[:selectors.PAGE_LIMIT])
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in ran.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    plan = "\n".join(plans)
    assert index in plan.replace("registry_house_key", "house_key"), plan
