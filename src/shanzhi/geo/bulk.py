"""Locate every row of a CSV file, streaming, in constant memory."""

from __future__ import annotations

import codecs
import csv
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shanzhi.core.errors import ValidationError

from .crs import check_crs, check_lng_lat, to_wgs84
from .index import SpatialIndex, get_index

APPENDED = ["grid_code", "community_code", "town_code", "district_code", "district_name"]
CHUNK = 50_000
MAX_REPORTED = 100


class LocateFailed(ValidationError):
    def __init__(self, problems: list[str], total: int) -> None:
        super().__init__(f"{total} bad row(s); no output written", code="locate_failed")
        self.problems = problems

    def lines(self) -> list[str]:
        return self.problems


def locate_csv(*, source: Path, target: Path, lat_col: str, lng_col: str, crs: str = "wgs84",
               encoding: str = "utf-8-sig", index: SpatialIndex | None = None,
               progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Copy ``source`` to ``target`` with the location columns appended.
    A row without any coordinates is copied with empty location columns; a
    row with a bad coordinate is reported by line and column, and then
    nothing is written. ``source`` is read in ``encoding`` (UTF-8, with or
    without its BOM, by default; ``gb18030`` for files saved by older Excel
    in Chinese); ``target`` is always UTF-8."""
    crs = check_crs(crs)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValidationError(f"unknown encoding {encoding!r} (e.g. utf-8, gb18030)",
                              field="encoding") from None
    index = index or get_index()
    if not source.exists():
        raise ValidationError(f"{source}: no such file", field="csv")
    problems: list[str] = []
    bad_rows = rows = inside = missing = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".locate-", suffix=".csv", dir=target.parent)
    try:
        with open(source, newline="", encoding=encoding) as fin, \
                os.fdopen(fd, "w", newline="", encoding="utf-8") as fout:
            reader = csv.reader(fin)
            header = next(reader, None)
            if header is None:
                raise ValidationError(f"{source}: the file is empty", field="csv")
            columns = {}
            for option, name in (("--lat-col", lat_col), ("--lng-col", lng_col)):
                if name not in header:
                    raise ValidationError(f"{source}: no column {name!r} for {option}; the "
                                          f"columns are {', '.join(header)}", field=option)
                columns[option] = header.index(name)
            writer = csv.writer(fout)
            writer.writerow([*header, *APPENDED])
            chunk: list[tuple[list[str], float, float]] = []
            line = 1
            for record in reader:
                line += 1
                if not any(cell.strip() for cell in record):
                    continue
                if not (_cell(record, columns["--lng-col"]).strip()
                        or _cell(record, columns["--lat-col"]).strip()):
                    # no coordinates at all (common in 311 exports): copied, not located
                    chunk.append((record, np.nan, np.nan))
                    missing += 1
                    continue
                try:
                    lng, lat = check_lng_lat(_cell(record, columns["--lng-col"]),
                                             _cell(record, columns["--lat-col"]))
                except ValidationError as exc:
                    bad_rows += 1
                    column = lat_col if exc.field == "lat" else lng_col
                    if len(problems) < MAX_REPORTED:
                        problems.append(f"{source}: line {line}, column {column}: {exc.message}")
                    continue
                chunk.append((record, lng, lat))
                if len(chunk) >= CHUNK:
                    inside += _flush(chunk, writer, index, crs, write=not bad_rows)
                    rows += len(chunk)
                    chunk = []
                    if progress:
                        progress(f"located {rows:,} rows")
            inside += _flush(chunk, writer, index, crs, write=not bad_rows)
            rows += len(chunk)
        if bad_rows:
            if bad_rows > len(problems):
                problems.append(f"… and {bad_rows - len(problems)} more bad rows")
            raise LocateFailed(problems, bad_rows)
        os.replace(tmp_name, target)
    except UnicodeDecodeError:
        offset, line = first_undecodable(source, encoding)
        raise ValidationError(
            f"{source}: not {'UTF-8' if encoding == 'utf-8-sig' else encoding} at byte "
            f"{offset} (line {line}); save the file as UTF-8, or name its encoding with "
            "--encoding (e.g. gb18030)", field="csv", code="encoding") from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return {"rows": rows, "inside": inside, "outside": rows - inside - missing,
            "no_coordinates": missing}


def first_undecodable(path: Path, encoding: str) -> tuple[int, int]:
    """The byte offset and line of the first byte ``encoding`` cannot read
    (lines end with a line feed in UTF-8 and GB18030 alike)."""
    offset = 0
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as exc:
                return offset + exc.start, line
            offset += len(raw)
    return offset, line


def _cell(record: list[str], i: int) -> str:
    return record[i] if i < len(record) else ""


def _flush(chunk, writer, index: SpatialIndex, crs: str, *, write: bool) -> int:
    if not chunk or not write:
        return 0
    lng, lat = to_wgs84(np.array([c[1] for c in chunk]), np.array([c[2] for c in chunk]), crs)
    known = ~np.isnan(lng)
    grid_idx = np.full(len(chunk), -1, dtype=np.int64)
    region_ids = np.zeros(len(chunk), dtype=np.int64)
    grid_idx[known], region_ids[known] = index.locate_many(lng[known], lat[known])
    for (record, _, _), g, region_id in zip(chunk, grid_idx, region_ids, strict=True):
        grid = index.grids.nodes[g].code if g >= 0 else ""
        levels = {n.level: n for n in index.chain(int(region_id) or None)}
        district = levels.get("district")
        writer.writerow([*record, grid,
                         levels["community"].code if "community" in levels else "",
                         levels["town"].code if "town" in levels else "",
                         district.code if district else "", district.name if district else ""])
    return int((grid_idx >= 0).sum())
