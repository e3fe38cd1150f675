"""Address to place: every form of address the resolver reads, on a hand-built
gazetteer over the square territory of tests/conftest.py (west district
虎丘区 lng 120.00–120.02, east 吴中区 120.02–120.04, lat 31.00–31.02; grids
001 NW, 002 NE, 003 SW, 004 SE of each), and the type-ahead.

The gazetteer (``gaz``):

* 西园路 runs west–east at lat 31.015 across the west district; 中心路 runs
  south–north at lng 120.005 and crosses it at (120.005, 31.015), in west
  grid 001.
* 观前街 runs west–east at lat 31.012; the landmark 玄妙观 stands just
  north of it at (120.012, 31.0125), in west grid 002.
* 人民路 twice: at lng 120.015 in the west district and at lng 120.035 in
  the east; 干将路 crosses both at lat 31.005 (grid 004 of each side).
* the area 西湖 (a square in the west district).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shanzhi.accounts.scope import Scope
from shanzhi.intake import places
from shanzhi.intake.gazetteer import import_features
from shanzhi.registry.places import building_create, house_create


def line(*points):
    return {"type": "LineString", "coordinates": [list(p) for p in points]}


def feature(name, geometry, **props):
    return {"type": "Feature", "geometry": geometry, "properties": {"name": name, **props}}


GAZETTEER = [
    feature("西园路", line((120.001, 31.015), (120.019, 31.015))),
    feature("中心路", line((120.005, 31.001), (120.005, 31.019))),
    feature("观前街", line((120.003, 31.012), (120.018, 31.012))),
    feature("玄妙观", {"type": "Point", "coordinates": [120.012, 31.0125]}, aliases=["玄妙观山门"]),
    feature("人民路", line((120.015, 31.001), (120.015, 31.019)), region="320505"),
    feature("人民路", line((120.035, 31.001), (120.035, 31.019)), region="320506"),
    feature("干将路", line((120.001, 31.005), (120.039, 31.005)), region="320500"),
    feature("西湖", {"type": "Polygon", "coordinates": [[
        [120.002, 31.002], [120.008, 31.002], [120.008, 31.008], [120.002, 31.008],
        [120.002, 31.002]]]}),
]


def make_flat(personas):
    """西园路8号3幢2单元302室, a flat in west grid 001 (at 120.003, 31.016)."""
    building = building_create(actor=personas.admin, road="西园路", number="8", building="3",
                               estate="西园小区", lng=120.003, lat=31.016)
    return house_create(actor=personas.admin, building=building, unit="2", room="302")


def grid_of(place) -> str:
    from shanzhi.geo.index import get_index

    return get_index().grid(place.grid_id).code


# ---------------------------------------------------------------- standard addresses

def test_it_places_a_house_typed_in_full(flat):
    place = places.resolve("苏州市虎丘区西园路8号3幢2单元302室")
    assert (place.kind, place.confidence, place.confident) == ("house", 0.95, True)
    assert place.label == flat.address
    assert (place.lng, place.lat) == (120.003, 31.016)
    assert grid_of(place) == "320505001001001"
    assert place.region_id == flat.building.community_id


@pytest.mark.parametrize("typed", ["西园路８号３号楼２单元３０２室", "西园路8号3-2-302",
                                   "西园路 八号 三幢 二单元 三零二室",
                                   "虎丘区 西园路8号3栋2单元302"])
def test_it_reads_the_same_house_in_other_spellings(flat, typed):
    place = places.resolve(typed)
    assert place.kind == "house" and place.label == flat.address


def test_a_building_typed_is_placed_at_the_building(flat):
    place = places.resolve("西园路8号三幢")
    assert (place.kind, place.confidence, place.confident) == ("building", 0.9, True)


def test_a_building_unknown_at_a_known_door_takes_the_door(flat):
    place = places.resolve("西园路8号9幢")
    assert (place.kind, place.confidence, place.confident) == ("building", 0.8, True)
    assert grid_of(place) == "320505001001001"


def test_an_out_of_territory_operator_does_not_find_the_house(flat, personas):
    place = places.resolve("西园路8号3幢2单元302室",
                           scope=Scope.for_user(personas.east_operator))
    assert place.kind == "road" and not place.confident  # only the road is public


def test_a_door_in_several_communities_is_not_confident_unless_the_district_says(
        flat, personas):
    building_create(actor=personas.admin, road="西园路", number="8", building="3",
                    lng=120.033, lat=31.016)  # the same door in the east community
    both = places.resolve("西园路8号3幢")
    assert both.kind == "building" and both.confidence == 0.5 and not both.confident
    east = places.resolve("吴中区西园路8号3幢")
    assert east.confident and grid_of(east) == "320506001001002"
    mine = places.resolve("西园路8号3幢", scope=Scope.for_user(personas.west_operator))
    assert mine.confident and grid_of(mine) == "320505001001001"


def test_a_road_that_reads_like_a_town_is_found_when_the_community_is_named(gaz, personas):
    building = building_create(actor=personas.admin, road="鲈乡北路", number="1", building="1",
                               lng=120.004, lat=31.004)
    place = places.resolve("虎丘区西街道西社区鲈乡北路1号1幢")
    assert place.kind == "building" and place.label == building.address and place.confident


# ---------------------------------------------------------------- intersections

@pytest.mark.parametrize("typed", ["西园路和中心路路口", "中心路与西园路交叉口", "西园路/中心路",
                                   "西园路、中心路交汇处", "中心路西园路口",
                                   "虎丘区西园路与中心路"])
def test_it_places_a_crossing_where_the_roads_meet(gaz, typed):
    place = places.resolve(typed)
    assert place.kind == "intersection" and place.confident
    assert place.lng == pytest.approx(120.005, abs=1e-6)
    assert place.lat == pytest.approx(31.015, abs=1e-6)
    assert grid_of(place) == "320505001001001"


def test_roads_that_do_not_meet_are_no_crossing(gaz):
    place = places.resolve("观前街和西园路路口")  # parallel, 330 m apart
    assert place.kind == "road" and not place.confident


def test_roads_passing_within_50_m_meet_at_their_nearest_points(gaz):
    import_features([feature("短街", line((120.009, 31.0153), (120.009, 31.018)))],
                    source="test2")  # ends 33 m north of 西园路
    place = places.resolve("短街与西园路路口")
    assert place.kind == "intersection" and place.confident
    assert place.lng == pytest.approx(120.009, abs=1e-6)
    assert place.lat == pytest.approx(31.01515, abs=1e-5)


def test_a_district_named_tells_which_namesake_is_meant(gaz):
    east = places.resolve("吴中区人民路和干将路路口")
    west = places.resolve("虎丘区人民路与干将路路口")
    assert east.lng == pytest.approx(120.035) and east.confident
    assert west.lng == pytest.approx(120.015) and west.confident
    assert grid_of(east) == "320506001001004" and grid_of(west) == "320505001001004"


def test_a_crossing_of_namesakes_without_a_district_is_not_confident(gaz):
    place = places.resolve("人民路和干将路路口")
    assert place.kind == "intersection" and not place.confident


def test_the_actors_territory_tells_which_namesake_is_meant(gaz, personas):
    place = places.resolve("人民路和干将路路口", scope=Scope.for_user(personas.east_operator))
    assert place.lng == pytest.approx(120.035) and place.confident


# ---------------------------------------------------------------- landmarks

def test_a_landmark_with_its_road_is_placed_on_the_road_by_the_landmark(gaz):
    place = places.resolve("观前街北侧近玄妙观")
    assert place.kind == "landmark" and place.confident
    assert place.confidence == pytest.approx(0.85)
    assert (place.lng, place.lat) == (pytest.approx(120.012), pytest.approx(31.012))
    assert place.label == "观前街（近玄妙观）"
    assert grid_of(place) == "320505001001002"


@pytest.mark.parametrize("typed", ["玄妙观门口", "玄妙观山门旁边", "在玄妙观附近"])
def test_a_landmark_alone_is_placed_at_the_landmark(gaz, typed):
    place = places.resolve(typed)
    assert place.kind == "landmark" and place.confident and place.confidence == 0.8
    assert (place.lng, place.lat) == (120.012, 31.0125)


def test_a_landmark_with_a_far_road_stays_at_the_landmark(gaz):
    place = places.resolve("中心路玄妙观")  # 中心路 is 670 m west
    assert (place.lng, place.lat) == (120.012, 31.0125)


# ---------------------------------------------------------------- whole roads, areas, regions

def test_a_road_alone_is_its_middle_and_never_confident(gaz, settings):
    settings.INTAKE_PLACE_CONFIDENT = 0.1
    place = places.resolve("中心路")
    assert place.kind == "road" and place.confidence == 0.3 and not place.confident
    assert (place.lng, place.lat) == (pytest.approx(120.005), pytest.approx(31.01))


def test_a_door_number_on_a_road_without_buildings_is_the_road(gaz):
    place = places.resolve("中心路999号")
    assert place.kind == "road" and not place.confident


def test_an_area_is_its_inside_point_and_not_confident(gaz):
    place = places.resolve("西湖边上")
    assert place.kind == "area" and not place.confident
    assert 120.002 < place.lng < 120.008 and 31.002 < place.lat < 31.008


def test_a_region_alone_gives_the_region_and_a_point_in_it(gaz):
    place = places.resolve("吴中区东街道")
    assert place.kind == "region" and not place.confident
    assert place.region_id == gaz.east_town.id and place.confidence == 0.3
    assert 120.02 < place.lng < 120.04 and 31.0 < place.lat < 31.02
    community = places.resolve("西社区")
    assert community.region_id == gaz.west_community.id and community.confidence == 0.4
    district = places.resolve("虎丘区")
    assert district.region_id == gaz.west.id and district.confidence == 0.2


@pytest.mark.parametrize("typed", ["", "   ", "火星基地", "某某小区门口", "123"])
def test_nothing_known_is_none(gaz, typed):
    assert places.resolve(typed) is None


def test_a_new_name_is_found_as_soon_as_it_is_imported(gaz):
    assert places.resolve("北寺塔") is None
    import_features([feature("北寺塔", {"type": "Point", "coordinates": [120.031, 31.011]})],
                    source="more")
    place = places.resolve("北寺塔")
    assert place.kind == "landmark" and grid_of(place) == "320506001001002"


#: What random texts are made of: the names' characters, digits, separators.
FRAGMENTS = "西园路中心观前街玄妙人民干将和与号幢室区12３ -/、"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list(FRAGMENTS)), max_size=30))
def test_any_text_resolves_or_is_none_never_an_error(gaz, text):
    place = places.resolve(text)
    if place is not None:
        assert 0 <= place.confidence <= 1 and place.label
        assert place.lng is None or (120.0 <= place.lng <= 120.04 and 31.0 <= place.lat <= 31.02)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spaces=st.lists(st.sampled_from(["", " ", "　", "，"]), min_size=4, max_size=4),
       wide=st.booleans())
def test_spacing_and_width_do_not_change_the_place(gaz, spaces, wide):
    text = f"西园路{spaces[0]}和{spaces[1]}中心路{spaces[2]}路口{spaces[3]}"
    if wide:
        text = text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    place = places.resolve(text)
    assert place.kind == "intersection"
    assert (place.lng, place.lat) == (pytest.approx(120.005), pytest.approx(31.015))


# ---------------------------------------------------------------- type-ahead

def test_completion_offers_names_that_start_with_the_text_first(gaz):
    labels = [o["label"] for o in places.complete("观")]
    assert labels[0].startswith("观前街")  # starts with 观
    assert labels[1].startswith("玄妙观")  # contains it
    shortest = [o["label"] for o in places.complete("西")]
    assert shortest[0].startswith("西湖") and shortest[1].startswith("西园路")
    assert "虎丘区西街道西社区" in shortest and "虎丘区西街道" in shortest


def test_completion_finds_names_that_contain_the_text(gaz):
    options = places.complete("妙观")
    assert options[0]["kind"] == "landmark" and options[0]["label"].startswith("玄妙观")
    assert options[0]["lng"] == 120.012


def test_completion_finds_an_alias_and_names_the_place(gaz):
    options = places.complete("玄妙观山")
    assert options[0]["label"].startswith("玄妙观山门（玄妙观）")


def test_completion_offers_standard_addresses_at_a_door(flat):
    options = places.complete("西园路8")
    assert options[0] == {"label": flat.building.address, "kind": "building",
                          "lng": 120.003, "lat": 31.016}
    houses = places.complete("西园路8号3幢2单元3")
    assert [o["label"] for o in houses] == [flat.address]


def test_completion_keeps_houses_to_the_territory(flat, personas):
    east = Scope.for_user(personas.east_operator)
    assert places.complete("西园路8号", scope=east) == [
        o for o in places.complete("西园路8号", scope=east) if o["kind"] != "building"]
    assert not [o for o in places.complete("西园路8号", scope=east) if o["kind"] == "building"]
    west = Scope.for_user(personas.west_operator)
    assert [o for o in places.complete("西园路8号", scope=west) if o["kind"] == "building"]


def test_completion_stops_at_the_limit_and_ignores_blank_text(gaz):
    assert len(places.complete("路", limit=2)) == 2
    assert places.complete("  ") == []


def test_completion_after_the_regions_typed_keeps_to_them(flat, personas):
    assert places.complete("虎丘区西园")[0]["label"] == "西园路 · 虎丘区"
    assert not [o for o in places.complete("吴中区西园") if o["kind"] == "road"]
    below = [o["label"] for o in places.complete("虎丘区西街道")]
    assert below == ["虎丘区西街道", "虎丘区西街道西社区"]
    assert places.complete("虎丘区西街道西社区西园路8")[0]["label"] == flat.building.address
    assert not [o for o in places.complete("吴中区西园路8") if o["kind"] == "building"]


def test_completion_of_a_whole_door_number_does_not_reach_longer_ones(flat, personas):
    other = building_create(actor=personas.admin, road="西园路", number="88", building="1",
                            lng=120.004, lat=31.016)
    assert {o["label"] for o in places.complete("西园路8") if o["kind"] == "building"} == {
        flat.building.address, other.address}
    assert [o["label"] for o in places.complete("西园路8号") if o["kind"] == "building"] == [
        flat.building.address]
