"""Boundary import: GeoJSON, zipped Shapefile or GeoPackage in any common CRS,
stored as WGS-84, all or nothing.

Every problem is collected into a report (one line per bad feature) before
anything is written; only a clean file is imported, in one transaction. With
``repair=True`` invalid geometries are made valid and listed as repaired.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry.base import BaseGeometry

from shanzhi.core.errors import ValidationError

from .models import REGION_LEVELS, Grid, Level, Region
from .services import NewNode, grids_add, regions_add

#: Code lengths of the Chinese scheme (GB/T 2260 + statistical codes) by level.
CHINESE_CODE_LENGTH = {Level.CITY: 6, Level.DISTRICT: 6, Level.TOWN: 9, Level.COMMUNITY: 12}
#: Share of a child's area allowed outside its parent (boundaries from
#: different surveys never match exactly).
OUTSIDE_TOLERANCE = 0.001
#: The longest code and name the database columns hold.
CODE_MAX_LENGTH = cast(int, Region._meta.get_field("code").max_length)
NAME_MAX_LENGTH = cast(int, Region._meta.get_field("name").max_length)


@dataclass
class Problem:
    feature: int | None  # 1-based position in the file; None: the whole file
    code: str
    message: str

    def __str__(self) -> str:
        where = f"feature {self.feature}" if self.feature else "file"
        if self.code:
            # repr() keeps a code with line breaks or control characters on one line
            where += f" (code {self.code if self.code.isprintable() else repr(self.code)})"
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    path: str
    level: str
    features: int = 0
    imported: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [f"{self.path}: {p}" for p in self.problems] + [
            f"{self.path}: repaired {p}" for p in self.repaired]


class ImportFailed(ValidationError):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.problems)} problem(s) in {report.path}; nothing imported",
                         code="import_failed")
        self.report = report

    def lines(self) -> list[str]:
        return self.report.lines()


def chinese_code_fits(code: str, level: str, parent: Region) -> bool | None:
    """Whether ``code`` nests in its parent's code under the Chinese scheme;
    None when the parent's code is not a Chinese division code (another
    country's codes need not nest)."""
    pcode = parent.code
    if not pcode.isdigit() or len(pcode) != CHINESE_CODE_LENGTH.get(Level(parent.level)):
        return None
    if level == Level.GRID:
        return code.startswith(pcode) and len(code) > len(pcode)
    want = CHINESE_CODE_LENGTH[Level(level)]
    if not code.isdigit() or len(code) != want:
        return False
    if parent.level == Level.CITY:
        # a prefecture city (320500) shares 4 digits with its districts; a
        # municipality (110000) only its first 2 (110101 东城区)
        shared = 2 if pcode.endswith("0000") else 4
        return pcode.endswith("00") and code[:shared] == pcode[:shared] and code != pcode
    return code.startswith(pcode)


def _open_path(path: Path) -> str:
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                shapefiles = [n for n in archive.namelist() if n.lower().endswith(".shp")]
        except zipfile.BadZipFile:
            raise ValidationError(f"{path}: not a zip file", field="file") from None
        if len(shapefiles) != 1:
            raise ValidationError(f"{path}: a zip must hold exactly one .shp file, "
                                  f"found {len(shapefiles)}", field="file")
        return f"/vsizip/{path}/{shapefiles[0]}"
    return str(path)


