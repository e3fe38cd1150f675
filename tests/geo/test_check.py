"""Topology check: overlaps and gaps between sibling polygons.

The ``territory`` fixture is clean: its districts, towns, communities and grids tile
their parents exactly. Each test spoils it in one place.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
import shapely
from django.core.management import CommandError, call_command
from pyproj import Geod
from shapely.geometry import box

from shanzhi.geo.checks import check_territory
from shanzhi.geo.models import Grid, Level
from shanzhi.geo.services import NewNode, grids_add, regions_add

WGS84 = Geod(ellps="WGS84")


def geodesic_m2(geometry) -> float:
    return abs(WGS84.geometry_area_perimeter(geometry)[0])


def add_grid(community, number: int, geometry) -> Grid:
    (grid,) = grids_add(nodes=[NewNode(code=f"{community.code}{number:03d}",
                                       name=f"第{number}网格", geometry=geometry,
                                       parent=community)])
    return grid


def check(*args: str) -> tuple[int, list[str]]:
    """Run ``geo check``: its exit code and its output lines."""
    stdout = io.StringIO()
    try:
        call_command("geo", "check", *args, stdout=stdout, stderr=io.StringIO())
    except CommandError as exc:
        return exc.returncode, stdout.getvalue().splitlines()
    return 0, stdout.getvalue().splitlines()


def test_the_clean_territory_has_no_gaps_or_overlaps(territory):
    assert check_territory() == []
    assert check() == (0, ["no gaps or overlaps"])


def test_two_overlapping_sibling_grids_are_reported_with_their_codes_and_area(territory):
    community = territory.west_community
    # A quarter of the north-west grid 001, claimed again by a new grid 005.
    overlap = box(120.0, 31.015, 120.005, 31.02)
    add_grid(community, 5, overlap)

    (problem,) = check_territory()

    assert problem.kind == "overlap"
    assert problem.codes == ("320505001001001", "320505001001005")
    assert problem.parent == "320505001001 西社区"
    assert problem.area_m2 == pytest.approx(geodesic_m2(overlap), rel=0.01)
    assert shapely.Point(problem.where).within(overlap)
    assert str(problem).startswith(
        f"overlap of {problem.area_m2:,.0f} m² between 320505001001001 and 320505001001005 "
        "(in 320505001001 西社区) near 120.00")


def test_a_gap_inside_a_community_is_reported_with_its_area_and_place(territory):
    # The south-east grid 004 is retired and nothing takes its place.
    hole = box(120.01, 31.0, 120.02, 31.01)
    Grid.objects.filter(code="320505001001004").update(valid_to=dt.date(2024, 1, 1))

    (problem,) = check_territory()

    assert (problem.kind, problem.parent, problem.codes) == ("gap", "320505001001 西社区", ())
    assert problem.area_m2 == pytest.approx(geodesic_m2(hole), rel=0.01)
    assert shapely.Point(problem.where).within(hole)
    assert str(problem).startswith(
        f"gap of {problem.area_m2:,.0f} m² inside 320505001001 西社区 not covered by any child")


def test_overlapping_districts_are_reported_against_each_sibling(territory):
    # A third district straddling the border of the other two.
    regions_add(level=Level.DISTRICT, nodes=[NewNode(
        code="320507", name="相城区", geometry=box(120.015, 31.0, 120.025, 31.02),
        parent=territory.city)])

    problems = check_territory()

    assert {p.codes for p in problems} == {("320505", "320507"), ("320506", "320507")}
    assert {p.parent for p in problems} == {"320500 苏州市"}


def test_overlapping_cities_are_reported_at_the_top_level(territory):
    regions_add(level=Level.CITY, nodes=[NewNode(
        code="320400", name="常州市", geometry=box(119.9, 31.0, 120.01, 31.1))])

    (problem,) = check_territory()

    assert (problem.kind, problem.parent) == ("overlap", "the top level")
    assert set(problem.codes) == {"320400", "320500"}


def test_slivers_below_the_minimum_area_are_ignored(territory):
    # About 10 m × 10 m of overlap, as boundaries from two surveys produce.
    add_grid(territory.west_community, 5, box(120.0, 31.0199, 120.0001, 31.02))

    assert check_territory(min_area_m2=1000) == []
    assert check("--min-area", "1000") == (0, ["no gaps or overlaps"])
    assert len(check_territory()) == 1


def test_region_restricts_the_check_to_what_lies_under_it(territory):
    add_grid(territory.west_community, 5, box(120.0, 31.015, 120.005, 31.02))
    Grid.objects.filter(code="320506001001004").update(valid_to=dt.date(2024, 1, 1))

    west = check_territory(root=territory.west)
    east = check_territory(root=territory.east_town)

    assert [p.kind for p in west] == ["overlap"]
    assert [(p.kind, p.parent) for p in east] == [("gap", "320506001001 东社区")]
    assert len(check_territory(root=territory.city)) == 2
    assert check("--region", "320506001001")[1][0].startswith("gap of ")


def test_the_command_exits_1_and_prints_one_line_per_problem(territory):
    add_grid(territory.west_community, 5, box(120.0, 31.015, 120.005, 31.02))
    Grid.objects.filter(code="320505001001004").update(valid_to=dt.date(2024, 1, 1))

    code, lines = check()

    assert code == 1
    assert len(lines) == 2
    assert lines[0].startswith("overlap of ") and "320505001001005" in lines[0]
    assert lines[1].startswith("gap of ") and "320505001001 西社区" in lines[1]


def test_the_command_refuses_a_region_that_does_not_exist(territory):
    with pytest.raises(CommandError) as caught:
        call_command("geo", "check", "--region", "999999", stdout=io.StringIO(),
                     stderr=io.StringIO())

    assert caught.value.returncode == 1
    assert str(caught.value) == "no current region with code '999999'"


def test_the_command_reports_nothing_for_a_region_without_problems(territory):
    add_grid(territory.west_community, 5, box(120.0, 31.015, 120.005, 31.02))

    assert check("--region", "320506") == (0, ["no gaps or overlaps"])
    assert check("--region", "320505")[0] == 1
