"""The gazetteer's import (地名库导入): a GeoJSON FeatureCollection of roads
(lines), landmarks (points) and areas (polygons) into ``PlaceName``, all or
nothing.

Each feature's properties: ``name`` (required), ``kind`` (road, landmark or
area; by default told by the geometry), ``aliases`` (a list, or one text
separated by 、 , ， ;), ``region`` (the code of the region the name belongs
to; by default the district its representative point lies in). Coordinates
are WGS-84, or GCJ-02 / BD-09 with ``crs`` (converted when read).

Every problem of every feature is collected first, each with the feature's
number (1-based, as it stands in the file) and the field; only a clean file
is written, in one transaction. A name already held with the same kind and
region is replaced (so importing a file again changes nothing); with
``replace=True`` the names of the same ``source`` missing from the file are
removed. docs/intake.md, "Address to place".
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from django.db import transaction
from django.utils.translation import gettext
from shapely.geometry import mapping, shape

from shanzhi.core.errors import ValidationError
from shanzhi.geo.crs import check_crs, to_wgs84
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level, Region
from shanzhi.registry.addresses import normalize

from . import places
from .models import PlaceName

#: The largest file read (bytes) and the most features in it.
MAX_BYTES = 200 * 1024 * 1024
MAX_FEATURES = 200_000
NAME_MAX = PlaceName._meta.get_field("name").max_length
SOURCE_MAX = PlaceName._meta.get_field("source").max_length
MAX_ALIASES = 20
KIND_OF_GEOMETRY = {"Point": "landmark", "MultiPoint": "landmark",
                    "LineString": "road", "MultiLineString": "road",
                    "Polygon": "area", "MultiPolygon": "area"}
_ALIAS_SPLIT = re.compile(r"[、,，;；|]")


@dataclass
class Problem:
    feature: int | None  # 1-based; None: the whole file
    field: str
    message: str

    def __str__(self) -> str:
        where = f"feature {self.feature}" if self.feature else "file"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {"feature": self.feature, "field": self.field, "message": self.message}


@dataclass
class ImportReport:
    path: str
    features: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{self.path}: {p}" for p in self.problems]


class ImportFailed(ValidationError):
    """Bad features: nothing was imported. ``lines()`` names each problem."""

    def __init__(self, report: ImportReport) -> None:
        first = report.problems[0]
        super().__init__(
            gettext("%(count)d problem(s) in %(path)s, nothing imported; the first: %(first)s")
            % {"count": len(report.problems), "path": report.path, "first": first},
            field=first.field or "file", code="import_failed",
            details={"problems": [p.as_dict() for p in report.problems[:100]]})
        self.report = report

    def lines(self) -> list[str]:
        return self.report.lines()


@dataclass
class _Row:
    number: int
    name: str
    kind: str
    aliases: list[str]
    geometry: shapely.Geometry
    region_id: int | None


def read_collection(path: Path | str) -> list:
    """The features of a GeoJSON file (file-level errors raised at once)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(gettext("No such file: %(path)s") % {"path": path}, field="file")
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise ValidationError(gettext("The file is larger than %(mb)d MB.")
                              % {"mb": MAX_BYTES // 2**20}, field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(gettext("The file is not UTF-8 (line %(line)d, byte %(at)d): "
                                      "save it as UTF-8 GeoJSON.")
                              % {"line": data[:exc.start].count(b"\n") + 1, "at": exc.start + 1},
                              field="file") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(gettext("The file is not JSON (line %(line)d, column %(col)d: "
                                      "%(msg)s).") % {"line": exc.lineno, "col": exc.colno,
                                                      "msg": exc.msg}, field="file") from None
    return features_of(document)


def features_of(document) -> list:
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ValidationError(gettext("The file is not a GeoJSON FeatureCollection."),
                              field="file")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ValidationError(gettext("The FeatureCollection has no features."), field="file")
    if len(features) > MAX_FEATURES:
        raise ValidationError(gettext("More than %(max)d features in one file.")
                              % {"max": MAX_FEATURES}, field="file")
    return features


