"""The spatial index (point → grid → community → town → district → city) and
GET /api/v1/geo/locate.

Edge rule: a point on a boundary shared by several grids belongs to the grid
with the smallest code; among regions of one level, likewise. The
``territory`` fixture (tests/conftest.py): west district 320505 is lng
120.00–120.02, east 320506 is 120.02–120.04, lat 31.00–31.02; each holds one
town, one community and four 0.01° grids, 001 north-west, 002 north-east,
003 south-west, 004 south-east. The fixture's 120.0 + 0.01 is the double
120.01, so a point given as 120.01 lies exactly on that edge.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box, mapping

from shanzhi.geo import index as index_module
from shanzhi.geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from shanzhi.geo.index import SpatialIndex, get_index, reset_index
from shanzhi.geo.models import Grid, Region, TerritoryRevision
from shanzhi.geo.services import to_wkb

WEST = "320505001001"  # the west community; its grids are WEST + "001" … "004"
EAST = "320506001001"
WEST_CHAIN = [WEST, "320505001", "320505", "320500"]
URL = "/api/v1/geo/locate"


def chain(location) -> list[str]:
    return [r.code for r in location.regions]


def grid_code(location) -> str | None:
    return location.grid.code if location.grid else None


@pytest.fixture
def index(territory) -> SpatialIndex:
    return SpatialIndex.from_database()


# ---------------------------------------------------------------------- one point


def test_an_interior_point_finds_its_grid_and_every_region_above_it(index):
    location = index.locate(120.005, 31.015)
    assert location.inside
    assert grid_code(location) == WEST + "001"
    assert chain(location) == WEST_CHAIN
    assert grid_code(index.locate(120.035, 31.005)) == EAST + "004"
    assert chain(index.locate(120.035, 31.005)) == [EAST, "320506001", "320506", "320500"]


@pytest.mark.parametrize("lng, lat, lower, higher", [
    (120.01, 31.015, "001", "002"),   # the vertical edge between north-west and north-east
    (120.005, 31.01, "001", "003"),   # the horizontal edge between north-west and south-west
    (120.015, 31.01, "002", "004"),
    (120.01, 31.005, "003", "004"),
])
def test_a_point_on_the_edge_shared_by_two_grids_belongs_to_the_lower_code(
        index, lng, lat, lower, higher):
    location = index.locate(lng, lat)
    assert grid_code(location) == WEST + lower
    assert chain(location) == WEST_CHAIN


def test_a_point_on_the_vertex_of_four_grids_belongs_to_the_lowest_code(index):
    assert grid_code(index.locate(120.01, 31.01)) == WEST + "001"
    assert grid_code(index.locate(120.03, 31.01)) == EAST + "001"


def test_a_point_on_the_district_border_belongs_to_the_west_grid_whose_code_is_lower(index):
    on_edge = index.locate(120.02, 31.005)  # west 004 | east 003
    assert grid_code(on_edge) == WEST + "004"
    assert chain(on_edge) == WEST_CHAIN
    on_vertex = index.locate(120.02, 31.01)  # west 002 and 004, east 001 and 003
    assert grid_code(on_vertex) == WEST + "002"


def test_a_point_on_the_city_border_is_inside(index):
    assert grid_code(index.locate(120.0, 31.0)) == WEST + "003"
    assert grid_code(index.locate(120.0, 31.02)) == WEST + "001"
    assert grid_code(index.locate(120.03, 31.0)) == EAST + "003"


@pytest.mark.parametrize("left_out, lowest", [
    ([WEST + "001"], WEST),                       # an ungridded corner of the community
    ([WEST + "001", WEST], "320505001"),          # … where the community has no boundary
    ([WEST + "001", WEST, "320505001"], "320505"),
])
def test_a_point_in_no_grid_is_outside_but_keeps_the_lowest_region_that_covers_it(
        territory, left_out, lowest):
    index = SpatialIndex(
        [r for r in Region.objects.current() if r.code not in left_out],
        [g for g in Grid.objects.current() if g.code not in left_out])
    location = index.locate(120.005, 31.015)
    assert not location.inside
    assert location.grid is None
    assert chain(location)[0] == lowest
    assert chain(location)[-2:] == ["320505", "320500"]
    assert location.region("district").code == "320505"


def test_a_point_outside_the_city_has_no_grid_and_no_region(index):
    location = index.locate(121.0, 31.5)
    assert location.as_dict() == {"lng": 121.0, "lat": 31.5, "inside": False, "grid": None,
                                  "regions": []}


def test_a_point_just_outside_the_city_border_is_outside(index):
    assert index.locate(120.04 + 1e-9, 31.01).regions == ()
    assert index.locate(120.0, 31.02 + 1e-9).regions == ()


# ------------------------------------------------------------- bulk against single

#: Coordinates on the fixture's edges, beside them, and anywhere around.
lng_values = st.one_of(st.sampled_from([119.99, 120.0, 120.005, 120.01, 120.02, 120.03, 120.04,
                                        120.05]),
                       st.floats(119.995, 120.045))
lat_values = st.one_of(st.sampled_from([30.99, 31.0, 31.005, 31.01, 31.02, 31.03]),
                       st.floats(30.995, 31.025))


def test_bulk_single_and_raster_lookups_all_follow_the_edge_rule(territory):
    index = SpatialIndex.from_database()
    squares = sorted((g.code, g.shape) for g in Grid.objects.current())

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(lng_values, lat_values), min_size=1, max_size=40))
    def check(points):
        want = [next((code for code, square in squares if square.covers(Point(x, y))), None)
                for x, y in points]
        lng, lat = np.array(points).T
        singles = [index.locate(x, y) for x, y in points]
        assert [grid_code(s) for s in singles] == want
        for raster in (False, True):
            grid_idx, region_ids = index.locate_many(lng, lat, raster=raster)
            assert [index.grids.nodes[i].code if i >= 0 else None for i in grid_idx] == want
            assert [index.chain(int(r) or None) for r in region_ids] == \
                [s.regions for s in singles]

    check()


def on_lattice(i: int, j: int, step: float = 0.001) -> tuple[float, float]:
    """Lattice point (i, j). ``on_lattice(2 * i, 2 * j, 0.0005)`` is the very
    same double as ``on_lattice(i, j)``, so half-lattice points fall exactly
    on the polygons' edges and corners."""
    return 120.0 + i * step, 31.0 + j * step


