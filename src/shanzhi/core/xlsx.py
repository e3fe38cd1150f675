"""A streaming XLSX (Office Open XML SpreadsheetML) writer: rows in, bytes out,
in constant memory.

``stream_xlsx(columns=…, rows=…)`` is a generator of byte chunks. It writes
the ZIP container with :mod:`zipfile` into an *unseekable* sink (so every
entry carries a data descriptor instead of a header patched afterwards) and
hands out what has been compressed so far every ``chunk`` bytes: memory
stays flat however many rows there are, and the first bytes leave before
the last row is read.

Strings are written inline (``t="inlineStr"``), not through a shared-string
table that would have to be held until the end. Dates and times are real
Excel dates (numbers with a date format), numbers are numbers, booleans are
booleans. A sheet holds at most Excel's 1,048,576 rows and about 1 GiB of
XML; the rows go on in a new sheet (``name (2)``, …) past either limit, so no
ZIP entry ever needs Zip64 extensions, which some spreadsheet programs
refuse. The workbook, its styles and ``[Content_Types].xml`` are written
last, once the number of sheets is known (the package format does not care
about entry order).

No Django here: callers give timezone-aware datetimes and the zone to show
them in (``tz``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

#: Excel's limits: rows per sheet (the header row included), characters per cell.
MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
#: Uncompressed XML per sheet before the rows go on in a new sheet: far below
#: the 2 GiB at which zipfile would need Zip64 for the entry.
SHEET_BYTES = 1 << 30
#: How much compressed output is gathered before it is handed out.
CHUNK = 64 * 1024

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year quirk)
# characters XML 1.0 cannot carry
ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

# the cell styles of styles.xml, by index
STYLE_DATETIME = 1
STYLE_DATE = 2
STYLE_HEADER = 3


@dataclass(frozen=True)
class Column:
    """A column: its header and its width in characters."""

    title: str
    width: float = 14.0


Cell = str | int | float | bool | dt.datetime | dt.date | None


class _Sink:
    """An unseekable file object that keeps what zipfile writes until taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def excel_serial(value: dt.datetime | dt.date, tz: dt.tzinfo | None = None) -> float:
    """Days since Excel's epoch; an aware datetime is shown in ``tz`` (or its own zone)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and tz is not None:
            value = value.astimezone(tz)
        clock = value.time()
        seconds = clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6
        return (value.date() - EPOCH).days + seconds / 86400
    return float((value - EPOCH).days)


#: One pass over a text: the characters XML forbids dropped, & < > escaped.
XML_TEXT = {**dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0xD800, 0xE000), 0xFFFE,
     0xFFFF]), ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"}


def clean_text(value: str) -> str:
    """The text as a cell can hold it: no characters XML forbids, at most 32,767 long."""
    return ILLEGAL_XML.sub("", value)[:MAX_CELL_CHARS]


def _text(ref: str, text: str, style_attr: str = "") -> str:
    return (f'<c r="{ref}" t="inlineStr"{style_attr}><is><t xml:space="preserve">'
            f"{text[:MAX_CELL_CHARS].translate(XML_TEXT)}</t></is></c>")


def _cell(ref: str, value: Cell, tz: dt.tzinfo | None, style: int = 0) -> str:
    """Any cell; the rows' usual types take the short ways in :func:`_row`."""
    s = f' s="{style}"' if style else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{s}><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return _text(ref, str(value), s)
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    if isinstance(value, dt.datetime):
        return f'<c r="{ref}" s="{STYLE_DATETIME}"><v>{excel_serial(value, tz)!r}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="{STYLE_DATE}"><v>{excel_serial(value)!r}</v></c>'
    return _text(ref, str(value), s)


def _row(number: int, letters: Sequence[str], values: Sequence[Cell], tz: dt.tzinfo | None,
         style: int = 0) -> str:
    if len(values) > len(letters):
        raise ValueError(f"row {number} has {len(values)} cells for {len(letters)} columns")
    parts = [f'<row r="{number}">']
    for letter, value in zip(letters, values, strict=False):
        kind = type(value)
        if value is None:
            continue
        if kind is str and not style:
            parts.append(_text(f"{letter}{number}", value))
        elif kind is int and not style:
            parts.append(f'<c r="{letter}{number}"><v>{value}</v></c>')
        else:
            parts.append(_cell(f"{letter}{number}", value, tz, style))
    parts.append("</row>")
    return "".join(parts)


def sheet_title(base: str, number: int) -> str:
    """A valid, unique sheet name: at most 31 characters, none of []:*?/\\."""
    base = SHEET_NAME_FORBIDDEN.sub(" ", clean_text(base)).strip("' ") or "Sheet"
    suffix = f" ({number})" if number > 1 else ""
    return base[:31 - len(suffix)] + suffix


@dataclass
class _Sheet:
    title: str
    rows: int = 0  # data rows written, the header not counted