def import_places(*, path: Path | str, source: str = "", crs: str = "wgs84",
                  replace: bool = False, dry_run: bool = False) -> ImportReport:
    """Import a gazetteer file (see the module's docstring). Raises
    ``ImportFailed`` (nothing written) when any feature is bad."""
    features = read_collection(path)
    return import_features(features, path=str(path), source=source or Path(path).name,
                           crs=crs, replace=replace, dry_run=dry_run)


def import_features(features: list, *, path: str = "<features>", source: str = "",
                    crs: str = "wgs84", replace: bool = False,
                    dry_run: bool = False) -> ImportReport:
    crs = check_crs(crs)
    if len(source) > SOURCE_MAX:
        raise ValidationError(gettext("The source is longer than %(max)d characters.")
                              % {"max": SOURCE_MAX}, field="source")
    report = ImportReport(path=path, features=len(features))
    regions = {r.code: r.pk for r in Region.objects.current().only("id", "code")}
    rows: list[_Row] = []
    seen: dict[tuple, int] = {}
    for number, feature in enumerate(features, start=1):
        row = _check(number, feature, crs, regions, report.problems)
        if row is None:
            continue
        key = (normalize(row.name), row.kind, row.region_id)
        if key in seen:
            report.problems.append(Problem(number, "properties.name", gettext(
                "%(name)s (%(kind)s) is already feature %(other)d of this file.")
                % {"name": row.name, "kind": row.kind, "other": seen[key]}))
            continue
        seen[key] = number
        rows.append(row)
    if report.problems:
        raise ImportFailed(report)
    if not dry_run:
        _write(rows, source, replace, report)
    return report


def _check(number: int, feature, crs: str, regions: dict[str, int],
           problems: list[Problem]) -> _Row | None:
    """The feature's row, or None after adding its problems."""
    before = len(problems)

    def bad(field_name: str, message: str) -> None:
        problems.append(Problem(number, field_name, message))

    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        bad("type", gettext("not a GeoJSON Feature"))
        return None
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        bad("properties", gettext("the properties must be an object"))
        return None
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        bad("properties.name", gettext("a name is required"))
    elif len(name.strip()) > NAME_MAX:
        bad("properties.name", gettext("longer than %(max)d characters") % {"max": NAME_MAX})
    elif len(normalize(name)) < 2:
        bad("properties.name", gettext("a name needs at least two characters"))
    aliases = _aliases(props.get("aliases"), bad)
    geom = _geometry(feature.get("geometry"), crs, bad)
    kind = props.get("kind")
    if kind in (None, ""):
        kind = KIND_OF_GEOMETRY.get(geom.geom_type) if geom is not None else None
    elif kind not in PlaceName.Kind.values:
        bad("properties.kind", gettext("unknown kind %(kind)r: use road, landmark or area")
            % {"kind": kind})
    elif geom is not None and KIND_OF_GEOMETRY[geom.geom_type] != kind:
        bad("geometry", gettext("a %(kind)s needs a %(shape)s, not a %(type)s") % {
            "kind": kind, "type": geom.geom_type,
            "shape": {"road": gettext("line"), "landmark": gettext("point"),
                      "area": gettext("polygon")}[kind]})
    region_id = None
    code = props.get("region")
    if code not in (None, ""):
        region_id = regions.get(str(code))
        if region_id is None:
            bad("properties.region", gettext("no current region with code %(code)r")
                % {"code": str(code)})
    if len(problems) > before:
        return None
    if region_id is None:
        region_id = _district_of(geom)
    return _Row(number, name.strip(), kind, aliases, geom, region_id)