@st.composite
def polygons(draw):
    """A box on the lattice, sometimes with a hole."""
    i0, i1 = sorted(draw(st.lists(st.integers(0, 20), min_size=2, max_size=2, unique=True)))
    j0, j1 = sorted(draw(st.lists(st.integers(0, 20), min_size=2, max_size=2, unique=True)))
    shape = box(*on_lattice(i0, j0), *on_lattice(i1, j1))
    if draw(st.booleans()) and i1 - i0 > 2 and j1 - j0 > 2:
        shape = shape.difference(box(*on_lattice(i0 + 1, j0 + 1), *on_lattice(i1 - 1, j1 - 1)))
    return shape


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(polygons(), min_size=1, max_size=12),
       st.lists(st.builds(on_lattice, st.integers(-2, 42), st.integers(-2, 42),
                          st.just(0.0005)), min_size=1, max_size=60))
def test_the_lookup_raster_agrees_with_direct_tests_on_overlaps_holes_and_edges(shapes, points):
    """Overlapping boxes, boxes with holes, and points on a half-lattice that
    puts many of them exactly on edges and corners."""
    grids = [Grid(id=i + 1, code=f"G{i:03d}", name=f"G{i:03d}", community_id=1,
                  geometry=to_wkb(s)) for i, s in enumerate(shapes)]
    index = SpatialIndex([], grids)
    lng, lat = np.array(points).T
    want = [next((i for i, s in enumerate(shapes) if s.covers(Point(x, y))), -1)
            for x, y in points]
    assert index.locate_many(lng, lat, raster=True)[0].tolist() == want
    assert index.locate_many(lng, lat, raster=False)[0].tolist() == want


def test_a_large_bulk_call_goes_through_the_raster_and_gives_the_same_answer(index):
    rng = np.random.default_rng(7)
    n = index_module.RASTER_MIN_POINTS
    lng = rng.uniform(119.99, 120.05, n)
    lat = rng.uniform(30.99, 31.03, n)
    lng[:200], lat[:200] = np.round(lng[:200], 2), np.round(lat[:200], 2)  # on edges
    lng[200], lat[200] = np.nan, 31.01
    assert index.grids._raster is None
    bulk_grids, bulk_regions = index.locate_many(lng, lat)
    assert index.grids._raster is not None
    direct_grids, direct_regions = index.locate_many(lng, lat, raster=False)
    assert np.array_equal(bulk_grids, direct_grids)
    assert np.array_equal(bulk_regions, direct_regions)
    assert bulk_grids[200] == -1 and bulk_regions[200] == 0


# ------------------------------------------------------------------ index rebuilds


def _import_hangzhou(tmp_path: Path) -> None:
    path = tmp_path / "hangzhou.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": "330100", "name": "杭州市"},
        "geometry": mapping(box(120.1, 30.2, 120.2, 30.3))}]}), "utf-8")
    call_command("geo", "import", str(path), "--level", "city", "--code-field", "code",
                 "--name-field", "name")


IN_HANGZHOU = (120.15, 30.25)


def test_within_the_ttl_the_index_is_reused_even_after_a_revision_bump(territory, monkeypatch):
    monkeypatch.setattr(index_module, "REVISION_TTL", 3600.0)
    first = get_index()
    TerritoryRevision.bump()
    assert get_index() is first