def read_features(path: Path, *, crs: str | None = None) -> tuple[list[dict], np.ndarray]:
    """Read a vector file: (attribute dicts, WGS-84 geometries). Raises
    ValidationError for unreadable files and unknown CRS."""
    if not path.exists():
        raise ValidationError(f"{path}: no such file", field="file")
    source = _open_path(path)
    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(source)
    except Exception as exc:  # pyogrio raises several DataSource/driver errors
        raise ValidationError(f"{path}: cannot read as GeoJSON, zipped Shapefile or "
                              f"GeoPackage ({exc})", field="file") from None
    if wkb is None:
        raise ValidationError(f"{path}: the file holds no geometries", field="file")
    names = list(meta["fields"])
    rows = [
        {name: _plain(column[i]) for name, column in zip(names, field_data, strict=True)}
        for i in range(len(wkb))
    ]
    geoms = shapely.from_wkb(wkb, on_invalid="fix") if len(wkb) else np.array([], dtype=object)
    source_crs = crs or meta.get("crs")
    if source_crs is None:
        if path.suffix.lower() in {".geojson", ".json"}:
            source_crs = "EPSG:4326"  # RFC 7946
        else:
            raise ValidationError(f"{path}: the file names no CRS; give one with --crs",
                                  field="crs")
    try:
        parsed = CRS.from_user_input(source_crs)
    except CRSError:
        raise ValidationError(f"{path}: unknown CRS {source_crs!r}", field="crs") from None
    if not (parsed.is_geographic or parsed.is_projected):
        raise ValidationError(f"{path}: {source_crs!r} is a {parsed.type_name}, not a "
                              "geographic or projected CRS", field="crs")
    wgs84 = CRS.from_epsg(4326)
    if not parsed.equals(wgs84, ignore_axis_order=True):
        try:
            transformer = Transformer.from_crs(parsed, wgs84, always_xy=True)
        except ProjError:
            raise ValidationError(f"{path}: cannot convert {source_crs!r} to WGS-84",
                                  field="crs") from None
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(
            transformer.transform(xy[:, 0], xy[:, 1])))
    return rows, geoms


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _code(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of a geometry, or None."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return shapely.union_all(parts)


def import_boundaries(*, path: Path | str, level: str, code_field: str, name_field: str,
                      parent_code: str | None = None, parent_field: str | None = None,
                      crs: str | None = None, repair: bool = False,
                      valid_from: dt.date | None = None, source: str = "",
                      dry_run: bool = False) -> ImportReport:
    """Validate then import one file of boundaries; raise ImportFailed with the
    full report when anything is wrong (and then write nothing)."""
    path = Path(path)
    if level not in [*REGION_LEVELS, Level.GRID]:
        raise ValidationError(f"unknown level {level!r}", field="level")
    if parent_code and parent_field:
        raise ValidationError("give --parent or --parent-field, not both", field="parent")
    rows, geoms = read_features(path, crs=crs)
    report = ImportReport(path=str(path), level=level, features=len(rows))
    problems, repaired = report.problems, report.repaired

    available = set(rows[0]) if rows else set()
    for option, name in (("--code-field", code_field), ("--name-field", name_field),
                         ("--parent-field", parent_field)):
        if name and rows and name not in available:
            problems.append(Problem(None, "", f"no field {name!r} for {option}; the fields are "
                                    f"{', '.join(sorted(available))}"))
    if not rows:
        problems.append(Problem(None, "", "the file holds no features"))
    if problems:
        raise ImportFailed(report)

    parent_level = _parent_level(level)
    parents = _parents(parent_level, parent_code, parent_field, rows, problems)
    if problems:
        raise ImportFailed(report)

    model = Grid if level == Level.GRID else Region
    taken = _taken_codes(model, [_code(r[code_field]) for r in rows], valid_from)
    counts = Counter(_code(r[code_field]) for r in rows)
    nodes: list[NewNode] = []
    for i, (row, geom) in enumerate(zip(rows, geoms, strict=True), start=1):
        code, name = _code(row[code_field]), _code(row[name_field])
        bad = _check_feature(i, code, name, counts, taken, problems)
        parent = None
        if parent_level is not None:
            key = _code(row.get(parent_field)) if parent_field else parent_code
            parent = parents.get(key or "") if key else _infer_parent(code, parents)
            if parent is None:
                problems.append(Problem(i, code, f"no current {parent_level} "
                                        f"{key or 'whose code prefixes this code'!s}"))
                bad = True
            elif chinese_code_fits(code, level, parent) is False:
                problems.append(Problem(i, code, f"code does not fit its parent's code "
                                        f"{parent.code} ({parent.name})"))
                bad = True
        geom = _check_geometry(i, code, geom, repair, problems, repaired)
        if geom is None or bad:
            continue
        if parent is not None and parent.geometry:
            outside = shapely.area(shapely.difference(geom, parent.shape))
            if outside > OUTSIDE_TOLERANCE * geom.area:
                problems.append(Problem(i, code, f"{outside / geom.area:.1%} of it lies outside "
                                        f"its parent {parent.code} ({parent.name})"))
                continue
        nodes.append(NewNode(code=code, name=name, geometry=geom, parent=parent,
                             valid_from=valid_from, source=source))
    if problems:
        raise ImportFailed(report)
    if not dry_run:
        if level == Level.GRID:
            grids_add(nodes=nodes)
        else:
            regions_add(level=level, nodes=nodes)
    report.imported = len(nodes)
    return report


def _parent_level(level: str) -> str | None:
    if level == Level.GRID:
        return Level.COMMUNITY
    index = REGION_LEVELS.index(Level(level))
    return REGION_LEVELS[index - 1] if index else None


def _parents(parent_level, parent_code, parent_field, rows, problems) -> dict[str, Region]:
    if parent_level is None:
        if parent_code or parent_field:
            problems.append(Problem(None, "", "a city has no parent"))
        return {}
    qs = Region.objects.current().filter(level=parent_level)
    if parent_code:
        parent = qs.filter(code=parent_code).first()
        if parent is None:
            problems.append(Problem(None, "", f"no current {parent_level} with code "
                                    f"{parent_code!r} for --parent"))
            return {}
        return {parent.code: parent}
    if parent_field:
        codes = {_code(r.get(parent_field)) for r in rows}
        return {r.code: r for r in qs.filter(code__in=codes)}
    return {r.code: r for r in qs}


def _infer_parent(code: str, parents: dict[str, Region]) -> Region | None:
    """The parent whose code is the longest prefix of ``code`` (Chinese codes nest)."""
    for length in range(len(code) - 1, 0, -1):
        candidate = parents.get(code[:length])
        if candidate is not None:
            return candidate
    if len(code) == 6 and code.isdigit():  # a district under its city "xxxx00"
        return parents.get(code[:4] + "00")
    return None


def _taken_codes(model, codes: list[str], valid_from: dt.date | None) -> dict[str, str]:
    """Codes the file may not use, and why: the current ones, and those whose history
    already holds a period starting on ``valid_from`` (code and start are unique)."""
    taken = {}
    if valid_from is not None:
        for code in model.objects.filter(code__in=codes, valid_from=valid_from).values_list(
                "code", flat=True):
            taken[code] = f"a node with this code already starts on {valid_from}"
    for code in model.objects.current().filter(code__in=codes).values_list("code", flat=True):
        taken[code] = "a current node with this code already exists"
    return taken


def _check_feature(i, code, name, counts, taken, problems) -> bool:
    bad = False
    if not code:
        problems.append(Problem(i, code, "the code is empty"))
        bad = True
    elif len(code) > CODE_MAX_LENGTH or not code.isprintable():
        problems.append(Problem(i, code, f"a code has at most {CODE_MAX_LENGTH} printable "
                                "characters"))
        bad = True
    elif counts[code] > 1:
        problems.append(Problem(i, code, f"duplicate code: {counts[code]} features in the "
                                "file share it"))
        bad = True
    elif code in taken:
        problems.append(Problem(i, code, taken[code]))
        bad = True
    if not name:
        problems.append(Problem(i, code, "the name is empty"))
        bad = True
    elif len(name) > NAME_MAX_LENGTH:
        problems.append(Problem(i, code, f"the name is longer than {NAME_MAX_LENGTH} characters"))
        bad = True
    return bad


def _check_geometry(i, code, geom, repair, problems, repaired) -> BaseGeometry | None:
    if geom is None or shapely.is_empty(geom):
        problems.append(Problem(i, code, "no geometry"))
        return None
    polygonal = _polygonal(geom)
    if polygonal is None:
        problems.append(Problem(i, code, f"geometry is a {geom.geom_type}, not a polygon"))
        return None
    lng_lat = shapely.get_coordinates(polygonal)
    if not (np.isfinite(lng_lat).all() and (np.abs(lng_lat) <= (180, 90)).all()):
        problems.append(Problem(i, code, "coordinates out of range after conversion to WGS-84 "
                                "(wrong CRS?)"))
        return None
    if not shapely.is_valid(polygonal):
        reason = shapely.is_valid_reason(polygonal)
        if not repair:
            problems.append(Problem(i, code, f"invalid geometry: {reason} "
                                    "(--repair fixes what can be fixed)"))
            return None
        fixed = _polygonal(shapely.make_valid(polygonal))
        if fixed is None or fixed.is_empty:
            problems.append(Problem(i, code, f"invalid geometry that cannot be repaired: {reason}"))
            return None
        repaired.append(Problem(i, code, f"was {reason}"))
        polygonal = fixed
    return polygonal
