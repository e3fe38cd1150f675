"""The grid mesh (GET /api/v1/geo/regions/{code}/grids.geojson?slim=true):
every grid of the territory once, however small at the zoom asked for, its
code as the only property, coordinates rounded to the zoom's precision,
cached per territory revision, scoped like every read."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from shapely.geometry import box, shape

from shanzhi.geo.selectors import mesh_decimals
from shanzhi.geo.services import NewNode, grids_add

URL = "/api/v1/geo/regions/{code}/grids.geojson?zoom={zoom}&slim=true"
#: A grid of 20 m × 20 m: under a rounding step at the city's zoom (8: 0.001°).
SPECK = box(120.0051, 31.0051, 120.0053, 31.0053)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def mesh(client, bearer, user, code: str = "320500", zoom: int = 8) -> dict:
    response = client.get(URL.format(code=code, zoom=zoom), headers=bearer(user))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    return json.loads(response.content)


def codes(body: dict) -> set[str]:
    return {f["properties"]["code"] for f in body["features"]}


@pytest.fixture
def speck(territory):
    """A ninth grid in the west community, far smaller than a pixel at zoom 8
    (the old mesh rounded it away: 10,399 of the demo's 10,400 grids drawn)."""
    (grid,) = grids_add(nodes=[NewNode(code="320505001001099", name="西微网格", geometry=SPECK,
                                       parent=territory.west_community)])
    return grid


def test_a_grid_smaller_than_a_rounding_step_is_still_in_the_city_mesh(client, personas,
                                                                       bearer, territory,
                                                                       speck):
    every = {g.code for g in [*territory.west_grids, *territory.east_grids, speck]}
    for zoom in (5, 8, 12, 16):
        body = mesh(client, bearer, personas.admin, zoom=zoom)
        assert codes(body) == every
        assert len(body["features"]) == 9
    tiny = next(f for f in mesh(client, bearer, personas.admin)["features"]
                if f["properties"]["code"] == speck.code)
    outline = shape(tiny["geometry"])
    assert outline.is_valid and outline.area > 0
    assert outline.distance(SPECK) < 0.002  # drawn where the grid is


def test_the_mesh_carries_only_codes_and_rounded_coordinates(client, personas, bearer):
    body = mesh(client, bearer, personas.admin, zoom=9)
    assert all(set(f) == {"type", "properties", "geometry"} for f in body["features"])
    assert all(set(f["properties"]) == {"code"} for f in body["features"])
    decimals = mesh_decimals(9)
    assert decimals == 4
    for feature in body["features"]:
        for x, y in feature["geometry"]["coordinates"][0]:
            assert round(x, decimals) == x and round(y, decimals) == y


def test_a_finer_zoom_gets_more_decimals():
    assert [mesh_decimals(z) for z in (8, 9, 12, 16)] == [3, 4, 5, 6]


def test_the_grid_worker_gets_only_their_grid_and_the_east_nothing_of_the_west(
        client, personas, bearer, territory):
    assert codes(mesh(client, bearer, personas.worker, "320505001001")) == {
        territory.west_grids[0].code}
    assert codes(mesh(client, bearer, personas.east_operator, "320506")) == {
        g.code for g in territory.east_grids}
    response = client.get(URL.format(code="320505", zoom=8),
                          headers=bearer(personas.east_operator))
    assert response.status_code == 404


def test_a_new_grid_shows_in_the_cached_mesh_at_once(client, personas, bearer, territory,
                                                     django_capture_on_commit_callbacks):
    assert len(mesh(client, bearer, personas.admin)["features"]) == 8
    with django_capture_on_commit_callbacks(execute=True):
        grids_add(nodes=[NewNode(code="320505001001099", name="西微网格", geometry=SPECK,
                                 parent=territory.west_community)])
    assert len(mesh(client, bearer, personas.admin)["features"]) == 9
