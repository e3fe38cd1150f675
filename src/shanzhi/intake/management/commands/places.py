"""shanzhi places import|list — the gazetteer (地名库) that typed addresses
are resolved against (docs/intake.md, "Address to place")."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandParser

from shanzhi.core.commands import OperatorCommand
from shanzhi.geo.crs import CRS_CHOICES
from shanzhi.geo.index import get_index
from shanzhi.intake import places
from shanzhi.intake.gazetteer import import_places, place_list
from shanzhi.intake.models import PlaceName


class Command(OperatorCommand):
    help = "The gazetteer: import roads, landmarks and areas; list them; resolve an address."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser),
                                    metavar="{import,list,resolve}")
        p = sub.add_parser("import", help="import a GeoJSON FeatureCollection of names",
                           description="Read roads (lines), landmarks (points) and areas "
                           "(polygons) with properties name, kind, aliases, region. Every bad "
                           "feature is reported by number and field; if there is any, nothing "
                           "is imported. A name already held (same kind and region) is "
                           "replaced.", called_from_command_line=True)
        p.add_argument("file", type=Path, help="the .geojson file (UTF-8)")
        p.add_argument("--source", default="", help="where the names come from (default: the "
                       "file's name)")
        p.add_argument("--crs", default="wgs84", choices=CRS_CHOICES,
                       help="the coordinates' system (default wgs84)")
        p.add_argument("--replace", action="store_true",
                       help="remove the names of the same source that the file no longer has")
        p.add_argument("--dry-run", action="store_true", help="check only, write nothing")

        p = sub.add_parser("list", help="list the gazetteer's names",
                           description="One line per name: kind, name, aliases, district, "
                           "point.", called_from_command_line=True)
        p.add_argument("--kind", choices=PlaceName.Kind.values)
        p.add_argument("--q", default="", help="names containing this text")
        p.add_argument("--json", action="store_true", help="JSON lines instead of text")

        p = sub.add_parser("resolve", help="resolve typed addresses to a place",
                           description="Print the place (point, grid, confidence) each "
                           "address resolves to.", called_from_command_line=True)
        p.add_argument("address", nargs="+")

    def handle(self, *args, **opts):
        getattr(self, "handle_" + opts["action"])(opts)

    def handle_import(self, opts) -> None:
        report = import_places(path=opts["file"], source=opts["source"], crs=opts["crs"],
                               replace=opts["replace"], dry_run=opts["dry_run"])
        if opts["dry_run"]:
            self.stdout.write(f"checked {report.features} feature(s) of {opts['file']}: "
                              "no problem, nothing written")
            return
        self.stdout.write(f"imported {report.features} feature(s) from {opts['file']}: "
                          f"{report.created} new, {report.updated} replaced, "
                          f"{report.removed} removed")

    def handle_list(self, opts) -> None:
        index = get_index()
        rows = place_list(kind=opts["kind"], q=opts["q"])
        for p in rows:
            district = index.regions.get(p.region_id)
            if opts["json"]:
                self.stdout.write(json.dumps({
                    "id": p.pk, "name": p.name, "kind": p.kind, "aliases": p.aliases,
                    "region": district.code if district else None, "lng": p.lng, "lat": p.lat,
                    "source": p.source}, ensure_ascii=False))
            else:
                aliases = f" ({'、'.join(p.aliases)})" if p.aliases else ""
                self.stdout.write(f"{p.kind:<9} {p.name}{aliases}  "
                                  f"{district.name if district else '-'}  "
                                  f"{p.lng:.6f},{p.lat:.6f}")
        self.stderr.write(f"{len(rows)} name(s)")

    def handle_resolve(self, opts) -> None:
        index = get_index()
        for text in opts["address"]:
            place = places.resolve(text)
            if place is None:
                self.stdout.write(f"{text}\tnot found")
                continue
            grid = index.grid(place.grid_id) if place.grid_id else None
            point = f"{place.lng:.6f},{place.lat:.6f}" if place.lng is not None else "-"
            self.stdout.write(f"{text}\t{place.kind}\t{place.label}\t{point}\t"
                              f"{grid.code if grid else '-'}\t{place.confidence:.2f}"
                              f"{'' if place.confident else ' (not confident)'}")
