"""The gazetteer's import (``shanzhi places import``): all or nothing, every
bad feature named by its number and field; a second import replaces, with
--replace removes what the source no longer has; GCJ-02 converted; and the
``places list`` / ``places resolve`` commands."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shanzhi.core.errors import ValidationError
from shanzhi.geo.crs import wgs84_to_gcj02
from shanzhi.intake import places
from shanzhi.intake.gazetteer import ImportFailed, import_features, import_places
from shanzhi.intake.models import PlaceName

from .test_places import GAZETTEER, feature, line


def write(tmp_path, features, name="places.geojson") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), "utf-8")
    return str(path)


def test_it_imports_roads_landmarks_and_areas_with_their_district(territory, tmp_path):
    report = import_places(path=write(tmp_path, GAZETTEER))
    assert (report.features, report.created, report.updated) == (8, 8, 0)
    road = PlaceName.objects.get(name="西园路")
    assert (road.kind, road.region_id, road.source) == ("road", territory.west.id,
                                                        "places.geojson")
    assert (road.lng, road.lat) == (pytest.approx(120.01), pytest.approx(31.015))
    assert (road.min_lng, road.max_lng) == (120.001, 120.019)
    assert PlaceName.objects.get(name="玄妙观").aliases == ["玄妙观山门"]
    assert PlaceName.objects.get(name="西湖").kind == "area"
    assert PlaceName.objects.get(name="干将路").region_id == territory.city.id


def test_every_bad_feature_is_named_and_nothing_is_imported(territory):
    bad = [
        GAZETTEER[0],
        feature("", line((120.0, 31.0), (120.01, 31.0))),                        # 2
        feature("东街", {"type": "Point", "coordinates": [120.01, 31.01]}, kind="road"),  # 3
        feature("北街", line((120.0, 31.0), (120.01, 31.0)), kind="street"),       # 4
        feature("南街", line((20000, 31.0), (120.01, 31.0))),                      # 5
        feature("中街", line((120.0, 31.0), (120.01, 31.0)), region="999999"),     # 6
        feature("西街", None),                                                     # 7
        feature("后街", line((120.0, 31.0), (120.01, 31.0)), aliases=[1, 2]),      # 8
        {"type": "Feature", "properties": "no", "geometry": None},                 # 9
        GAZETTEER[0],                                                              # 10
    ]
    with pytest.raises(ImportFailed) as caught:
        import_features(bad, path="bad.geojson")
    where = [(p.feature, p.field) for p in caught.value.report.problems]
    assert where == [(2, "properties.name"), (3, "geometry"), (4, "properties.kind"),
                     (5, "geometry"), (6, "properties.region"), (7, "geometry"),
                     (8, "properties.aliases"), (9, "properties"), (10, "properties.name")]
    lines = caught.value.lines()
    assert lines[1] == "bad.geojson: feature 3, geometry: a road needs a line, not a Point"
    assert "already feature 1" in lines[-1]
    assert caught.value.details["problems"][0] == {
        "feature": 2, "field": "properties.name", "message": "a name is required"}
    assert not PlaceName.objects.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "not JSON"),
    ("{\"type\": \"FeatureCollection\", \"features\": [\"名\"]}".encode("gb18030"),
     "not UTF-8 (line 1, byte 45)"),
    (b"{\"type\": \"Feature\"}", "not a GeoJSON FeatureCollection"),
    (b"{\"type\": \"FeatureCollection\", \"features\": []}", "has no features"),
    (b"[1, 2", "not JSON (line 1, column 6"),
])
def test_a_file_that_is_no_gazetteer_is_refused_in_one_line(territory, tmp_path, content,
                                                            message):
    path = tmp_path / "f.geojson"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=re.escape(message)):
        import_places(path=path)


def test_importing_again_replaces_and_replace_removes_the_missing(territory):
    import_features(GAZETTEER, source="city")
    changed = [feature("西园路", line((120.001, 31.016), (120.019, 31.016)), aliases=["西园"])]
    report = import_features(changed, source="city", replace=True)
    assert (report.created, report.updated, report.removed) == (0, 1, 7)
    road = PlaceName.objects.get()
    assert (road.name, road.lat, road.aliases) == ("西园路", pytest.approx(31.016), ["西园"])


def test_a_dry_run_writes_nothing(territory):
    report = import_features(GAZETTEER, dry_run=True)
    assert report.features == 8 and not PlaceName.objects.exists()


def test_gcj02_coordinates_are_stored_as_wgs84(territory):
    lng, lat = wgs84_to_gcj02(120.012, 31.0125)
    import_features([feature("玄妙观", {"type": "Point", "coordinates": [float(lng), float(lat)]})],
                    crs="gcj02")
    mark = PlaceName.objects.get()
    assert (mark.lng, mark.lat) == (pytest.approx(120.012, abs=1e-6),
                                    pytest.approx(31.0125, abs=1e-6))


def test_the_command_imports_lists_and_resolves(territory, tmp_path, capsys):
    path = write(tmp_path, GAZETTEER)
    call_command("places", "import", path)
    assert "imported 8 feature(s)" in capsys.readouterr().out
    call_command("places", "list", "--kind", "landmark")
    out = capsys.readouterr().out
    assert "玄妙观 (玄妙观山门)  虎丘区  120.012000,31.012500" in out
    call_command("places", "list", "--json", "--q", "西园")
    assert json.loads(capsys.readouterr().out)["name"] == "西园路"
    call_command("places", "resolve", "西园路和中心路路口", "火星")
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t")[1:3] == ["intersection", "西园路与中心路路口"]
    assert out[0].endswith("320505001001001\t0.90")
    assert out[1] == "火星\tnot found"


def test_the_command_names_the_bad_features_and_fails(territory, tmp_path, capsys):
    path = write(tmp_path, [GAZETTEER[0], feature("东街", None)])
    with pytest.raises(CommandError, match="1 problem"):
        call_command("places", "import", path)
    assert "feature 2, geometry:" in capsys.readouterr().err
    assert not PlaceName.objects.exists()


def test_the_demo_gazetteer_is_clean_and_says_it_is_approximate(territory):
    from shanzhi.demo.load import DATA

    document = json.loads((DATA / "suzhou_places.geojson").read_text("utf-8"))
    assert "APPROXIMATE" in document["description"]
    report = import_places(path=DATA / "suzhou_places.geojson", dry_run=True)
    assert report.features >= 30
    names = {f["properties"]["name"] for f in document["features"]}
    assert {"人民路", "观前街", "玄妙观", "拙政园", "金鸡湖"} <= names


def test_the_resolver_sees_an_import_at_once(territory):
    assert places.resolve("西园路") is None
    import_features(GAZETTEER)
    assert places.resolve("西园路").kind == "road"


def test_the_admin_checks_a_name_like_an_import_and_the_resolver_sees_it(territory, client):
    from shanzhi.accounts.models import User

    admin = User.objects.create_superuser(username="root", password="x" * 12)
    client.force_login(admin)
    url = "/admin/intake/placename/add/"
    bad = client.post(url, {"name": "北寺塔", "kind": "road", "aliases": "[]",
                            "geometry": json.dumps({"type": "Point",
                                                    "coordinates": [120.031, 31.011]})},
                      HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 200 and "a road needs a line" in bad.content.decode()
    assert not PlaceName.objects.exists()
    good = client.post(url, {"name": "北寺塔", "kind": "landmark", "aliases": '["报恩寺"]',
                             "geometry": json.dumps({"type": "Point",
                                                     "coordinates": [120.031, 31.011]})})
    assert good.status_code == 302
    mark = PlaceName.objects.get()
    assert (mark.lng, mark.lat, mark.min_lng) == (120.031, 31.011, 120.031)
    assert places.resolve("报恩寺门口").kind == "landmark"
