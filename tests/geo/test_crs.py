"""Chinese coordinate systems: WGS-84 (stored), GCJ-02 (AMap, Tencent) and
BD-09 (Baidu), checked against published values and real boundary data.

Reference values are those printed in the README of wandergis/coordtransform,
the library most Chinese GIS code copies its formulas from.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from shanzhi.core.errors import ValidationError
from shanzhi.geo.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    check_crs,
    check_lng_lat,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
#: The GCJ-02 district file as published (shared/ sits beside the clone).
SHARED_GCJ02 = ROOT.parent / "shared" / "data" / "suzhou" / "320500_districts.json"
DEMO_WGS84 = ROOT / "src" / "shanzhi" / "demo" / "data" / "320500_districts_wgs84.geojson"
BEIJING = (116.404, 39.915)


def close(got, want, tol: float) -> bool:
    return abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol


# ------------------------------------------------------------- published reference values


def test_wgs84_to_gcj02_gives_coordtransforms_value():
    assert close(wgs84_to_gcj02(*BEIJING), (116.41024449916938, 39.91640428150164), 1e-12)


def test_gcj02_to_bd09_gives_coordtransforms_value():
    assert close(gcj02_to_bd09(*BEIJING), (116.41036949371029, 39.92133699351021), 1e-12)


def test_bd09_to_gcj02_refines_coordtransforms_one_step_value_into_an_exact_inverse():
    """coordtransform's bd09togcj02 is Baidu's one-step approximation; ours
    iterates it until gcj02_to_bd09 gives the input back."""
    published = (116.39762729119315, 39.90865673957631)
    ours = bd09_to_gcj02(*BEIJING)
    assert close(ours, published, 1e-6)
    assert close(gcj02_to_bd09(*ours), BEIJING, 1e-12)
    assert not close(gcj02_to_bd09(*published), BEIJING, 1e-7)


def test_gcj02_to_wgs84_is_within_a_micro_degree_of_coordtransforms_one_step_value():
    published = (116.39775550083061, 39.91359571849836)
    ours = gcj02_to_wgs84(*BEIJING)
    assert close(ours, published, 1e-6)
    assert close(wgs84_to_gcj02(*ours), BEIJING, 1e-9)


# ------------------------------------------------------------------------ real data


def _suzhou_vertex_pairs() -> tuple[np.ndarray, np.ndarray, str]:
    """(GCJ-02 vertices, WGS-84 vertices, source) of the Suzhou districts: every
    vertex of the published GCJ-02 file against the demo's WGS-84 file, or,
    on a machine without shared/, the 211 pairs sampled from them into
    fixtures/suzhou_district_vertices.csv."""
    if SHARED_GCJ02.exists():
        gcj = json.loads(SHARED_GCJ02.read_text("utf-8"))["features"]
        wgs = json.loads(DEMO_WGS84.read_text("utf-8"))["features"]
        assert [f["properties"]["adcode"] for f in gcj] == \
            [f["properties"]["adcode"] for f in wgs]
        pairs = [(shapely.get_coordinates(shape(a["geometry"])),
                  shapely.get_coordinates(shape(b["geometry"]))) for a, b in zip(gcj, wgs,
                                                                                 strict=True)]
        return (np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs]),
                str(SHARED_GCJ02))
    with (FIXTURES / "suzhou_district_vertices.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    gcj = np.array([(float(r["gcj02_lng"]), float(r["gcj02_lat"])) for r in rows])
    wgs = np.array([(float(r["wgs84_lng"]), float(r["wgs84_lat"])) for r in rows])
    return gcj, wgs, "fixtures/suzhou_district_vertices.csv"


def test_every_suzhou_district_vertex_converts_from_gcj02_to_the_demos_wgs84_file():
    gcj, wgs, source = _suzhou_vertex_pairs()
    lng, lat = gcj02_to_wgs84(gcj[:, 0], gcj[:, 1])
    assert len(gcj) > 200, source
    assert np.abs(lng - wgs[:, 0]).max() < 1e-6, source
    assert np.abs(lat - wgs[:, 1]).max() < 1e-6, source


def test_the_vertex_fixture_is_a_faithful_sample_of_the_published_files():
    """Guards the fallback above: each fixture pair appears in the full files."""
    with (FIXTURES / "suzhou_district_vertices.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    gcj, wgs, _ = _suzhou_vertex_pairs()
    full = {(g[0], g[1]): (w[0], w[1]) for g, w in zip(gcj.tolist(), wgs.tolist(),
                                                          strict=True)}
    for r in rows:
        key = (float(r["gcj02_lng"]), float(r["gcj02_lat"]))
        assert full[key] == (float(r["wgs84_lng"]), float(r["wgs84_lat"]))


# ------------------------------------------------------------------------- properties

#: Mainland China, kept 0.1° inside the box where the providers apply the
#: offset, so that no converted point crosses the box's edge.
china_lng = st.floats(73.76, 134.95)
china_lat = st.floats(3.96, 53.45)
any_lng = st.floats(-180, 180)
any_lat = st.floats(-90, 90)


@settings(max_examples=300)
@given(china_lng, china_lat)
def test_wgs84_to_gcj02_and_back_returns_the_point_within_1e8_degrees(lng, lat):
    assert close(gcj02_to_wgs84(*wgs84_to_gcj02(lng, lat)), (lng, lat), 1e-8)


@settings(max_examples=300)
@given(china_lng, china_lat)
def test_wgs84_to_bd09_and_back_returns_the_point_within_1e8_degrees(lng, lat):
    assert close(bd09_to_wgs84(*wgs84_to_bd09(lng, lat)), (lng, lat), 1e-8)


@settings(max_examples=300)
@given(any_lng, any_lat)
def test_outside_china_gcj02_is_wgs84(lng, lat):
    assume(not in_china(lng, lat))
    assert wgs84_to_gcj02(lng, lat) == (lng, lat)
    assert gcj02_to_wgs84(lng, lat) == (lng, lat)


@settings(max_examples=100)
@given(st.lists(st.tuples(china_lng, china_lat), min_size=1, max_size=30),
       st.sampled_from([wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02,
                        wgs84_to_bd09, bd09_to_wgs84]))
def test_arrays_and_scalars_give_the_same_numbers(points, convert):
    lng, lat = convert(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    assert isinstance(lng, np.ndarray) and lng.shape == (len(points),)
    for i, point in enumerate(points):
        one = convert(*point)
        assert isinstance(one[0], float) and isinstance(one[1], float)
        # The iterative inverses stop when the whole array has converged, so
        # an array element may be a hair more exact than the scalar.
        assert close((lng[i], lat[i]), one, 1e-10)


def test_to_wgs84_dispatches_on_the_crs_name():
    point = (120.6, 31.3)
    assert to_wgs84(*point) == point
    assert to_wgs84(*wgs84_to_gcj02(*point), "GCJ02") == pytest.approx(point, abs=1e-9)
    assert to_wgs84(*wgs84_to_bd09(*point), "bd09") == pytest.approx(point, abs=1e-9)


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize("name, want", [(None, "wgs84"), ("", "wgs84"), ("WGS84", "wgs84"),
                                        (" gcj02 ", "gcj02"), ("bd09", "bd09")])
def test_check_crs_accepts_the_three_names_in_any_case(name, want):
    assert check_crs(name) == want


@pytest.mark.parametrize("name", ["xyz", "EPSG:4326", "gcj-02", "bd09ll", "wgs 84"])
def test_check_crs_rejects_an_unknown_name_naming_the_field(name):
    with pytest.raises(ValidationError) as raised:
        check_crs(name)
    assert raised.value.field == "crs"
    assert "wgs84, gcj02, bd09" in raised.value.message


def test_check_lng_lat_parses_numbers_and_strings_up_to_the_limits():
    assert check_lng_lat("120.5", "31.25") == (120.5, 31.25)
    assert check_lng_lat(-180, 90) == (-180.0, 90.0)
    assert check_lng_lat(180.0, -90.0) == (180.0, -90.0)


@pytest.mark.parametrize("lng, lat, field", [
    ("abc", "31", "lng"), ("120", "abc", "lat"), (None, "31", "lng"), ("120", "", "lat"),
    ([120], "31", "lng"), ("120", object(), "lat"),
    ("nan", "31", "lng"), ("120", math.nan, "lat"),
    ("inf", "31", "lng"), ("120", "-inf", "lat"), (math.inf, "31", "lng"),
    ("180.000001", "31", "lng"), ("-181", "31", "lng"), ("120", "90.5", "lat"),
    ("120", "-95", "lat"), ("1e400", "31", "lng"),
])
def test_check_lng_lat_rejects_non_numbers_nan_inf_and_out_of_range_naming_the_field(
        lng, lat, field):
    with pytest.raises(ValidationError) as raised:
        check_lng_lat(lng, lat)
    assert raised.value.field == field
    assert raised.value.message.startswith(field)