def _aliases(value, bad) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = _ALIAS_SPLIT.split(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad("properties.aliases", gettext("aliases must be a list of names"))
        return []
    aliases = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(aliases) > MAX_ALIASES:
        bad("properties.aliases", gettext("more than %(max)d aliases") % {"max": MAX_ALIASES})
    for alias in aliases:
        if len(alias) > NAME_MAX or len(normalize(alias)) < 2:
            bad("properties.aliases", gettext("alias %(alias)r: from 2 to %(max)d characters")
                % {"alias": alias[:NAME_MAX], "max": NAME_MAX})
            break
    return aliases


def _geometry(value, crs: str, bad) -> shapely.Geometry | None:
    if not isinstance(value, dict) or value.get("type") not in KIND_OF_GEOMETRY:
        bad("geometry", gettext("a Point, LineString, Polygon (or Multi…) geometry is required"))
        return None
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises many kinds for malformed coordinates
        bad("geometry", gettext("unreadable coordinates (%(error)s)") % {"error": exc})
        return None
    if geom.is_empty:
        bad("geometry", gettext("the geometry is empty"))
        return None
    coords = shapely.get_coordinates(geom)
    if not all(math.isfinite(v) for v in coords.ravel()):
        bad("geometry", gettext("coordinates must be numbers"))
        return None
    lngs, lats = coords[:, 0], coords[:, 1]
    if not ((abs(lngs) <= 180).all() and (abs(lats) <= 90).all()):
        bad("geometry", gettext("coordinates out of range: give longitude, latitude in degrees "
                                "(WGS-84)"))
        return None
    if crs != "wgs84":
        geom = shapely.transform(geom, lambda xy: _converted(xy, crs))
    if geom.geom_type in ("LineString", "MultiLineString") and geom.length == 0:
        bad("geometry", gettext("a line needs two different points"))
        return None
    if not geom.is_valid:
        bad("geometry", gettext("invalid geometry (%(reason)s)")
            % {"reason": shapely.is_valid_reason(geom)})
        return None
    return geom


def _converted(xy, crs: str):
    lng, lat = to_wgs84(xy[:, 0], xy[:, 1], crs)
    xy = xy.copy()
    xy[:, 0], xy[:, 1] = lng, lat
    return xy


def _district_of(geom: shapely.Geometry) -> int | None:
    """The district holding the geometry's representative point, if any."""
    lng, lat = places._middle(geom)
    location = get_index().locate(lng, lat)
    district = location.region(Level.DISTRICT)
    return district.id if district else None


@transaction.atomic
def _write(rows: list[_Row], source: str, replace: bool, report: ImportReport) -> None:
    existing: dict[tuple, PlaceName] = {}
    for place in PlaceName.objects.all():
        existing.setdefault((normalize(place.name), place.kind, place.region_id), place)
    kept: set[int] = set()
    new, changed = [], []
    for row in rows:
        lng, lat = places._middle(row.geometry)
        min_lng, min_lat, max_lng, max_lat = row.geometry.bounds
        values = {"name": row.name, "kind": row.kind, "aliases": row.aliases,
                  "geometry": _rounded(mapping(row.geometry)), "lng": round(lng, 7),
                  "lat": round(lat, 7), "min_lng": min_lng, "min_lat": min_lat,
                  "max_lng": max_lng, "max_lat": max_lat, "region_id": row.region_id,
                  "source": source}
        place = existing.get((normalize(row.name), row.kind, row.region_id))
        if place is None:
            new.append(PlaceName(**values))
        else:
            for key, value in values.items():
                setattr(place, key, value)
            changed.append(place)
            kept.add(place.pk)
    if replace:
        report.removed, _ = PlaceName.objects.filter(source=source).exclude(pk__in=kept).delete()
    PlaceName.objects.bulk_create(new, batch_size=1000)
    if changed:
        PlaceName.objects.bulk_update(changed, ["name", "kind", "aliases", "geometry", "lng",
                                                "lat", "min_lng", "min_lat", "max_lng",
                                                "max_lat", "region_id", "source"],
                                      batch_size=1000)
    report.created, report.updated = len(new), len(changed)
    places.changed()


def _rounded(geometry: dict) -> dict:
    """GeoJSON with coordinates to 7 decimals (1 cm), as plain lists."""
    def walk(value):
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, float):
            return round(value, 7)
        return value

    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def place_list(*, kind: str | None = None, q: str = "") -> list[PlaceName]:
    """The gazetteer's names (of a kind, containing ``q``), by name."""
    qs = PlaceName.objects.all()
    if kind:
        if kind not in PlaceName.Kind.values:
            raise ValidationError(gettext("Unknown kind %(kind)s: use road, landmark or area.")
                                  % {"kind": kind}, field="kind")
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(name__contains=q)
    return list(qs.order_by("kind", "name", "id"))
