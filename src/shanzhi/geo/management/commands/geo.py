"""shanzhi geo import|add|check|locate"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import CommandParser

from shanzhi.core.commands import OperatorCommand
from shanzhi.core.errors import ValidationError
from shanzhi.geo.bulk import locate_csv
from shanzhi.geo.checks import check_territory
from shanzhi.geo.crs import CRS_CHOICES, check_lng_lat, to_wgs84
from shanzhi.geo.importer import import_boundaries
from shanzhi.geo.index import get_index
from shanzhi.geo.models import REGION_LEVELS, Level, Region
from shanzhi.geo.selectors import current_region
from shanzhi.geo.services import NewNode, regions_add

LEVELS = [*REGION_LEVELS, Level.GRID]


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"not a date (YYYY-MM-DD): {value!r}", field="valid_from") from None


class Command(OperatorCommand):
    help = "Territory: import boundaries, add a region, check topology, locate points."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser),
                                    metavar="{import,add,check,locate}")

        p = sub.add_parser("import", help="import boundaries of one level from a file",
                           description="Read GeoJSON, a zipped Shapefile or a GeoPackage in any "
                           "common CRS and store its polygons as one level of the territory, in "
                           "WGS-84. Every bad feature is reported; if there is any, nothing is "
                           "imported.", called_from_command_line=True)
        p.add_argument("file", type=Path, help="the .geojson, .zip (Shapefile) or .gpkg file")
        p.add_argument("--level", required=True, choices=LEVELS, help="what the polygons are")
        p.add_argument("--code-field", required=True, help="the attribute holding the code")
        p.add_argument("--name-field", required=True, help="the attribute holding the name")
        p.add_argument("--parent", metavar="CODE", help="put every feature under this region")
        p.add_argument("--parent-field", metavar="F",
                       help="the attribute holding each feature's parent code (default: the "
                       "parent is found by code prefix, as Chinese codes nest)")
        p.add_argument("--crs", help="the file's CRS if it names none, e.g. EPSG:4490")
        p.add_argument("--repair", action="store_true",
                       help="repair invalid geometries where possible and list them")
        p.add_argument("--valid-from", type=_date, metavar="YYYY-MM-DD",
                       help="the date the codes come into force")
        p.add_argument("--source", default="", help="where the boundaries come from")
        p.add_argument("--dry-run", action="store_true", help="check only, write nothing")

        p = sub.add_parser("add", help="add one region by hand",
                           description="Add one region without a boundary file, e.g. the root "
                           "of a new city.", called_from_command_line=True)
        p.add_argument("--level", required=True, choices=REGION_LEVELS)
        p.add_argument("--code", required=True)
        p.add_argument("--name", required=True)
        p.add_argument("--parent", metavar="CODE", help="the parent region's code")

        p = sub.add_parser("check", help="report gaps and overlaps between sibling polygons",
                           description="Check that sibling polygons neither overlap nor leave "
                           "gaps inside their parent. Exits 1 if any problem is found.",
                           called_from_command_line=True)
        p.add_argument("--region", metavar="CODE", help="check only under this region")
        p.add_argument("--min-area", type=float, default=1.0, metavar="M2",
                       help="ignore slivers smaller than this many square metres (default 1)")

        p = sub.add_parser("locate", help="locate one point or every row of a CSV",
                           description="Find the grid and regions of a point (--lat/--lng), or "
                           "copy a CSV appending grid_code, community_code, town_code, "
                           "district_code, district_name.", called_from_command_line=True)
        p.add_argument("--lat", help="latitude of one point")
        p.add_argument("--lng", help="longitude of one point")
        p.add_argument("--csv", type=Path, metavar="IN", help="the CSV to read")
        p.add_argument("--lat-col", default="lat", metavar="C")
        p.add_argument("--lng-col", default="lng", metavar="C")
        p.add_argument("--out", type=Path, metavar="OUT", help="the CSV to write")
        p.add_argument("--crs", default="wgs84", choices=CRS_CHOICES,
                       help="the coordinates' system (default wgs84)")
        p.add_argument("--encoding", default="utf-8-sig", metavar="E",
                       help="the CSV's encoding (default UTF-8; gb18030 for older Excel files)")

    def handle(self, *args, **opts):
        getattr(self, "handle_" + opts["action"])(opts)

    def handle_import(self, opts) -> None:
        report = import_boundaries(
            path=opts["file"], level=opts["level"], code_field=opts["code_field"],
            name_field=opts["name_field"], parent_code=opts["parent"],
            parent_field=opts["parent_field"], crs=opts["crs"], repair=opts["repair"],
            valid_from=opts["valid_from"], source=opts["source"], dry_run=opts["dry_run"])
        for line in report.lines():
            self.stderr.write(line)
        verb = "checked" if opts["dry_run"] else "imported"
        self.stdout.write(f"{verb} {report.features} {opts['level']} feature(s) from "
                          f"{opts['file']}")

    def handle_add(self, opts) -> None:
        parent = None
        if opts["parent"]:
            parent = current_region(opts["parent"], field="parent")
        elif opts["level"] != Level.CITY:
            raise ValidationError("only a city may have no --parent", field="parent")
        if Region.objects.current().filter(code=opts["code"]).exists():
            raise ValidationError(f"a current region with code {opts['code']!r} exists",
                                  field="code")
        regions_add(level=opts["level"],
                    nodes=[NewNode(code=opts["code"], name=opts["name"], parent=parent)])
        self.stdout.write(f"added {opts['level']} {opts['code']} {opts['name']}")

    def handle_check(self, opts) -> None:
        root = None
        if opts["region"]:
            root = current_region(opts["region"])
        problems = check_territory(root=root, min_area_m2=opts["min_area"],
                                   progress=self.progress)
        for problem in problems:
            self.stdout.write(str(problem))
        if problems:
            raise ValidationError(f"{len(problems)} topology problem(s)", code="topology")
        self.stdout.write("no gaps or overlaps")

    def handle_locate(self, opts) -> None:
        if opts["csv"]:
            if not opts["out"]:
                raise ValidationError("--csv needs --out", field="out")
            counts = locate_csv(source=opts["csv"], target=opts["out"], lat_col=opts["lat_col"],
                                lng_col=opts["lng_col"], crs=opts["crs"],
                                encoding=opts["encoding"], progress=self.progress)
            self.stdout.write(f"located {counts['rows']} rows: {counts['inside']} inside a grid, "
                              f"{counts['outside']} outside, {counts['no_coordinates']} without "
                              f"coordinates; written to {opts['out']}")
            return
        if opts["lat"] is None or opts["lng"] is None:
            raise ValidationError("give --lat and --lng, or --csv/--out", field="lat")
        lng, lat = check_lng_lat(opts["lng"], opts["lat"])
        lng, lat = to_wgs84(lng, lat, opts["crs"])
        self.stdout.write(json.dumps(get_index().locate(lng, lat).as_dict(), ensure_ascii=False,
                                     indent=2))
