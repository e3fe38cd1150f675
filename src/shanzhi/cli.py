"""The ``shanzhi`` console command: every operator task, Django management underneath."""

from __future__ import annotations

import os
import sys

HELP = """\
shanzhi — 善治, the grid-based social governance platform

usage: shanzhi COMMAND [options]      (shanzhi COMMAND --help tells more)

Getting started
  demo [--no-serve]      build the Suzhou demo database, then serve it
  serve [--host --port]  serve the web pages and the API
  migrate                create or update the database tables
  worker [--once]        the background work: overdue sweep, notifications

Territory
  geo import FILE        import boundaries (GeoJSON, zipped Shapefile, GeoPackage)
  geo add                add one region by hand (e.g. a new city without a boundary)
  geo check              report gaps and overlaps between sibling polygons
  geo locate             locate points: one on the command line, or a whole CSV

People and access
  user create            create a user with a role and a territory
  token create           print a new API bearer token for a user
  department create      create a handling department at some level
  device create          register an IoT sensor or video source, print its token
  open311 key create     print a new Open311 API key for a citizen app or 311 client

Grid base data (人地事物组织)
  registry template people FILE   an empty Excel/CSV template to fill in
  registry import people FILE     import a filled file (strict; --good-only)
  registry export people FILE     the records a user sees, masked

Addresses (地名库)
  places import FILE     import roads, landmarks and areas (GeoJSON; all or nothing)
  places list            the gazetteer's names
  places resolve TEXT    resolve typed addresses to a point, a grid, a confidence

Working calendar
  calendar show YEAR     the holidays and make-up working days of a year
  calendar import-year   enter a year's official schedule (published each December)
  calendar due           when a limit in working days or hours falls due

Smart intake
  intake train           train the category classifier (--csv FILE or --from-incidents)
  intake classify        append the predicted category and its confidence to a CSV
  intake info            the current category model and its cross-validated figures

Command centre
  analytics rebuild      recompute the command centre's rollups from the incidents

Anything else Django offers: shanzhi help --all
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")
    if not argv or argv[0] in {"-h", "--help"} or argv == ["help"]:
        print(HELP)
        return
    if argv[:2] == ["help", "--all"]:
        argv = ["help"]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["shanzhi", *argv])


if __name__ == "__main__":
    main()
