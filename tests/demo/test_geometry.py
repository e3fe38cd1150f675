"""Tests of the synthetic town / community / grid generator of the Suzhou demo city."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box

from shanzhi.demo import load as demo_load
from shanzhi.demo.geometry import Area, generate_city, is_rural_town

AREA_TOLERANCE = 1e-12  # deg²
COVER_TOLERANCE = 1e-9  # relative

TOWN_CODE = re.compile(r"^\d{9}$")
COMMUNITY_CODE = re.compile(r"^\d{9}(00[1-9]|0[1-9]\d|1\d\d|[23]\d\d)$")
GRID_CODE = re.compile(r"^\d{12}(00[1-9]|0[1-9]\d|[1-9]\d\d)$")


# ------------------------------------------------------------------------------ helpers


def load_suzhou() -> tuple[dict[str, shapely.Geometry], dict[str, list[tuple[str, str]]]]:
    """The real district polygons and town list shipped with the demo, keyed by 2023 codes."""
    districts, _names, towns = demo_load.load_suzhou()
    return districts, towns


def geometries(areas: Iterable[Area]) -> np.ndarray:
    return np.array([area.geometry for area in areas])


def wkb(areas: Iterable[Area]) -> list[tuple[str, str, str, bytes]]:
    return [(a.code, a.name, a.parent_code, shapely.to_wkb(a.geometry)) for a in areas]


def assert_inside(children: list[Area], parents: Mapping[str, shapely.Geometry]) -> None:
    """Every child lies inside its parent."""
    outside = shapely.area(
        shapely.difference(
            geometries(children), np.array([parents[c.parent_code] for c in children])
        )
    )
    worst = int(np.argmax(outside))
    assert outside[worst] < AREA_TOLERANCE, (children[worst].code, outside[worst])


def assert_no_overlap(areas: list[Area]) -> None:
    """No two areas of one level overlap (siblings or not)."""
    geoms = geometries(areas)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    overlap = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    if len(overlap):
        worst = int(np.argmax(overlap))
        pair = (areas[left[worst]].code, areas[right[worst]].code)
        assert overlap[worst] < AREA_TOLERANCE, (pair, overlap[worst])


def assert_cover(children: list[Area], parents: Mapping[str, shapely.Geometry]) -> None:
    """The children of every parent cover it without gaps."""
    by_parent: dict[str, list[shapely.Geometry]] = defaultdict(list)
    for child in children:
        by_parent[child.parent_code].append(child.geometry)
    for code, parts in by_parent.items():
        parent_area = parents[code].area
        gap = abs(parent_area - shapely.union_all(parts).area) / parent_area
        assert gap < COVER_TOLERANCE, (code, gap)


def assert_partition(children: list[Area], parents: Mapping[str, shapely.Geometry]) -> None:
    assert_inside(children, parents)
    assert_no_overlap(children)
    assert_cover(children, parents)


# ------------------------------------------------------------------------------ fixture


@pytest.fixture(scope="module")
def suzhou() -> tuple[dict[str, shapely.Geometry], dict[str, list[tuple[str, str]]]]:
    return load_suzhou()


@pytest.fixture(scope="module")
def city(suzhou) -> tuple[list[Area], list[Area], list[Area]]:
    districts, towns = suzhou
    return generate_city(districts=districts, towns=towns)


@pytest.fixture(scope="module")
def towns(city) -> list[Area]:
    return city[0]


@pytest.fixture(scope="module")
def communities(city) -> list[Area]:
    return city[1]


@pytest.fixture(scope="module")
def grids(city) -> list[Area]:
    return city[2]


def by_code(areas: Iterable[Area]) -> dict[str, shapely.Geometry]:
    return {area.code: area.geometry for area in areas}


# -------------------------------------------------------------------------------- counts


def test_every_real_town_is_generated_with_its_real_code_name_and_district(suzhou, towns):
    _, real = suzhou
    expected = {(code, name, district) for district, rows in real.items() for code, name in rows}
    assert len(towns) == 118
    assert {(t.code, t.name, t.parent_code) for t in towns} == expected


def test_the_city_has_about_two_thousand_communities_and_at_least_three_per_town(
    towns, communities
):
    assert 1_900 <= len(communities) <= 2_100
    per_town = Counter(c.parent_code for c in communities)
    assert set(per_town) == {t.code for t in towns}
    assert min(per_town.values()) >= 3


def test_the_city_has_at_least_ten_thousand_grids_and_at_least_three_per_community(
    communities, grids
):
    assert len(grids) >= 10_000
    per_community = Counter(g.parent_code for g in grids)
    assert set(per_community) == {c.code for c in communities}
    assert min(per_community.values()) >= 3


def test_larger_towns_get_more_communities(towns, communities):
    per_town = Counter(c.parent_code for c in communities)
    area = {t.code: t.geometry.area for t in towns}
    largest = max(area, key=area.get)
    smallest = min(area, key=area.get)
    assert per_town[largest] > per_town[smallest]


# --------------------------------------------------------------------------------- codes


def test_codes_follow_the_official_format_and_extend_their_parent_code(towns, communities, grids):
    assert all(TOWN_CODE.match(t.code) and t.code.startswith(t.parent_code) for t in towns)
    assert all(COMMUNITY_CODE.match(c.code) and c.code[:9] == c.parent_code for c in communities)
    assert all(GRID_CODE.match(g.code) and g.code[:12] == g.parent_code for g in grids)


def test_codes_are_unique(towns, communities, grids):
    codes = [area.code for area in (*towns, *communities, *grids)]
    assert len(codes) == len(set(codes))


def test_neighbourhoods_are_numbered_below_200_and_villages_from_200(communities):
    for community in communities:
        number = int(community.code[-3:])
        if community.name.endswith("社区"):
            assert 1 <= number <= 199, community
        else:
            assert community.name.endswith("村"), community
            assert 200 <= number <= 399, community


def test_only_rural_towns_have_villages_and_every_rural_town_has_both_kinds(towns, communities):
    kinds: dict[str, set[str]] = defaultdict(set)
    for community in communities:
        kinds[community.parent_code].add("村" if community.name.endswith("村") else "社区")
    for town in towns:
        if is_rural_town(code=town.code, name=town.name):
            assert kinds[town.code] == {"社区", "村"}, town.name
        else:
            assert kinds[town.code] == {"社区"}, town.name


def test_rural_towns_are_the_towns_named_zhen():
    assert is_rural_town(code="320505100", name="通安镇")
    assert is_rural_town(code="320505400", name="浒墅关经开区（镇）")
    assert not is_rural_town(code="320505001", name="横塘街道")
    assert not is_rural_town(code="320505405", name="苏州高新技术创业服务中心")


def test_each_kind_of_community_is_numbered_from_its_first_number_without_gaps(communities):
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for community in communities:
        kind = "村" if community.name.endswith("村") else "社区"
        numbers[community.parent_code, kind].append(int(community.code[-3:]))
    for (_, kind), found in numbers.items():
        first = 200 if kind == "村" else 1
        assert sorted(found) == list(range(first, first + len(found)))


def test_grids_are_numbered_from_one_without_gaps(grids):
    numbers: dict[str, list[int]] = defaultdict(list)
    for grid in grids:
        numbers[grid.parent_code].append(int(grid.code[-3:]))
    for found in numbers.values():
        assert sorted(found) == list(range(1, len(found) + 1))


def test_the_first_grid_of_a_community_is_north_or_west_of_the_last(grids):
    by_community: dict[str, list[Area]] = defaultdict(list)
    for grid in grids:
        by_community[grid.parent_code].append(grid)
    for members in by_community.values():
        members.sort(key=lambda g: g.code)
        first, last = members[0].geometry.centroid, members[-1].geometry.centroid
        assert first.y > last.y or first.x <= last.x, members[0].code


# --------------------------------------------------------------------------------- names


def test_community_names_are_chinese_and_unique_within_a_town(communities):
    names: dict[str, list[str]] = defaultdict(list)
    for community in communities:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2}(社区|村)", community.name), community.name
        names[community.parent_code].append(community.name[:2])
    for found in names.values():
        assert len(found) == len(set(found))


def test_grid_names_are_the_community_name_and_the_grid_number(communities, grids):
    name = {c.code: c.name for c in communities}
    for grid in grids:
        assert grid.name == f"{name[grid.parent_code]}第{int(grid.code[-3:])}网格"


# ------------------------------------------------------------------------------ geometry


def test_every_geometry_is_a_valid_nonempty_polygon_or_multipolygon(towns, communities, grids):
    geoms = geometries((*towns, *communities, *grids))
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert (shapely.area(geoms) > 0).all()
    assert np.isin(shapely.get_type_id(geoms), (3, 6)).all()  # Polygon, MultiPolygon


def test_every_town_lies_inside_its_district(suzhou, towns):
    assert_inside(towns, suzhou[0])


def test_every_community_lies_inside_its_town(towns, communities):
    assert_inside(communities, by_code(towns))


def test_every_grid_lies_inside_its_community(communities, grids):
    assert_inside(grids, by_code(communities))


def test_towns_do_not_overlap(towns):
    assert_no_overlap(towns)


def test_communities_do_not_overlap(communities):
    assert_no_overlap(communities)


def test_grids_do_not_overlap(grids):
    assert_no_overlap(grids)


def test_towns_cover_their_district_without_gaps(suzhou, towns):
    assert_cover(towns, suzhou[0])


def test_communities_cover_their_town_without_gaps(towns, communities):
    assert_cover(communities, by_code(towns))


def test_grids_cover_their_community_without_gaps(communities, grids):
    assert_cover(grids, by_code(communities))


# --------------------------------------------------------------------------- determinism


def test_the_same_seed_gives_byte_identical_output(suzhou, city):
    districts, towns = suzhou
    again = generate_city(districts=districts, towns=towns)
    for first, second in zip(city, again, strict=True):
        assert wkb(first) == wkb(second)


def test_the_input_order_does_not_change_the_output(suzhou, towns):
    districts, real = suzhou
    shuffled = {code: list(reversed(rows)) for code, rows in reversed(real.items())}
    again, _, _ = generate_city(
        districts=dict(reversed(districts.items())), towns=shuffled, target_grids=0
    )
    assert wkb(again) == wkb(towns)


def test_a_different_seed_gives_different_shapes_with_the_same_towns(suzhou, towns):
    districts, real = suzhou
    other, _, _ = generate_city(districts=districts, towns=real, seed=7, target_grids=0)
    assert [t.code for t in other] == [t.code for t in towns]
    assert sum(a.geometry.equals(b.geometry) for a, b in zip(other, towns, strict=True)) == 0


# -------------------------------------------------------------------------- small inputs


SHAPES = {
    "square": box(0, 0, 0.1, 0.1),
    "l_shape": Polygon([(0, 0), (0.1, 0), (0.1, 0.02), (0.02, 0.02), (0.02, 0.1), (0, 0.1)]),
    "ring": box(0, 0, 0.1, 0.1).difference(box(0.01, 0.01, 0.09, 0.09)),
    "islands": MultiPolygon([box(0, 0, 0.03, 0.03), box(0.05, 0.05, 0.051, 0.09)]),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape_name=st.sampled_from(sorted(SHAPES)),
    seed=st.integers(min_value=0, max_value=2**32),
    town_count=st.integers(min_value=1, max_value=6),
    target_grids=st.integers(min_value=0, max_value=300),
)
def test_any_district_shape_is_partitioned_at_every_level(
    shape_name, seed, town_count, target_grids
):
    districts = {"320599": SHAPES[shape_name]}
    names = ["甲街道", "乙镇", "丙街道", "丁镇", "戊开发区", "己镇"]
    town_rows = [(f"320599{100 * (i % 2) + i + 1:03d}", names[i]) for i in range(town_count)]
    towns, communities, grids = generate_city(
        districts=districts,
        towns={"320599": town_rows},
        seed=seed,
        target_grids=target_grids,
        target_communities=20,
    )
    assert len(towns) == town_count
    assert len(communities) >= max(20, 3 * town_count)
    assert len(grids) >= max(target_grids, 3 * len(communities))
    for children, parents in (
        (towns, districts),
        (communities, by_code(towns)),
        (grids, by_code(communities)),
    ):
        geoms = geometries(children)
        assert shapely.is_valid(geoms).all()
        assert np.isin(shapely.get_type_id(geoms), (3, 6)).all()
        assert_partition(children, parents)


def test_an_invalid_district_is_repaired_before_it_is_partitioned():
    bowtie = Polygon([(0, 0), (0.1, 0.1), (0.1, 0), (0, 0.1)])
    assert not bowtie.is_valid
    towns, communities, grids = generate_city(
        districts={"320599": bowtie},
        towns={"320599": [("320599001", "甲街道"), ("320599100", "乙镇")]},
        target_grids=50,
        target_communities=8,
    )
    repaired = {"320599": shapely.make_valid(bowtie)}
    assert_partition(towns, repaired)
    assert_partition(communities, by_code(towns))
    assert_partition(grids, by_code(communities))


def test_a_district_without_towns_is_skipped():
    towns, communities, grids = generate_city(
        districts={"320599": box(0, 0, 1, 1)}, towns={"320599": []}
    )
    assert (towns, communities, grids) == ([], [], [])


@pytest.mark.parametrize(
    "town_rows",
    [
        {"320599": [("32059900", "短码街道")]},
        {"320599": [("320599001", "甲街道"), ("320599001", "乙街道")]},
        {"320598": [("320598001", "甲街道")]},
    ],
    ids=["short code", "duplicate code", "unknown district"],
)
def test_malformed_town_lists_are_rejected(town_rows):
    with pytest.raises(ValueError):
        generate_city(districts={"320599": box(0, 0, 1, 1)}, towns=town_rows)