class _Writer:
    def __init__(self, columns: Sequence[Column], *, tz: dt.tzinfo | None, max_rows: int,
                 sheet_bytes: int, chunk: int) -> None:
        if not columns:
            raise ValueError("a sheet needs at least one column")
        if max_rows < 2:
            raise ValueError("max_rows must leave room for the header and one row")
        self.columns = list(columns)
        self.letters = [column_letter(i) for i in range(len(columns))]
        self.tz = tz
        self.max_rows = max_rows
        self.sheet_bytes = sheet_bytes
        self.chunk = chunk
        self.sink = _Sink()
        self.sheets: list[_Sheet] = []

    def ready(self) -> Iterator[bytes]:
        """Hand out the compressed bytes once a chunk has gathered."""
        if self.sink.size >= self.chunk:
            yield self.sink.take()

    def head(self) -> str:
        cols = "".join(f'<col min="{i}" max="{i}" width="{c.width:g}" customWidth="1"/>'
                       for i, c in enumerate(self.columns, start=1))
        header = _row(1, self.letters, [c.title for c in self.columns], None, STYLE_HEADER)
        return (f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
                '<sheetViews><sheetView workbookViewId="0"'
                '><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
                f"<cols>{cols}</cols><sheetData>{header}")

    def tail(self, sheet: _Sheet) -> str:
        return f'</sheetData><autoFilter ref="{self.filter_range(sheet)}"/></worksheet>'

    def filter_range(self, sheet: _Sheet, absolute: bool = False) -> str:
        last, end = self.letters[-1], sheet.rows + 1
        return f"$A$1:${last}${end}" if absolute else f"A1:{last}{end}"

    def sheet(self, archive: zipfile.ZipFile, title: str, row: Sequence[Cell] | None,
              rows: Iterator[Sequence[Cell]]) -> Generator[bytes, None, Sequence[Cell] | None]:
        """Write one sheet starting with ``row``; yields chunks and returns the
        row that did not fit (None when the rows ran out)."""
        sheet = _Sheet(title)
        self.sheets.append(sheet)
        with archive.open(f"xl/worksheets/sheet{len(self.sheets)}.xml", "w") as entry:
            written = entry.write(self.head().encode())
            while row is not None and sheet.rows + 1 < self.max_rows and (
                    written < self.sheet_bytes):
                written += entry.write(_row(sheet.rows + 2, self.letters, row, self.tz).encode())
                sheet.rows += 1
                yield from self.ready()
                row = next(rows, None)
            entry.write(self.tail(sheet).encode())
        return row

    def package(self, archive: zipfile.ZipFile) -> None:
        """Everything but the sheets, written once their number is known."""
        n = len(self.sheets)
        archive.writestr("xl/styles.xml", STYLES)
        sheets = "".join(f'<sheet name={quoteattr(s.title)} sheetId="{i}" r:id="rId{i}"/>'
                         for i, s in enumerate(self.sheets, start=1))
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"{escape(_quoted(s.title))}!{self.filter_range(s, absolute=True)}</definedName>"
            for i, s in enumerate(self.sheets))
        archive.writestr("xl/workbook.xml", (
            f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets>"
            f"<definedNames>{names}</definedNames></workbook>"))
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" '
            f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
        archive.writestr("xl/_rels/workbook.xml.rels", (
            f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">{rels}'
            f'<Relationship Id="rId{n + 1}" Type="{REL_NS}/styles" Target="styles.xml"/>'
            "</Relationships>"))
        archive.writestr("_rels/.rels", (
            f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"))
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, n + 1))
        archive.writestr("[Content_Types].xml", (
            f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}"
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            "</Types>"))


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def stream_xlsx(*, columns: Sequence[Column], rows: Iterable[Sequence[Cell]],
                sheet_name: str = "Sheet", tz: dt.tzinfo | None = None,
                max_rows: int = MAX_ROWS, sheet_bytes: int = SHEET_BYTES,
                chunk: int = CHUNK) -> Iterator[bytes]:
    """The workbook as byte chunks: a header row of ``columns``, then ``rows``
    (each a sequence of cells: str, int, float, bool, date, datetime or None),
    read one at a time."""
    writer = _Writer(columns, tz=tz, max_rows=max_rows, sheet_bytes=sheet_bytes, chunk=chunk)
    rows = iter(rows)
    with zipfile.ZipFile(writer.sink, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=6) as archive:
        row = next(rows, None)
        while True:
            title = sheet_title(sheet_name, len(writer.sheets) + 1)
            row = yield from writer.sheet(archive, title, row, rows)
            if row is None:
                break
        writer.package(archive)
    yield writer.sink.take()


CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

STYLES = (
    f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="等线"/><family val="2"/>'
    '<charset val="134"/></font><font><b/><sz val="11"/><name val="等线"/><family val="2"/>'
    '<charset val="134"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/>'
    "</patternFill></fill></fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    "</cellStyleXfs>"
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")
