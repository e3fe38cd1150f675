"""Standard addresses: one spelling and one key for every way an address is
typed, and the match of a typed address to a house or building."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shanzhi.accounts.scope import Scope
from shanzhi.registry import addresses
from shanzhi.registry.addresses import building_key, house_key, key, normalize, parse

CODE = "320508001001"
CN = "〇一二三四五六七八九"
FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")
#: Characters of road names that are no marker of anything (no 区, 镇, 号, 幢 …).
ROAD_CHARS = "平江干将人民学士凤凰观前临顿景德桃花坞东西南北中山塘石湖金鸡星湖竹辉"


def _cn(number: int) -> str:
    """A number in Chinese: 3 → 三, 12 → 十二, 25 → 二十五."""
    if number < 10:
        return CN[number]
    tens, ones = divmod(number, 10)
    return ("" if tens == 1 else CN[tens]) + "十" + (CN[ones] if ones else "")


roads = st.builds(lambda body, end: body + end,
                  st.text(alphabet=ROAD_CHARS, min_size=1, max_size=5),
                  st.sampled_from(["路", "街", "巷", "大道"]))
rooms = st.builds(lambda floor, flat: floor * 100 + flat, st.integers(1, 33), st.integers(1, 8))


def _variants(road: str, number: int, building: int, unit: int, room: int) -> list[str]:
    return [
        f"{road}{number}号{building}幢{unit}单元{room}室",
        f"苏州市姑苏区{road}{number}号{building}幢{unit}单元{room}室",
        f"江苏省苏州市{road}{number}号{building}栋{unit}单元{room}",
        f"{road}{number}号{building}-{unit}-{room}",
        f"{road} {number} 号 {building} 栋 {unit} 单元 {room}",
        f"{road}{number}号{building}号楼{unit}单元{room}室".translate(FULL),
        f"{road}{number}号{_cn(building)}幢{_cn(unit)}单元{room}号房",
        f"{road}{number}号第{building}座{unit}单元0{room}室",
        f"{road}{number}号{building}#楼{unit}单元{room}室",
        f"{road}{number}号（某某花园）{building}幢{unit}单元{room}室",
    ]


@given(st.text(max_size=60))
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@given(roads, st.integers(1, 999), st.integers(1, 40), st.integers(1, 6), rooms)
def test_normalize_is_idempotent_on_addresses(road, number, building, unit, room):
    for variant in _variants(road, number, building, unit, room):
        once = normalize(variant)
        assert normalize(once) == once, variant


@settings(max_examples=300)
@given(roads, st.integers(1, 999), st.integers(1, 40), st.integers(1, 6), rooms)
def test_every_spelling_of_an_address_gives_the_standard_key(road, number, building, unit,
                                                             room):
    standard = house_key(building_key(CODE, road, f"{number}号", f"{building}幢"),
                         f"{unit}单元", f"{room}室")
    for variant in _variants(road, number, building, unit, room):
        assert key(variant, community_code=CODE) == standard, variant
        parsed = parse(variant)
        assert (parsed.road, parsed.number, parsed.building, parsed.unit, parsed.room) == (
            road, str(number), str(building), str(unit), str(room)), variant


@given(st.text(max_size=80))
def test_parse_never_raises(text):
    parsed = parse(text)
    assert all(isinstance(v, str) for v in parsed.__dict__.values())
    assert isinstance(key(text, community_code=CODE), str)


def test_the_standard_form_is_read_back_into_its_parts():
    parsed = parse("苏州市姑苏区平江街道平江社区平江路88号(平江花园)3幢2单元302室")
    assert parsed == addresses.Parsed(district="姑苏区", town="平江街道", community="平江社区",
                                      road="平江路", number="88", estate="平江花园",
                                      building="3", unit="2", room="302")


def test_a_lane_stays_part_of_the_road_and_a_road_with_a_city_sign_is_a_road():
    assert parse("十全街88弄3号").road == "十全街88弄"
    assert parse("十全街88弄3号").number == "3"
    # 新市路 is a road, not a city named 新市
    assert parse("新市路12号A座1203") == addresses.Parsed(road="新市路", number="12",
                                                        building="A", room="1203")


def test_a_missing_part_ends_the_key_prefix_with_a_separator():
    # a door number 88 must not reach 880
    assert key("平江路88号", community_code=CODE) == f"{CODE}|平江路|88|"
    assert key("平江路88号3幢", community_code=CODE) == f"{CODE}|平江路|88|3|"
    assert key("平江路88号3幢2单元", community_code=CODE) == f"{CODE}|平江路|88|3|2|"


def test_a_room_without_a_unit_is_a_room_of_a_building_without_units():
    # as the standard address of such a house reads: …3幢302室
    assert key("平江路88号3幢302", community_code=CODE) == f"{CODE}|平江路|88|3||302"
    assert key("姑苏区 平江路 88 号 3 栋 302", community_code=CODE) == house_key(
        building_key(CODE, "平江路", "88号", "3幢"), "", "302室")


def test_building_and_house_keys_are_one_prefix_of_the_other():
    b = building_key(CODE, "平江路", "88号", "三幢")
    assert b == f"{CODE}|平江路|88|3"
    assert house_key(b, "2单元", "0302室") == f"{b}|2|302"


# ---------------------------------------------------------------- with the database

@pytest.mark.django_db
def test_the_fixture_keys_are_the_keys_the_functions_make(places, territory):
    b = places.west_building
    assert building_key(territory.west_community.code, b.road, b.number, b.building) == b.key
    assert house_key(b.key, "1", "101") == places.west_house.key


@pytest.mark.django_db
def test_a_typed_address_finds_its_community_from_the_road(places, territory):
    assert key("西园路1号1幢1单元101室") == places.west_house.key
    assert key("苏州市 西园路 1 号 1 栋 1-101") == places.west_house.key
    assert places.west_house.key.startswith(key("西园路1号"))


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["西园路1号1幢1单元101室", "苏州市虎丘区西园路1号1-1-101",
                                   "西社区西园路１号一栋一单元101号房"])
def test_match_finds_the_house_exactly(places, typed):
    found = addresses.match(typed)
    assert found is not None and found.exact
    assert found.house == places.west_house and found.building == places.west_building
    assert (found.grid_id, found.lng, found.lat) == (places.west_building.grid_id, 120.005,
                                                     31.015)


@pytest.mark.django_db
def test_match_falls_back_to_the_building_then_to_the_door_number(places):
    building = addresses.match("西园路1号1幢")
    assert building.house is None and building.building == places.west_building
    assert building.exact
    # the unit left out: the building's only room 101
    no_unit = addresses.match("西园路1号1幢101")
    assert no_unit.house == places.west_house and not no_unit.exact
    room_unknown = addresses.match("西园路1号1幢9单元909室")
    assert room_unknown.building == places.west_building and not room_unknown.exact
    other_building = addresses.match("西园路1号7幢")
    assert other_building.building == places.west_building and not other_building.exact
    assert addresses.match("西园路2号") is None
    assert addresses.match("无名路5号") is None
    assert addresses.match("") is None


@pytest.mark.django_db
def test_match_keeps_to_the_scope(places, personas):
    east = Scope.for_user(personas.east_operator)
    assert addresses.match("西园路1号1幢1单元101室", scope=east) is None
    assert addresses.match("东园路1号1幢1单元101室", scope=east).house == places.east_house
    worker = Scope.for_user(personas.worker)
    assert addresses.match("西园路1号1幢1单元101室", scope=worker).house == places.west_house
    assert addresses.match("东园路1号1幢", scope=worker) is None


@pytest.mark.django_db
def test_the_standard_address_names_district_town_and_community(territory):
    text = addresses.standard_address(territory.west_community, "平江路", "88号", "平江花园",
                                      "3号楼", "2", "302")
    assert text == "虎丘区西街道西社区平江路88号(平江花园)3幢2单元302室"
    parsed = parse(text)
    assert (parsed.district, parsed.town, parsed.community, parsed.estate) == (
        "虎丘区", "西街道", "西社区", "平江花园")
    assert key(text) == f"{territory.west_community.code}|平江路|88|3|2|302"


@pytest.mark.django_db
def test_a_road_in_two_communities_gives_a_prefix_for_each(places, territory, personas):
    from shanzhi.registry.models import Building, House

    east = Building.objects.create(
        grid=territory.east_grids[0], community=territory.east_community, road="西园路",
        number="1号", building="1幢", lng=120.025, lat=31.016, address="东社区西园路1号1幢",
        key=building_key(territory.east_community.code, "西园路", "1号", "1幢"))
    east_house = House.objects.create(grid=east.grid, building=east, unit="1", room="101",
                                      address=east.address + "1单元101室",
                                      key=house_key(east.key, "1", "101"))
    assert addresses.keys("西园路1号1幢1单元101室") == [places.west_house.key, east_house.key]
    assert set(House.objects.filter(addresses.house_filter("西园路1号"))) == {
        places.west_house, east_house}
    west = Scope.for_user(personas.west_operator)
    assert addresses.keys("西园路1号", scope=west) == [f"{territory.west_community.code}|西园路|1|"]
    # the district named picks the community
    assert addresses.key("吴中区西园路1号1幢1单元101室") == east_house.key
    assert not House.objects.filter(addresses.house_filter("无名路1号")).exists()
