"""Buildings and houses: created in the actor's territory with their
standard address and key, each refusal naming its field, edits only from
the version read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from shanzhi.registry.models import Building, House
from shanzhi.registry.places import building_create, house_create, house_update

pytestmark = pytest.mark.django_db

#: In west grid 001 (the worker's), west grid 002, and east grid 001.
WEST_001 = (120.004, 31.016)
WEST_002 = (120.016, 31.016)
EAST_001 = (120.024, 31.016)


def _building(actor, point=WEST_001, **extra):
    lng, lat = point
    fields = {"road": "平江路", "number": "88号", "estate": "平江花园", "building": "三幢"}
    fields.update(extra)
    return building_create(actor=actor, lng=lng, lat=lat, **fields)


def test_a_grid_worker_creates_a_building_in_their_grid_with_its_standard_address(
        personas, territory):
    building = _building(personas.worker)
    assert building.grid_id == territory.west_grids[0].pk
    assert building.community_id == territory.west_community.pk
    assert building.path == territory.west_grids[0].path
    assert building.address == "虎丘区西街道西社区平江路88号(平江花园)3幢"
    assert building.key == f"{territory.west_community.code}|平江路|88|3"
    assert (building.number, building.building) == ("88号", "3幢")
    assert Building.objects.get(pk=building.pk).key == building.key


def test_a_grid_worker_may_not_place_a_building_in_a_neighbours_grid(personas):
    with pytest.raises(ValidationError) as refused:
        _building(personas.worker, point=WEST_002)
    assert refused.value.field == "location"
    assert not Building.objects.exists()


def test_an_operator_may_not_place_a_building_outside_their_territory(personas):
    with pytest.raises(ValidationError) as refused:
        _building(personas.east_operator, point=WEST_001)
    assert refused.value.field == "location"
    assert _building(personas.east_operator, point=EAST_001).path.startswith(
        personas.east_operator.region.path)


@pytest.mark.parametrize("persona", ["viewer", "handler", "nobody"])
def test_readers_and_handlers_may_not_create_buildings(personas, persona):
    with pytest.raises(PermissionDenied):
        _building(getattr(personas, persona))


@pytest.mark.parametrize(("fields", "field"), [
    ({"road": ""}, "road"), ({"road": "路" * 51}, "road"), ({"number": ""}, "number"),
    ({"number": "东门"}, "number"), ({"building": "北楼"}, "building"),
    ({"estate": "园" * 51}, "estate"), ({"grid_code": "320505001001004"}, "grid_code"),
    ({"community_code": "320506001001"}, "community_code")])
def test_each_refusal_names_its_field(personas, fields, field):
    with pytest.raises(ValidationError) as refused:
        _building(personas.admin, **fields)
    assert refused.value.field == field
    assert not Building.objects.exists()


def test_all_field_problems_are_listed_at_once(personas):
    with pytest.raises(ValidationError) as refused:
        _building(personas.admin, road="", number="")
    problems = refused.value.details["problems"]
    assert [p["field"] for p in problems] == ["road", "number"]


def test_a_point_outside_every_grid_is_refused(personas):
    with pytest.raises(ValidationError) as refused:
        building_create(actor=personas.admin, road="平江路", number="1", lng=121.5, lat=31.5)
    assert refused.value.field == "location"


def test_the_same_address_twice_is_a_conflict_naming_the_building(personas):
    first = _building(personas.west_operator)
    with pytest.raises(Conflict) as refused:
        _building(personas.admin, building="3号楼", number="88")
    assert refused.value.code == "duplicate" and refused.value.details == {"id": first.pk}


def test_a_duplicate_outside_the_actors_grids_is_refused_without_naming_it(personas):
    _building(personas.admin, point=WEST_002)  # grid 002, same community as the worker's
    with pytest.raises(Conflict) as refused:
        _building(personas.worker, point=WEST_001)
    assert refused.value.code == "duplicate" and not refused.value.details
    assert "平江路" not in refused.value.message


def test_a_house_gets_the_building_key_and_address(personas, territory):
    building = _building(personas.worker)
    house = house_create(actor=personas.worker, building=building, unit="2单元", room="0302",
                         use="rented", area="89.5", owner_name="张伟",
                         owner_phone="+86 138 1234 5678")
    house = House.objects.get(pk=house.pk)
    assert house.key == f"{building.key}|2|302"
    assert house.address == building.address + "2单元302室"
    assert house.path == building.path and house.grid_id == building.grid_id
    assert (house.use, house.area, house.owner_phone) == ("rented", Decimal("89.50"),
                                                          "13812345678")


@pytest.mark.parametrize(("fields", "field"), [
    ({"room": ""}, "room"), ({"owner_phone": "12345"}, "owner_phone"),
    ({"area": "-3"}, "area"), ({"area": "lots"}, "area"), ({"use": "castle"}, "use"),
    ({"owner_name": "名" * 101}, "owner_name")])
def test_a_house_refusal_names_its_field(personas, fields, field):
    building = _building(personas.admin)
    data = {"unit": "1", "room": "101"} | fields
    with pytest.raises(ValidationError) as refused:
        house_create(actor=personas.admin, building=building, **data)
    assert refused.value.field == field
    assert not House.objects.exists()


def test_a_house_of_a_building_outside_the_territory_is_not_found(personas):
    building = _building(personas.admin, point=EAST_001)
    with pytest.raises(NotFound):
        house_create(actor=personas.west_operator, building=building, room="101")
    with pytest.raises(NotFound):
        house_create(actor=personas.worker, building=building, room="101")


def test_the_same_house_twice_is_a_conflict(personas):
    building = _building(personas.admin)
    house_create(actor=personas.admin, building=building, unit="1", room="101")
    with pytest.raises(Conflict) as refused:
        house_create(actor=personas.worker, building=building, unit="一单元", room="101室")
    assert (refused.value.code, refused.value.field) == ("duplicate", "room")


def test_an_edit_moves_the_version_on_and_a_stale_one_is_refused(personas):
    building = _building(personas.admin)
    house = house_create(actor=personas.admin, building=building, unit="1", room="101")
    assert house.version == 1
    edited = house_update(actor=personas.worker, house=house, version=1, room="102",
                          owner_phone="0512-65221234")
    stored = House.objects.get(pk=house.pk)
    assert stored.version == edited.version == 2
    assert stored.key.endswith("|1|102") and stored.address.endswith("1单元102室")
    assert stored.owner_phone == "0512-65221234"
    with pytest.raises(Conflict) as refused:
        house_update(actor=personas.admin, house=House.objects.get(pk=house.pk), version=1,
                     use="empty")
    assert refused.value.code == "stale"
    assert House.objects.get(pk=house.pk).use == "own"


def test_an_edit_to_an_existing_room_or_an_unknown_field_is_refused(personas):
    building = _building(personas.admin)
    house_create(actor=personas.admin, building=building, unit="1", room="101")
    other = house_create(actor=personas.admin, building=building, unit="1", room="102")
    with pytest.raises(Conflict) as refused:
        house_update(actor=personas.admin, house=other, version=1, room="101")
    assert refused.value.code == "duplicate"
    with pytest.raises(ValidationError) as refused:
        house_update(actor=personas.admin, house=other, version=1, key="x")
    assert refused.value.field == "key"
    with pytest.raises(ValidationError) as refused:
        house_update(actor=personas.admin, house=other, version=1, owner_phone="abc")
    assert refused.value.field == "owner_phone"


def test_an_edit_outside_the_territory_is_not_found(personas):
    building = _building(personas.admin, point=EAST_001)
    house = house_create(actor=personas.admin, building=building, room="101")
    with pytest.raises(NotFound):
        house_update(actor=personas.west_operator, house=house, version=1, use="empty")
    with pytest.raises(PermissionDenied):
        house_update(actor=personas.viewer, house=house, version=1, use="empty")