def test_after_a_boundary_import_the_index_is_rebuilt_once_the_ttl_has_passed(
        territory, monkeypatch, tmp_path):
    monkeypatch.setattr(index_module, "REVISION_TTL", 0.0)
    before = get_index()
    assert get_index() is before  # same revision: kept
    assert before.locate(*IN_HANGZHOU).regions == ()
    _import_hangzhou(tmp_path)
    after = get_index()
    assert after is not before
    assert after.revision == TerritoryRevision.current() != before.revision
    assert chain(after.locate(*IN_HANGZHOU)) == ["330100"]
    assert grid_code(after.locate(120.005, 31.015)) == WEST + "001"


def test_an_import_resets_the_index_when_its_transaction_commits(
        territory, monkeypatch, tmp_path, django_capture_on_commit_callbacks):
    monkeypatch.setattr(index_module, "REVISION_TTL", 3600.0)
    before = get_index()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _import_hangzhou(tmp_path)
    assert reset_index in callbacks
    after = get_index()
    assert after is not before
    assert chain(after.locate(*IN_HANGZHOU)) == ["330100"]


# --------------------------------------------------------------------------- the API


@pytest.mark.parametrize("crs, convert, misread_as", [
    ("gcj02", wgs84_to_gcj02, "004"), ("bd09", wgs84_to_bd09, "002"), ("GCJ02", wgs84_to_gcj02,
                                                                        "004")])
def test_the_api_takes_gcj02_and_bd09_points_and_answers_in_wgs84(
        client, personas, bearer, crs, convert, misread_as):
    wgs = (120.008, 31.012)  # in west grid 001
    lng, lat = convert(*wgs)
    headers = bearer(personas.west_operator)
    response = client.get(URL, {"lng": repr(lng), "lat": repr(lat), "crs": crs},
                          headers=headers)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grid"]["code"] == WEST + "001"
    assert [r["code"] for r in body["regions"]] == WEST_CHAIN
    assert body["lng"] == pytest.approx(wgs[0], abs=1e-9)
    assert body["lat"] == pytest.approx(wgs[1], abs=1e-9)
    # The same numbers read as WGS-84 land ~500 m away, in another grid.
    misread = client.get(URL, {"lng": repr(lng), "lat": repr(lat)}, headers=headers).json()
    assert misread["grid"]["code"] == WEST + misread_as


@pytest.mark.parametrize("params, field", [
    ({"lng": "120.005"}, "lat"),
    ({"lat": "31.015"}, "lng"),
    ({"lng": "120.005", "lat": "abc"}, "lat"),
    ({"lng": "120.005", "lat": "95"}, "lat"),
    ({"lng": "200", "lat": "31.015"}, "lng"),
    ({"lng": "nan", "lat": "31.015"}, "lng"),
    ({"lng": "120.005", "lat": "inf"}, "lat"),
    ({"lng": "120.005", "lat": "31.015", "crs": "xyz"}, "crs"),
])
def test_the_api_answers_a_bad_point_with_400_naming_the_field(
        client, personas, bearer, params, field):
    response = client.get(URL, params, headers=bearer(personas.west_operator))
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "field"}
    assert error["field"] == field
    assert error["code"] == "invalid"
    assert field in error["message"]


def test_the_api_answers_401_without_credentials(client, territory):
    response = client.get(URL, {"lng": "120.005", "lat": "31.015"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_api_answers_401_for_an_unknown_token(client, territory):
    response = client.get(URL, {"lng": "120.005", "lat": "31.015"},
                          headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


def test_the_api_says_outside_for_a_point_beyond_the_city(client, personas, bearer):
    response = client.get(URL, {"lng": "121.0", "lat": "31.5"},
                          headers=bearer(personas.east_operator))
    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k != "territory_message"} == {
        "lng": 121.0, "lat": 31.5, "inside": False, "grid": None, "regions": [],
        "in_territory": False}
    assert "121.000000,31.500000" in body["territory_message"]  # why: beyond every city


def test_polygons_stay_prepared_for_fast_point_tests(index):
    assert shapely.is_prepared(index.grids.geoms).all()


def test_a_csv_row_without_coordinates_is_copied_unlocated_in_order(territory, tmp_path):
    from shanzhi.geo.bulk import locate_csv

    source = tmp_path / "in.csv"
    source.write_text("id,lat,lng\n1,31.015,120.005\n2,,\n3,31.005,120.035\n", encoding="utf-8")
    counts = locate_csv(source=source, target=tmp_path / "out.csv", lat_col="lat",
                        lng_col="lng")
    rows = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[2] == "2,,,,,,,"
    assert counts == {"rows": 3, "inside": 2, "outside": 0, "no_coordinates": 1}
