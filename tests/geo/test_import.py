"""Boundary import: GeoJSON, zipped Shapefile and GeoPackage in any common CRS land in
WGS-84; every bad feature is named by number and code, and then nothing is written.

The ``territory`` fixture gives the parents: districts 320505 (west, lng 120.00–120.02)
and 320506 (east, lng 120.02–120.04), lat 31.00–31.02, each with one town, one
community and four grids.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box, mapping

from shanzhi.core.errors import ValidationError
from shanzhi.geo.importer import ImportFailed, import_boundaries
from shanzhi.geo.models import Grid, Level, Region, TerritoryRevision
from shanzhi.geo.services import NewNode, region_retire, regions_add

# Two new towns inside the west district, slightly irregular so that a reprojection
# which moved any vertex would show.
NORTH = Polygon([(120.0011, 31.0102), (120.0193, 31.0105), (120.0187, 31.0191),
                 (120.0014, 31.0188)])
SOUTH = Polygon([(120.0012, 31.0011), (120.0189, 31.0014), (120.0192, 31.0097),
                 (120.0013, 31.0093)])
# Two triangles meeting in one point: the classic self-intersecting ring.
BOWTIE = Polygon([(120.001, 31.001), (120.009, 31.009), (120.009, 31.001), (120.001, 31.009)])
IN_EAST = box(120.025, 31.005, 120.035, 31.015)

GK_120E = 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4547 is CM 114E)
WEB_MERCATOR = 3857


# ------------------------------------------------------------------------------ helpers


def write_geojson(path: Path, features, *, crs: str | None = None) -> Path:
    """``features``: (properties, shapely geometry or None) pairs."""
    doc: dict = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": properties,
         "geometry": None if geometry is None else mapping(geometry)}
        for properties, geometry in features]}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def project(geometries, epsg: int) -> list:
    """WGS-84 geometries in another CRS."""
    to = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    return [shapely.transform(g, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))
            for g in geometries]


def write_vector(path: Path, *, geometries, fields: dict[str, list], crs: str | None,
                 driver: str) -> Path:
    pyogrio.raw.write(
        str(path), geometry=shapely.to_wkb(np.array(geometries, dtype=object)),
        field_data=[np.array(values) for values in fields.values()], fields=list(fields),
        crs=crs, driver=driver, geometry_type="Polygon",
        **({"encoding": "UTF-8"} if driver == "ESRI Shapefile" else {}))
    return path


def write_zipped_shapefile(folder: Path, name: str, *, geometries, fields, crs: str | None,
                           with_prj: bool = True) -> Path:
    parts = folder / name
    parts.mkdir()
    write_vector(parts / f"{name}.shp", geometries=geometries, fields=fields, crs=crs,
                 driver="ESRI Shapefile")
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in sorted(parts.iterdir()):
            if with_prj or part.suffix != ".prj":
                zipped.write(part, part.name)
    return archive


def import_towns(path: Path, **options):
    return import_boundaries(path=path, level=Level.TOWN, code_field="code",
                             name_field="name", **options)


def written() -> tuple[int, int, int]:
    return Region.objects.count(), Grid.objects.count(), TerritoryRevision.current()


def refused(path: Path, **options) -> list[str]:
    """Import that must fail feature by feature: its report lines, after checking that
    nothing was written."""
    before = written()
    with pytest.raises(ImportFailed) as caught:
        import_boundaries(**{"path": path, "level": Level.TOWN, "code_field": "code",
                             "name_field": "name", **options})
    assert written() == before
    return caught.value.lines()


def rejected(path: Path, **options) -> str:
    """Import that must fail as a whole: its one message, nothing written."""
    before = written()
    with pytest.raises(ValidationError) as caught:
        import_boundaries(**{"path": path, "level": Level.TOWN, "code_field": "code",
                             "name_field": "name", **options})
    assert not isinstance(caught.value, ImportFailed), caught.value.lines()
    assert written() == before
    return caught.value.message


def line_for(lines: list[str], feature: int) -> str:
    """The report line(s) about one feature; there must be some."""
    about = [line for line in lines if re.search(rf": feature {feature}\b", line)]
    assert about, f"nothing about feature {feature} in {lines}"
    return "\n".join(about)


def stored(code: str) -> Region:
    return Region.objects.current().get(code=code)


def assert_same_place(geometry, original) -> None:
    assert shapely.hausdorff_distance(geometry, original) < 1e-6


# ------------------------------------------------------------------------------ happy paths


def test_a_geojson_of_towns_is_stored_in_wgs84_under_the_given_parent(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),
        ({"code": "320505003", "name": "枫桥街道"}, SOUTH)])

    report = import_towns(path, parent_code="320505", source="民政局 2023")

    assert report.ok and report.imported == 2 and report.features == 2
    north, south = stored("320505002"), stored("320505003")
    assert (north.name, north.level, north.parent, north.source) == (
        "狮山街道", Level.TOWN, territory.west, "民政局 2023")
    assert_same_place(north.shape, NORTH)
    assert_same_place(south.shape, SOUTH)
    assert north.path == f"{territory.west.path}{north.pk}/"
    assert north.ancestor_ids == [territory.city.pk, territory.west.pk, north.pk]


@pytest.mark.parametrize("epsg", [GK_120E, WEB_MERCATOR])
def test_a_zipped_shapefile_in_a_projected_crs_comes_back_in_wgs84(territory, tmp_path, epsg):
    path = write_zipped_shapefile(
        tmp_path, "towns", geometries=project([NORTH, IN_EAST], epsg), crs=f"EPSG:{epsg}",
        fields={"CODE": ["320505002", "320506002"], "NAME": ["狮山街道", "郭巷街道"],
                "PARENT": ["320505", "320506"]})

    report = import_boundaries(path=path, level=Level.TOWN, code_field="CODE",
                               name_field="NAME", parent_field="PARENT")

    assert report.imported == 2
    north, east = stored("320505002"), stored("320506002")
    assert (north.name, north.parent, east.name, east.parent) == (
        "狮山街道", territory.west, "郭巷街道", territory.east)
    assert_same_place(north.shape, NORTH)
    assert_same_place(east.shape, IN_EAST)


def test_a_geopackage_in_cgcs2000_comes_back_in_wgs84(territory, tmp_path):
    path = write_vector(tmp_path / "towns.gpkg", geometries=[NORTH, SOUTH], crs="EPSG:4490",
                        driver="GPKG", fields={"code": [320505002, 320505003],
                                               "name": ["狮山街道", "枫桥街道"]})

    import_towns(path)

    assert_same_place(stored("320505002").shape, NORTH)
    assert_same_place(stored("320505003").shape, SOUTH)


def test_a_geojson_that_names_its_crs_is_converted(territory, tmp_path):
    (projected,) = project([NORTH], GK_120E)
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, projected)],
                         crs=f"urn:ogc:def:crs:EPSG::{GK_120E}")

    import_towns(path)

    assert_same_place(stored("320505002").shape, NORTH)


def test_a_shapefile_without_prj_is_read_in_the_crs_given_with_crs(territory, tmp_path):
    path = write_zipped_shapefile(
        tmp_path, "towns", geometries=project([NORTH], GK_120E), crs=f"EPSG:{GK_120E}",
        with_prj=False, fields={"code": ["320505002"], "name": ["狮山街道"]})

    import_towns(path, crs=f"EPSG:{GK_120E}")

    assert_same_place(stored("320505002").shape, NORTH)


def test_the_parent_of_each_feature_is_found_by_its_code_prefix(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),
        ({"code": "320506002", "name": "郭巷街道"}, IN_EAST)])

    import_towns(path)

    assert stored("320505002").parent == territory.west
    assert stored("320506002").parent == territory.east


def test_the_parent_field_puts_each_feature_under_its_own_parent(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道", "district": 320505}, NORTH),
        ({"code": "320506002", "name": "郭巷街道", "district": " 320506 "}, IN_EAST)])

    import_towns(path, parent_field="district")

    assert stored("320505002").parent == territory.west
    assert stored("320506002").parent == territory.east


def test_codes_and_names_are_trimmed(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": " 320505002\t", "name": " 狮山街道 "}, NORTH),
        ({"code": "\u3000320505003", "name": "枫桥街道\n"}, SOUTH)])

    import_towns(path, parent_code="320505")

    assert stored("320505002").name == "狮山街道"
    assert stored("320505003").name == "枫桥街道"


def test_codes_stored_as_whole_floats_lose_their_decimals(territory, tmp_path):
    # What a spreadsheet or pandas export with an empty cell in the column produces.
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": 320505002.0, "name": "狮山街道"}, NORTH),
        ({"code": 320505003.0, "name": "枫桥街道"}, SOUTH)])

    import_towns(path)

    assert stored("320505002").parent == territory.west
    assert stored("320505003").parent == territory.west


def test_grids_are_imported_under_their_community(territory, tmp_path):
    community = territory.west_community
    fifth, sixth = box(120.0, 31.0, 120.005, 31.005), box(120.005, 31.0, 120.01, 31.005)
    path = write_geojson(tmp_path / "grids.geojson", [
        ({"code": f"{community.code}005", "name": "西第5网格"}, fifth),
        ({"code": f"{community.code}006", "name": "西第6网格"}, sixth)])

    report = import_boundaries(path=path, level=Level.GRID, code_field="code",
                               name_field="name")

    assert report.imported == 2
    grid = Grid.objects.current().get(code=f"{community.code}005")
    assert (grid.community, grid.path, grid.name) == (community, community.path, "西第5网格")
    assert_same_place(grid.shape, fifth)


def test_a_whole_tree_imported_level_by_level_gets_its_paths_from_the_root(db, tmp_path):
    levels = [
        (Level.CITY, "320500", "苏州市", box(120.0, 31.0, 120.04, 31.02)),
        (Level.DISTRICT, "320505", "虎丘区", box(120.0, 31.0, 120.02, 31.02)),
        (Level.TOWN, "320505001", "狮山街道", box(120.0, 31.0, 120.02, 31.02)),
        (Level.COMMUNITY, "320505001001", "狮山社区", box(120.0, 31.0, 120.01, 31.01)),
        (Level.GRID, "320505001001001", "第一网格", box(120.0, 31.0, 120.005, 31.005)),
    ]
    for level, code, name, geometry in levels:
        path = write_geojson(tmp_path / f"{level}.geojson",
                             [({"code": code, "name": name}, geometry)])
        import_boundaries(path=path, level=level, code_field="code", name_field="name")

    city, district, town, community = (stored(code) for _, code, _, _ in levels[:4])
    grid = Grid.objects.get(code="320505001001001")
    assert city.path == f"/{city.pk}/" and city.parent is None
    assert district.parent == city and town.parent == district and community.parent == town
    assert community.path == f"/{city.pk}/{district.pk}/{town.pk}/{community.pk}/"
    assert (grid.community, grid.path) == (community, community.path)


def test_each_import_bumps_the_territory_revision(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, NORTH)])
    before = TerritoryRevision.current()

    import_towns(path)

    token, number = before.rsplit("-", 1)
    assert TerritoryRevision.current() == f"{token}-{int(number) + 1}"


def test_foreign_codes_need_not_nest(db, tmp_path):
    (city,) = regions_add(level=Level.CITY, nodes=[NewNode(
        code="NYC", name="New York City", geometry=box(-74.3, 40.5, -73.7, 40.9))])
    path = write_geojson(tmp_path / "boroughs.geojson", [
        ({"BoroCode": 101, "BoroName": "Manhattan"}, box(-74.05, 40.7, -73.9, 40.88))])

    report = import_boundaries(path=path, level=Level.DISTRICT, code_field="BoroCode",
                               name_field="BoroName", parent_code="NYC")

    assert report.imported == 1
    assert stored("101").parent == city


def test_a_town_a_hair_over_its_district_border_is_accepted(territory, tmp_path):
    # 0.05 % of its area lies west of the district: surveys never match exactly.
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"},
                           box(119.999995, 31.0, 120.01, 31.01))])

    assert import_towns(path).imported == 1


# ------------------------------------------------------------------------------ bad features


def test_a_self_intersecting_town_is_named_and_nothing_is_imported(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, BOWTIE)])

    (line,) = refused(path)

    assert "feature 1 (code 320505002)" in line
    assert "Self-intersection" in line and "--repair" in line
    assert line.startswith(str(path))


@pytest.mark.parametrize("geometry", [Point(120.005, 31.005),
                                      LineString([(120.001, 31.001), (120.009, 31.009)])],
                         ids=["point", "line"])
def test_a_point_or_a_line_is_not_a_boundary(territory, tmp_path, geometry):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),
        ({"code": "320505003", "name": "枫桥街道"}, geometry)])

    (line,) = refused(path)

    assert "feature 2 (code 320505003)" in line
    assert f"is a {geometry.geom_type}, not a polygon" in line


def test_a_feature_without_geometry_is_named(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, None)])

    (line,) = refused(path)

    assert "feature 1 (code 320505002): no geometry" in line


def test_a_code_twice_in_the_file_names_both_features(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),
        ({"code": 320505002, "name": "枫桥街道"}, SOUTH)])

    lines = refused(path)

    assert len(lines) == 2
    for feature in (1, 2):
        assert "(code 320505002): duplicate code" in line_for(lines, feature)


def test_a_code_already_current_is_refused(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505001", "name": "狮山街道"}, NORTH)])

    (line,) = refused(path)

    assert "feature 1 (code 320505001): a current node with this code already exists" in line


def test_a_retired_code_may_come_back_but_not_with_the_same_start_date(territory, tmp_path):
    town = territory.west_town
    town.valid_from = dt.date(2020, 1, 1)
    town.save(update_fields=["valid_from"])
    region_retire(region=town, valid_to=dt.date(2023, 1, 1))
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505001", "name": "狮山街道"}, NORTH)])

    (line,) = refused(path, valid_from=dt.date(2020, 1, 1))
    import_towns(path, valid_from=dt.date(2023, 1, 1))

    assert "(code 320505001): a node with this code already starts on 2020-01-01" in line
    assert stored("320505001").valid_from == dt.date(2023, 1, 1)


def test_a_chinese_town_code_that_does_not_fit_its_district_is_refused(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320506009", "name": "郭巷街道"}, NORTH)])

    (line,) = refused(path, parent_code="320505")

    assert "feature 1 (code 320506009): code does not fit its parent's code 320505" in line


def test_a_town_outside_its_district_is_refused(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, IN_EAST)])

    (line,) = refused(path)

    assert "feature 1 (code 320505002): 100.0% of it lies outside its parent 320505" in line


def test_a_feature_whose_parent_is_not_found_is_named(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320507002", "name": "甲"}, NORTH),
        ({"code": "320505003", "name": "乙", "district": "320599"}, SOUTH)])

    assert "feature 1 (code 320507002): no current district" in line_for(refused(path), 1)
    assert "feature 2 (code 320505003): no current district 320599" in line_for(
        refused(path, parent_field="district"), 2)


def test_an_empty_code_or_name_is_named(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "  ", "name": "狮山街道"}, NORTH),
        ({"code": "320505003", "name": None}, SOUTH)])

    lines = refused(path, parent_code="320505")

    assert "the code is empty" in line_for(lines, 1)
    assert "(code 320505003): the name is empty" in line_for(lines, 2)


def test_a_code_or_name_too_long_for_the_database_is_named(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "9" * 33, "name": "狮山街道"}, NORTH),
        ({"code": "320505003", "name": "长" * 101}, SOUTH),
        ({"code": "3205\n05004", "name": "枫桥街道"}, SOUTH)])

    lines = refused(path, parent_code="320505")

    assert "a code has at most 32 printable characters" in line_for(lines, 1)
    assert "the name is longer than 100 characters" in line_for(lines, 2)
    assert "(code '3205\\n05004'): a code has at most 32" in line_for(lines, 3)
    assert all("\n" not in line for line in lines)


@pytest.mark.parametrize("coordinates", [
    [(200.0, 31.0), (200.01, 31.0), (200.01, 31.01), (200.0, 31.0)],
    [(120.0, 91.0), (120.01, 91.0), (120.01, 91.01), (120.0, 91.0)],
], ids=["longitude", "latitude"])
def test_coordinates_out_of_range_are_named(territory, tmp_path, coordinates):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, Polygon(coordinates))])

    (line,) = refused(path, parent_code="320505")

    assert "feature 1 (code 320505002): coordinates out of range" in line


def test_metres_in_a_file_that_claims_degrees_are_out_of_range(territory, tmp_path):
    # Gauss-Kruger metres labelled CGCS2000 lon/lat: "degrees" far outside the globe.
    path = write_vector(tmp_path / "towns.gpkg", geometries=project([NORTH], GK_120E),
                        crs="EPSG:4490", driver="GPKG",
                        fields={"code": ["320505002"], "name": ["狮山街道"]})

    (line,) = refused(path, parent_code="320505")

    assert "feature 1 (code 320505002): coordinates out of range" in line


def test_every_problem_in_a_file_is_listed_at_once(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),      # good
        ({"code": "320505003", "name": "枫桥街道"}, BOWTIE),     # self-intersecting
        ({"code": "320505001", "name": "重复"}, SOUTH),          # already current
        ({"code": "320505004", "name": "点"}, Point(120.01, 31.01)),
        ({"code": "320505005", "name": "空"}, None),
        ({"code": "320505006", "name": "东"}, IN_EAST),          # outside its parent
        ({"code": "320505007", "name": "甲"}, SOUTH),            # twice in the file
        ({"code": "320505007", "name": "乙"}, SOUTH),
        ({"code": "320506009", "name": "错"}, SOUTH),            # fits 320506, not 320505
    ])

    lines = refused(path, parent_code="320505")

    expected = {2: "320505003", 3: "320505001", 4: "320505004", 5: "320505005",
                6: "320505006", 7: "320505007", 8: "320505007", 9: "320506009"}
    for feature, code in expected.items():
        assert f"(code {code})" in line_for(lines, feature)
    assert not [line for line in lines if ": feature 1 " in line]
    assert len(lines) == len(expected)


def test_one_bad_feature_keeps_the_good_ones_out_too(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),
        ({"code": "320505003", "name": "枫桥街道"}, BOWTIE)])

    refused(path)

    assert not Region.objects.filter(code="320505002").exists()


# ------------------------------------------------------------------------------ bad files


@pytest.mark.parametrize(("option", "value"), [
    ("code_field", "CODE"), ("name_field", "NAME"), ("parent_field", "district")])
def test_a_wrong_field_name_lists_the_fields_there_are(territory, tmp_path, option, value):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道", "area": 1.5}, NORTH)])

    (line,) = refused(path, **{option: value})

    flag = "--" + option.replace("_", "-")
    assert f"file: no field {value!r} for {flag}; the fields are area, code, name" in line


def test_a_file_without_features_is_refused(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [])

    assert refused(path) == [f"{path}: file: the file holds no features"]


def _garbage_geojson(folder: Path) -> Path:
    path = folder / "towns.geojson"
    path.write_bytes(b"\x00\xff\xfe this is not json {")
    return path


def _zip_without_shp(folder: Path) -> Path:
    path = folder / "towns.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("towns.dbf", b"")
        zipped.writestr("readme.txt", "boundaries")
    return path


def _garbage_zip(folder: Path) -> Path:
    path = folder / "towns.zip"
    path.write_bytes(b"PK but not really a zip")
    return path


def _csv_without_geometry(folder: Path) -> Path:
    path = folder / "towns.csv"
    path.write_text("code,name\n320505002,狮山街道\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("make", "message"), [
    (_garbage_geojson, "cannot read as GeoJSON, zipped Shapefile or GeoPackage"),
    (_zip_without_shp, "a zip must hold exactly one .shp file, found 0"),
    (_garbage_zip, "not a zip file"),
    (_csv_without_geometry, "the file holds no geometries"),
    (lambda folder: folder / "missing.geojson", "no such file"),
], ids=["garbage-geojson", "zip-without-shp", "garbage-zip", "csv", "missing"])
def test_an_unreadable_file_is_one_clear_error(territory, tmp_path, make, message):
    path = make(tmp_path)

    text = rejected(path)

    assert text.startswith(str(path)) and message in text
    assert "\n" not in text


def test_an_unknown_crs_is_refused(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, NORTH)])

    assert rejected(path, crs="EPSG:999999") == f"{path}: unknown CRS 'EPSG:999999'"


@pytest.mark.parametrize("crs", ["EPSG:5714", "EPSG:4978", 'LOCAL_CS["site grid"]'],
                         ids=["vertical", "geocentric", "engineering"])
def test_a_crs_that_is_neither_geographic_nor_projected_is_refused(territory, tmp_path, crs):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, NORTH)])

    assert "not a geographic or projected CRS" in rejected(path, crs=crs)


def test_a_crs_of_another_planet_cannot_be_converted(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, NORTH)])

    message = rejected(path, crs="IAU_2015:49900")  # Mars 2000

    assert message == f"{path}: cannot convert 'IAU_2015:49900' to WGS-84"


def test_a_shapefile_without_prj_needs_crs(territory, tmp_path):
    path = write_zipped_shapefile(
        tmp_path, "towns", geometries=project([NORTH], GK_120E), crs=f"EPSG:{GK_120E}",
        with_prj=False, fields={"code": ["320505002"], "name": ["狮山街道"]})

    assert rejected(path) == f"{path}: the file names no CRS; give one with --crs"


def test_a_city_has_no_parent(db, tmp_path):
    path = write_geojson(tmp_path / "city.geojson",
                         [({"code": "320500", "name": "苏州市"}, NORTH)])

    (line,) = refused(path, level=Level.CITY, parent_code="3205")

    assert "a city has no parent" in line


def test_a_parent_that_is_not_a_current_region_of_the_level_above_is_refused(
        territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, NORTH)])

    (line,) = refused(path, parent_code="320500")

    assert "no current district with code '320500' for --parent" in line


def test_parent_and_parent_field_together_are_refused(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, NORTH)])

    message = rejected(path, parent_code="320505", parent_field="code")

    assert message == "give --parent or --parent-field, not both"


# ------------------------------------------------------------------------------ repair, dry run


def test_repair_fixes_the_bowtie_and_lists_it_as_repaired(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),
        ({"code": "320505003", "name": "枫桥街道"}, BOWTIE)])

    report = import_towns(path, repair=True)

    assert report.imported == 2
    (line,) = report.lines()
    assert line.startswith(f"{path}: repaired feature 2 (code 320505003): was Self-intersection")
    fixed = stored("320505003").shape
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(2 * (0.008 * 0.004 / 2))  # both triangles kept


def test_repair_cannot_make_a_polygon_of_a_flat_ring(territory, tmp_path):
    flat = Polygon([(120.005, 31.001), (120.005, 31.005), (120.005, 31.009)])
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, flat)])

    (line,) = refused(path, repair=True)

    assert "feature 1 (code 320505002): invalid geometry that cannot be repaired" in line


def test_a_dry_run_checks_everything_and_writes_nothing(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, NORTH),
        ({"code": "320505003", "name": "枫桥街道"}, SOUTH)])
    before = written()

    report = import_towns(path, dry_run=True)

    assert report.ok and report.imported == 2
    assert written() == before
    assert "320505003" in line_for(refused(path, dry_run=True, parent_code="320506"), 2)


# ------------------------------------------------------------------------------ the command


def test_the_command_exits_1_with_one_line_per_bad_feature(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson", [
        ({"code": "320505002", "name": "狮山街道"}, BOWTIE),
        ({"code": "320505001", "name": "枫桥街道"}, SOUTH)])
    stderr = io.StringIO()
    before = written()

    with pytest.raises(CommandError) as caught:
        call_command("geo", "import", str(path), "--level", "town", "--code-field", "code",
                     "--name-field", "name", stdout=io.StringIO(), stderr=stderr)

    assert caught.value.returncode == 1
    assert str(caught.value) == f"2 problem(s) in {path}; nothing imported"
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 2
    assert "feature 1 (code 320505002): invalid geometry" in line_for(lines, 1)
    assert "feature 2 (code 320505001): a current node" in line_for(lines, 2)
    assert written() == before


def test_the_command_refuses_an_unreadable_file_with_exit_code_1(territory, tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("geo", "import", str(tmp_path / "missing.zip"), "--level", "town",
                     "--code-field", "code", "--name-field", "name", "--crs", "EPSG:4549",
                     stdout=io.StringIO(), stderr=io.StringIO())

    assert caught.value.returncode == 1
    assert str(caught.value) == f"{tmp_path / 'missing.zip'}: no such file"


def test_the_command_imports_and_lists_what_it_repaired(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, BOWTIE)])
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("geo", "import", str(path), "--level", "town", "--code-field", "code",
                 "--name-field", "name", "--parent", "320505", "--repair",
                 "--valid-from", "2023-01-01", stdout=stdout, stderr=stderr)

    assert stdout.getvalue() == f"imported 1 town feature(s) from {path}\n"
    assert "repaired feature 1 (code 320505002)" in stderr.getvalue()
    assert str(stored("320505002").valid_from) == "2023-01-01"


def test_the_command_dry_run_says_checked(territory, tmp_path):
    path = write_geojson(tmp_path / "towns.geojson",
                         [({"code": "320505002", "name": "狮山街道"}, NORTH)])
    stdout = io.StringIO()
    before = written()

    call_command("geo", "import", str(path), "--level", "town", "--code-field", "code",
                 "--name-field", "name", "--dry-run", stdout=stdout, stderr=io.StringIO())

    assert stdout.getvalue().startswith("checked 1 town feature(s)")
    assert written() == before


def test_the_shanzhi_console_command_exits_non_zero_with_the_problem_lines(tmp_path):
    shanzhi = Path(sys.executable).with_name("shanzhi")
    env = {k: v for k, v in os.environ.items() if k != "SHANZHI_DATABASE_URL"}
    env["SHANZHI_DATA_DIR"] = str(tmp_path / "data")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(shanzhi), *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)

    assert run("migrate", "--verbosity", "0").returncode == 0
    city = write_geojson(tmp_path / "city.geojson",
                         [({"code": "320500", "name": "苏州市"}, box(120.0, 31.0, 120.04, 31.02))])
    districts = write_geojson(tmp_path / "districts.geojson", [
        ({"code": "320505", "name": "虎丘区"}, box(120.0, 31.0, 120.02, 31.02)),
        ({"code": "320506", "name": "吴中区"}, BOWTIE),
        ({"code": "330106", "name": "西湖区"}, box(120.02, 31.0, 120.04, 31.02))])

    imported = run("geo", "import", str(city), "--level", "city", "--code-field", "code",
                   "--name-field", "name")
    failed = run("geo", "import", str(districts), "--level", "district", "--code-field", "code",
                 "--name-field", "name", "--parent", "320500")

    assert imported.returncode == 0, imported.stderr
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert "feature 2 (code 320506): invalid geometry" in line_for(lines, 2)
    assert "feature 3 (code 330106): code does not fit" in line_for(lines, 3)
    assert lines[-1] == f"CommandError: 2 problem(s) in {districts}; nothing imported"


# ------------------------------------------------------------------------------ any properties

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))
TOWN_NUMBERS = st.integers(320505000, 320505999)
CODES = st.one_of(
    SCALARS, TOWN_NUMBERS, TOWN_NUMBERS.map(float),
    st.builds(lambda number, pad: f"{pad}{number}{pad}", TOWN_NUMBERS,
              st.sampled_from(["", " ", "\t", "\u3000", "\n"])))
NAMES = st.one_of(SCALARS, st.text(min_size=1, max_size=30))
PROPERTIES = st.builds(
    lambda extra, code, name: {**extra, "code": code, "name": name},
    st.dictionaries(st.text(max_size=6), SCALARS, max_size=2), CODES, NAMES)


@pytest.mark.filterwarnings("ignore:Several features with id")  # an "id" property, twice
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(features=st.lists(PROPERTIES, min_size=1, max_size=3), under_parent=st.booleans())
def test_arbitrary_properties_either_import_or_fail_cleanly(territory, tmp_path, features,
                                                            under_parent):
    cells = [NORTH, SOUTH, box(120.005, 31.005, 120.015, 31.015)]
    path = write_geojson(tmp_path / "towns.geojson", list(zip(features, cells, strict=False)))
    with transaction.atomic():
        before = written()
        try:
            report = import_towns(path, parent_code="320505" if under_parent else None)
        except ValidationError as exc:  # ImportFailed included
            assert written() == before
            assert all("\n" not in line for line in [exc.message, *exc.lines()])
        else:
            assert report.imported == len(features)
            assert Region.objects.count() == before[0] + len(features)
            assert all(code == code.strip() and code for code in Region.objects.filter(
                parent=territory.west).values_list("code", flat=True))
        transaction.set_rollback(True)


def test_district_codes_nest_in_a_municipality_and_in_a_prefecture_city():
    from shanzhi.geo.importer import chinese_code_fits
    from shanzhi.geo.models import Region

    beijing = Region(code="110000", level="city", name="北京市")
    suzhou = Region(code="320500", level="city", name="苏州市")
    assert chinese_code_fits("110101", "district", beijing) is True
    assert chinese_code_fits("120101", "district", beijing) is False
    assert chinese_code_fits("320508", "district", suzhou) is True
    assert chinese_code_fits("320601", "district", suzhou) is False
