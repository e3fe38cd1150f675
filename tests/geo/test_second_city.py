"""A second city beside Suzhou, set up with the same commands an operator
would type: New York City and its 71 community districts (59 community
boards and 12 joint-interest areas such as Central Park), then 300 real NYC
311 requests located, each checked against the community board it names.

Fixtures (fixtures/README.md): the districts are NYC DCP's, simplified by
0.2 m; the requests are real NYC Open Data rows.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import shapely
from django.core.management import call_command

from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level, Region

FIXTURES = Path(__file__).parent / "fixtures"
DISTRICTS = FIXTURES / "nyc_community_districts.geojson"
REQUESTS = FIXTURES / "nyc311_sample.csv"
BOROUGHS = {"MANHATTAN": 1, "BRONX": 2, "BROOKLYN": 3, "QUEENS": 4, "STATEN ISLAND": 5}
EMPIRE_STATE_BUILDING = (-73.98566, 40.74844)  # Manhattan community district 5


def boro_cd(board: str) -> str | None:
    """A community board label "NN BOROUGH" as its district's boro_cd, or None."""
    number, _, borough = board.strip().partition(" ")
    if not number.isdigit() or borough not in BOROUGHS:
        return None
    return str(BOROUGHS[borough] * 100 + int(number))


def metres_outside(polygon, lng: float, lat: float) -> float:
    """Distance from a point to a polygon, in metres (local flat approximation)."""
    scale = math.cos(math.radians(lat))
    flat = shapely.transform(polygon, lambda xy: xy * [scale, 1.0])
    return flat.distance(shapely.Point(lng * scale, lat)) * 111_320


@pytest.fixture
def new_york(territory):
    call_command("geo", "add", "--level", "city", "--code", "NYC", "--name", "New York City")
    call_command("geo", "import", str(DISTRICTS), "--level", "district", "--parent", "NYC",
                 "--code-field", "boro_cd", "--name-field", "boro_cd")
    return Region.objects.current().get(code="NYC")


def locate_csv(source: Path, target: Path, *, lat_col: str, lng_col: str) -> list[dict]:
    call_command("geo", "locate", "--csv", str(source), "--lat-col", lat_col,
                 "--lng-col", lng_col, "--out", str(target))
    with target.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("board, code", [
    ("01 BRONX", "201"), ("12 MANHATTAN", "112"), ("64 MANHATTAN", "164"),
    ("95 STATEN ISLAND", "595"), ("18 BROOKLYN", "318"),
    ("Unspecified BRONX", None), ("0 Unspecified", None), ("", None),
])
def test_a_community_board_label_maps_to_its_boro_cd(board, code):
    assert boro_cd(board) == code


def test_new_york_imports_beside_suzhou_with_the_same_commands(new_york):
    districts = Region.objects.current().filter(parent=new_york)
    assert districts.count() == 71
    assert set(districts.values_list("level", flat=True)) == {Level.DISTRICT}
    assert {"101", "164", "355", "595"} <= set(districts.values_list("code", flat=True))
    assert new_york.geometry is None
    suzhou = Region.objects.current().get(code="320500")
    assert Region.objects.current().filter(parent=suzhou).count() == 2


def test_real_311_requests_locate_to_the_community_district_of_their_board(
        new_york, tmp_path, capsys):
    rows = locate_csv(REQUESTS, tmp_path / "located.csv", lat_col="latitude",
                      lng_col="longitude")
    assert len(rows) == 300
    assert all(r["grid_code"] == "" for r in rows)  # New York has no grids
    assert all(r["district_code"] for r in rows)  # … but every request lies in a district
    labelled = [r for r in rows if boro_cd(r["community_board"])]
    assert len(labelled) == 290  # 10 rows say "Unspecified"
    shapes = {r.code: r.shape for r in Region.objects.current().filter(parent=new_york)}
    mismatches = [r for r in labelled if r["district_code"] != boro_cd(r["community_board"])]
    distances = []
    for r in mismatches:
        lng, lat = float(r["longitude"]), float(r["latitude"])
        away = metres_outside(shapes[boro_cd(r["community_board"])], lng, lat)
        distances.append(away)
        print(f"311 request {r['unique_key']}: board {r['community_board']!r} "
              f"(district {boro_cd(r['community_board'])}), located in {r['district_code']}, "
              f"{away:.0f} m outside its board's district")
    agreement = 1 - len(mismatches) / len(labelled)
    print(f"{len(labelled) - len(mismatches)}/{len(labelled)} = {agreement:.2%} agree")
    assert agreement >= 0.99, capsys.readouterr().out
    # A mismatch is a request geocoded onto (or just across) a boundary
    # street, not a wrong answer far away.
    assert all(away < 25 for away in distances), capsys.readouterr().out


def test_suzhou_points_still_locate_to_suzhou_in_the_same_database(new_york, tmp_path):
    source = tmp_path / "mixed.csv"
    source.write_text("id,lat,lng\nwest,31.015,120.005\neast,31.005,120.035\n"
                      f"esb,{EMPIRE_STATE_BUILDING[1]},{EMPIRE_STATE_BUILDING[0]}\n"
                      "sea,0,0\n", "utf-8")
    rows = {r["id"]: r for r in locate_csv(source, tmp_path / "out.csv", lat_col="lat",
                                            lng_col="lng")}
    assert (rows["west"]["grid_code"], rows["west"]["district_code"]) == \
        ("320505001001001", "320505")
    assert (rows["east"]["grid_code"], rows["east"]["district_code"]) == \
        ("320506001001004", "320506")
    assert (rows["esb"]["grid_code"], rows["esb"]["district_code"]) == ("", "105")
    assert (rows["sea"]["grid_code"], rows["sea"]["district_code"]) == ("", "")

    index = get_index()
    suzhou = index.locate(120.005, 31.015)
    assert [r.code for r in suzhou.regions] == ["320505001001", "320505001", "320505", "320500"]
    manhattan = index.locate(*EMPIRE_STATE_BUILDING)
    assert not manhattan.inside
    assert [(r.level, r.code) for r in manhattan.regions] == [("district", "105"),
                                                             ("city", "NYC")]
