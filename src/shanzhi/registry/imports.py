"""Import, export and templates of the registries (Excel or CSV).

A registry (``REGISTRIES``) is a list of columns: the Chinese header a
spreadsheet carries (姓名, 公民身份号码 …) and the field it fills. The rules
of every field are the services' (``services.PERSON_FIELDS``, checked with
``validators.clean``): the importer adds only what a file needs — the header
to field mapping, Excel's numbers and dates read back as text and dates, a
choice's label (男, 流动人口) read as its code, the place (a grid code in the
actor's territory, or the address of a registered house) and duplicates
(within the file, and against the database, one query per batch).

``run_import`` reads the file as a stream (CSV in UTF-8 or GB18030; XLSX
sheet XML parsed with ``iterparse``, strings shared or inline), so memory
does not grow with the file. Every bad row is reported with its line as the
user sees it in Excel (the header is line 1), the column's header as it is
in the file, and the message. Strict (the default): any bad row and nothing
is written (the job is *refused*). ``good_only``: the good rows are written
and the bad ones listed. Everything is written in one transaction: a crash
writes nothing. On PostgreSQL rows go in with ``COPY`` (ids drawn from the
sequence first, so the history rows can follow); elsewhere with
``bulk_create``. The progress is published in the cache (the import runs in
a transaction nobody else can read): ``progress(job_id)``.

``export_rows`` gives the rows an actor may see, masked, and writes the
access log; ``export_file`` streams them as XLSX or CSV.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.core import xlsx
from shanzhi.core.errors import NotFound, PermissionDenied, ValidationError
from shanzhi.core.models import AccessAction, AccessLog
from shanzhi.core.privacy import mask_id_number, mask_name, mask_phone

from . import validators
from .models import Gender, IdType, ImportJob, LeftBehind, Person, PersonChange, PersonKind
from .selectors import OPS_ROLES
from .services import person_check

#: Rows validated, checked against the database and written together.
BATCH = 5_000
#: Errors kept on the job (and shown); every bad row is still counted.
MAX_ERRORS = 1_000
PROGRESS_KEY = "registry-import:{}"
PROGRESS_SECONDS = 24 * 3600


# ---------------------------------------------------------------- registries

@dataclass(frozen=True)
class Column:
    """A column of a registry's file: its header, the field it fills, and how to read it."""

    header: str
    field: str
    #: What to write in it (shown in the template's second sheet).
    help: Any = ""
    required: bool = False
    #: "text", "date" (an Excel date or 2026-12-02), "choice" (a label or a code).
    kind: str = "text"
    choices: Any = None
    #: Other headers accepted for this column (older templates, common wordings).
    aliases: tuple[str, ...] = ()
    width: float = 14.0


@dataclass(frozen=True)
class Registry:
    name: str
    title: Any
    columns: tuple[Column, ...]

    def column(self, field_name: str) -> Column:
        return next(c for c in self.columns if c.field == field_name)


GRID = "grid"
ADDRESS = "address"

#: The choices as the files write them (the file format is Chinese whatever the
#: reader's language): the first label of each code is the one exported.
FILE_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "gender": {Gender.MALE: ("男", "男性"), Gender.FEMALE: ("女", "女性")},
    "id_type": {IdType.RESIDENT: ("居民身份证", "身份证"), IdType.PASSPORT: ("护照",),
                IdType.HKMT: ("港澳台居民居住证", "港澳台居民通行证", "港澳台通行证"),
                IdType.PERMANENT: ("外国人永久居留身份证", "永久居留证")},
    "kind": {PersonKind.REGISTERED: ("户籍人口", "户籍"), PersonKind.MIGRANT: ("流动人口", "流动"),
             PersonKind.OVERSEAS: ("境外人员", "境外")},
    "left_behind": {LeftBehind.CHILD: ("留守儿童",), LeftBehind.ELDER: ("留守老人",),
                    LeftBehind.WOMAN: ("留守妇女",)},
}

PEOPLE = Registry("people", _("Actual population"), (
    Column("姓名", "name", _("Required."), required=True, width=10),
    Column("公民身份号码", "id_number", _(
        "Required. A resident identity card's 18 characters (the last may be X); for another "
        "document, its number. Format this column as text, so that Excel does not turn the "
        "numbers into scientific notation."), required=True,
           aliases=("身份证号", "身份证号码", "证件号码"), width=22),
    Column("性别", "gender", _("Required: 男 or 女."), required=True, kind="choice",
           choices=Gender, width=6),
    Column("联系电话", "phone", _("A mobile number (11 digits) or a landline with its area "
                                 "code; may be empty (a child)."), aliases=("手机号", "电话"),
           width=14),
    Column("网格编码", GRID, _("Give the grid code or the house address, or both; if both, they "
                             "must agree."), aliases=("网格",), width=18),
    Column("房屋地址", ADDRESS, _("The standard address of a registered house, e.g. "
                                "某某路88号3幢1单元101室."), aliases=("居住地址", "现住址"),
           width=36),
    Column("证件类型", "id_type", _("居民身份证 (the default), 护照, 港澳台居民居住证 or 通行证, "
                                 "外国人永久居留身份证."), kind="choice", choices=IdType, width=12),
    Column("人员类别", "kind", _("户籍人口 (the default), 流动人口 or 境外人员."), kind="choice",
           choices=PersonKind, width=10),
    Column("出生日期", "birth_date", _("Such as 1980-05-01; may be left empty (taken from the "
                                     "identity number)."), kind="date", width=12),
    Column("民族", "ethnicity", _("The two-digit code of GB/T 3304, e.g. 01 (汉族)."), width=6),
    Column("曾用名", "former_name", width=10),
    Column("籍贯", "native_place", _("The six-digit area code of GB/T 2260."), width=8),
    Column("户籍地址", "registered_address", width=30),
    Column("职业", "occupation", width=10),
    Column("与户主关系", "relation", width=10),
    Column("留守类型", "left_behind", _("留守儿童, 留守老人 or 留守妇女; empty for anyone else."),
           kind="choice", choices=LeftBehind, width=10),
    Column("来本地日期", "moved_in", _("Migrants only."), kind="date", width=12),
    Column("来本地事由", "reason", _("Migrants only, e.g. 务工, 经商, 就学."), width=12),
    Column("居住证号码", "permit_number", _("Migrants only."), width=16),
    Column("居住证签发日期", "permit_issued", _("Migrants only."), kind="date", width=14),
    Column("居住证有效期至", "permit_expires", _("Migrants only. A renewal task is opened 30 days "
                                           "before it ends."), kind="date", width=14),
    Column("国籍", "nationality", _("Overseas persons: the three-letter code of GB/T 2659, e.g. "
                                  "USA."), width=8),
    Column("签证有效期至", "visa_expires", kind="date", width=14),
    Column("备注", "note", width=20),
))

REGISTRIES: dict[str, Registry] = {PEOPLE.name: PEOPLE}


def registry_for(name: str) -> Registry:
    try:
        return REGISTRIES[name]
    except KeyError:
        raise NotFound(gettext("There is no registry %(name)s to import or export.")
                       % {"name": name}, field="registry") from None


def person_fields() -> Mapping[str, Callable]:
    """The one definition of the person's fields and their rules (the services')."""
    from .services import PERSON_FIELDS

    return PERSON_FIELDS


class _Memo:
    """A field's check remembered per value while few values repeat (genders,
    kinds, dates, codes): the same rule, run once per distinct value. A field
    with too many distinct values (names, numbers) stops being remembered."""

    LIMIT = 20_000

    def __init__(self, check: Callable) -> None:
        self.check = check
        self.seen: dict | None = {}

    def __call__(self, value):
        seen = self.seen
        if seen is None:
            return self.check(value)
        try:
            ok, result = seen[value]
        except KeyError:
            try:
                ok, result = True, self.check(value)
            except ValidationError as error:
                ok, result = False, error
            if len(seen) >= self.LIMIT:
                self.seen = None
            else:
                seen[value] = (ok, result)
        if ok:
            return result
        raise result


# ---------------------------------------------------------------- templates

def template(registry: str, fmt: str) -> bytes:
    """An empty file to fill: the headers (csv: UTF-8 with a BOM so Excel
    reads the Chinese; xlsx: a sheet whose cells are text, so identity numbers
    stay as typed, and a second sheet 填写说明 explaining each column)."""
    reg = registry_for(registry)
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerow([c.header for c in reg.columns])
        return codecs.BOM_UTF8 + out.getvalue().encode()
    if fmt != "xlsx":
        raise ValidationError(gettext("The format must be xlsx or csv."), field="format")
    return _template_xlsx(reg)


_TEMPLATE_STYLES = (
    f'{xlsx.XML_HEAD}<styleSheet xmlns="{xlsx.MAIN_NS}">'
    '<fonts count="3"><font><sz val="11"/><name val="等线"/><charset val="134"/></font>'
    '<font><b/><sz val="11"/><name val="等线"/><charset val="134"/></font>'
    '<font><b/><sz val="11"/><color rgb="FFC00000"/><name val="等线"/><charset val="134"/>'
    "</font></fonts>"
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/>'
    "</patternFill></fill></fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    "</cellStyleXfs>"
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    # 1: text (@): what is typed stays text, 320505199001011234 is not a number
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
    'applyFill="1" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="2" fillId="2" borderId="0" xfId="0" applyFont="1" '
    'applyFill="1" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")


def _sheet_xml(rows: Sequence[Sequence[str]], widths: Sequence[float], *, header_styles,
               column_style: int | None) -> str:
    letters = [xlsx.column_letter(i) for i in range(len(widths))]
    style = f' style="{column_style}"' if column_style is not None else ""
    cols = "".join(f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"{style}/>'
                   for i, w in enumerate(widths, start=1))
    body = []
    for number, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{letter}{number}" t="inlineStr"'
            f'{f" s={chr(34)}{header_styles[i]}{chr(34)}" if number == 1 else ""}>'
            f'<is><t xml:space="preserve">{escape(xlsx.clean_text(value))}</t></is></c>'
            for i, (letter, value) in enumerate(zip(letters, row, strict=False)))
        body.append(f'<row r="{number}">{cells}</row>')
    return (f'{xlsx.XML_HEAD}<worksheet xmlns="{xlsx.MAIN_NS}" xmlns:r="{xlsx.REL_NS}">'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
            'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
            f'<cols>{cols}</cols><sheetData>{"".join(body)}</sheetData></worksheet>')


def _template_xlsx(reg: Registry) -> bytes:
    """Two sheets: the headers (required ones in red), every cell formatted as
    text; and one row per column saying what to write."""
    data = _sheet_xml([[c.header for c in reg.columns]], [c.width for c in reg.columns],
                      header_styles=[3 if c.required else 2 for c in reg.columns],
                      column_style=1)
    notes = _sheet_xml([[gettext("Column"), gettext("Required"), gettext("What to write")]]
                       + [[c.header, gettext("Yes") if c.required else "", str(c.help)]
                          for c in reg.columns],
                       [18, 6, 80], header_styles=[2, 2, 2], column_style=None)
    titles = [str(reg.title), gettext("How to fill in")]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", data)
        archive.writestr("xl/worksheets/sheet2.xml", notes)
        archive.writestr("xl/styles.xml", _TEMPLATE_STYLES)
        sheets = "".join(f'<sheet name={quoteattr(t)} sheetId="{i}" r:id="rId{i}"/>'
                         for i, t in enumerate(titles, start=1))
        archive.writestr("xl/workbook.xml", (
            f'{xlsx.XML_HEAD}<workbook xmlns="{xlsx.MAIN_NS}" xmlns:r="{xlsx.REL_NS}">'
            f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>"))
        rels = "".join(f'<Relationship Id="rId{i}" Type="{xlsx.REL_NS}/worksheet" '
                       f'Target="worksheets/sheet{i}.xml"/>' for i in (1, 2))
        archive.writestr("xl/_rels/workbook.xml.rels", (
            f'{xlsx.XML_HEAD}<Relationships xmlns="{xlsx.PKG_REL_NS}">{rels}'
            f'<Relationship Id="rId3" Type="{xlsx.REL_NS}/styles" Target="styles.xml"/>'
            "</Relationships>"))
        archive.writestr("_rels/.rels", (
            f'{xlsx.XML_HEAD}<Relationships xmlns="{xlsx.PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{xlsx.REL_NS}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
        archive.writestr("[Content_Types].xml", (
            f'{xlsx.XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                      f'ContentType="{sheet_type}"/>' for i in (1, 2))
            + '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'))
    return out.getvalue()


# ---------------------------------------------------------------- reading files

class FileProblem(ValidationError):
    """The file as a whole cannot be read (not a CSV/XLSX, no header …)."""


def _detect_encoding(head: bytes) -> str:
    """utf-8-sig with a BOM; utf-8 if the first MiB decodes; else GB18030
    (what Excel saves as 'CSV' on a Chinese Windows)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _csv_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    head = stream.read(1 << 20)
    stream.seek(0)
    encoding = _detect_encoding(head)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError:
        raise FileProblem(gettext("The file is neither UTF-8 nor GB18030 text: save it again "
                                  "as CSV (UTF-8) or as an Excel workbook."),
                          field="file") from None
    except csv.Error as exc:
        raise FileProblem(gettext("The CSV file cannot be read: %(error)s")
                          % {"error": exc}, field="file") from None
    finally:
        if not stream.closed:
            text.detach()


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RNS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]+)(\d*)")


def _column_index(ref: str) -> int:
    letters = _CELL_REF.match(ref).group(1)
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index - 1


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The path of the workbook's first sheet (in the workbook's order)."""
    try:
        workbook = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except KeyError:
        return "xl/worksheets/sheet1.xml"
    sheet = workbook.find(f"{_NS}sheets/{_NS}sheet")
    rid = sheet.get(f"{_RNS}id") if sheet is not None else None
    for rel in rels:
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return "xl/worksheets/sheet1.xml"


def _text_of(element) -> str:
    """The text of a shared string or an inline string (plain, or rich-text runs)."""
    t = element.find(f"{_NS}t")
    if t is not None:
        return t.text or ""
    # rich text: the runs' text, not the phonetic guides (rPh) Excel may add
    return "".join(r.text or "" for r in element.findall(f"{_NS}r/{_NS}t"))


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    strings: list[str] = []
    with archive.open("xl/sharedStrings.xml") as part:
        for _, element in ET.iterparse(part, events=("end",)):
            if element.tag == f"{_NS}si":
                strings.append(_text_of(element))
                element.clear()
    return strings


def _number_text(raw: str) -> str:
    """An Excel number as the text the user typed: 13812345678.0 → 13812345678."""
    if "." in raw or "E" in raw or "e" in raw:
        try:
            value = float(raw)
        except ValueError:
            return raw
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
    return raw


def _xlsx_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    """The first sheet's rows as lists of text, streamed (``iterparse`` over
    the zipped XML, each row dropped once read). Empty rows between rows come
    out as empty lists, so the position is the Excel row number."""
    try:
        archive = zipfile.ZipFile(stream)
        sheet_path = _first_sheet(archive)
        shared = _shared_strings(archive)
        part = archive.open(sheet_path)
    except (zipfile.BadZipFile, KeyError, ET.ParseError):
        raise FileProblem(gettext("The file is not an Excel workbook (.xlsx) that can be "
                                  "read."), field="file") from None
    row_tag, cell_tag, v_tag, is_tag = f"{_NS}row", f"{_NS}c", f"{_NS}v", f"{_NS}is"
    data_tag = f"{_NS}sheetData"
    expected = 1
    with archive, part:
        try:
            sheet_data = None
            for event, element in ET.iterparse(part, events=("start", "end")):
                if event == "start":
                    if element.tag == data_tag:
                        sheet_data = element
                    continue
                if element.tag != row_tag:
                    continue
                number = int(element.get("r") or expected)
                while expected < number:
                    yield []
                    expected += 1
                values: list[str] = []
                for cell in element.iter(cell_tag):
                    ref = cell.get("r")
                    if ref:
                        index = _column_index(ref)
                        if index > len(values):
                            values.extend([""] * (index - len(values)))
                    kind = cell.get("t")
                    if kind == "inlineStr":
                        node = cell.find(is_tag)
                        value = _text_of(node) if node is not None else ""
                    else:
                        v = cell.find(v_tag)
                        raw = v.text or "" if v is not None else ""
                        if kind == "s":
                            value = shared[int(raw)] if raw else ""
                        elif kind in ("str", "e", "d") or not raw:
                            value = raw
                        elif kind == "b":
                            value = "TRUE" if raw == "1" else "FALSE"
                        else:
                            value = _number_text(raw)
                    values.append(value)
                element.clear()
                if sheet_data is not None:
                    sheet_data.clear()  # the rows read are dropped, not kept empty
                expected = number + 1
                yield values
        except ET.ParseError:
            raise FileProblem(gettext("The Excel workbook is damaged: its sheet cannot be "
                                      "read."), field="file") from None


def read_rows(stream: IO[bytes], filename: str) -> Iterator[list[str]]:
    """The rows of a CSV or XLSX file (the header first) as lists of text."""
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        return _xlsx_rows(stream)
    return _csv_rows(stream)


def count_rows(stream: IO[bytes], filename: str) -> int:
    """How many data rows a file has (for the progress; a fast first pass:
    newlines of a CSV, row elements of a sheet)."""
    head = stream.read(4)
    stream.seek(0)
    count = 0
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(stream) as archive, archive.open(_first_sheet(archive)) as part:
                tail = b""
                while chunk := part.read(1 << 20):
                    count += (tail + chunk).count(b"<row ") + (tail + chunk).count(b"<row>")
                    tail = chunk[-5:]
                    count -= tail.count(b"<row ") + tail.count(b"<row>")
                count += tail.count(b"<row ") + tail.count(b"<row>")
        except (zipfile.BadZipFile, KeyError):
            count = 0
    else:
        last = b""
        while chunk := stream.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk
        if last and not last.endswith(b"\n"):
            count += 1
    stream.seek(0)
    return max(count - 1, 0)


# ---------------------------------------------------------------- the import

@dataclass
class Problem:
    line: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass
class _Row:
    line: int
    data: dict
    grid_id: int | None = None
    path: str = ""
    house_id: int | None = None


@dataclass
class _Report:
    problems: list[Problem] = field(default_factory=list)
    bad_rows: int = 0
    #: The reader and (on PostgreSQL) the writer's thread both report.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, problems: list[Problem]) -> None:
        with self.lock:
            self.bad_rows += 1
            room = MAX_ERRORS - len(self.problems)
            if room > 0:
                self.problems.extend(problems[:room])


def _header_key(text: str) -> str:
    return re.sub(r"[\s\u3000*＊:：]", "", text or "")


def _map_header(reg: Registry, header: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """field → index in the row, field → the header as written in the file."""
    names: dict[str, Column] = {}
    for column in reg.columns:
        for name in (column.header, *column.aliases, column.field):
            names[_header_key(name)] = column
    index: dict[str, int] = {}
    shown: dict[str, str] = {}
    for i, text in enumerate(header):
        column = names.get(_header_key(text))
        if column is not None and column.field not in index:
            index[column.field] = i
            shown[column.field] = text.strip()
    return index, shown


def _choice_codes(field_name: str, choices) -> dict[str, str]:
    """A choice's code from its code, its file label (男, 流动人口) or its
    label in either language of the pages."""
    codes: dict[str, str] = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for code, label in choices.choices:
                codes[str(label)] = code
    for code, labels in FILE_LABELS.get(field_name, {}).items():
        codes.update(dict.fromkeys(labels, code))
    for code, _label in choices.choices:
        codes[code] = code
    return codes


def _excel_date(value: str) -> str:
    """An Excel date serial (45627) as an ISO date; anything else unchanged."""
    if re.fullmatch(r"\d{4,5}(?:\.\d+)?", value):
        serial = float(value)
        if 1 <= serial < 2958466:  # Excel's 9999-12-31
            return (xlsx.EPOCH + dt.timedelta(days=int(serial))).isoformat()
    return value


#: The person's own columns (what a cleaned row may set).
PERSON_COLUMNS = frozenset(f.attname for f in Person._meta.concrete_fields)


class _Refused(Exception):
    """Raised inside the transaction to roll back a strict import with bad rows."""


class Importer:
    """One import of one file into the people registry."""

    def __init__(self, *, job: ImportJob, actor: User, scope: Scope, good_only: bool,
                 progress: Callable[[int, int], None] | None) -> None:
        self.job = job
        self.actor = actor
        self.scope = scope
        self.good_only = good_only
        self.on_progress = progress
        self.report = _Report()
        self.registry = PEOPLE
        self.fields = {name: _Memo(check) for name, check in person_fields().items()}
        #: The identity numbers read so far (a resident's as it is, another
        #: document's with its type: one short string each, for a million rows).
        self.seen: set[str] = set()
        self.written = 0
        self.done = 0
        self.now = timezone.now()
        #: One date for every identity number's birth-date check (not asked per row).
        self.today = timezone.localdate(self.now)
        self.grids = {code: (pk, path) for code, pk, path in
                      scope.grids().values_list("code", "id", "community__path")}
        self.addresses: dict[str, tuple[int, int, str] | None] = {}
        self.codes = {c.field: _choice_codes(c.field, c.choices) for c in self.registry.columns
                      if c.kind == "choice"}
        self.dates = [c.field for c in self.registry.columns if c.kind == "date"]
        self.postgres = connection.vendor == "postgresql"
        self.last_published = 0.0
        self.index: dict[str, int] = {}
        self.shown: dict[str, str] = {}
        self.constants: dict = {}
        #: The fields a person's history row records.
        self.recorded = [name for name in person_fields() if name in PERSON_COLUMNS]

    # -- reading and checking one row
    def header_for(self, field_name: str) -> str:
        if field_name in self.shown:
            return self.shown[field_name]
        try:
            return self.registry.column(field_name).header
        except StopIteration:
            return field_name

    def parse(self, line: int, values: list[str]) -> tuple[_Row | None, list[Problem]]:
        width = len(values)
        data = {name: values[i].strip() if i < width else "" for name, i in self.columns}
        for name, codes in self.present_codes:
            raw = data[name]
            data[name] = codes.get(raw, raw)
        for name in self.present_dates:
            if data[name]:
                data[name] = _excel_date(data[name])
        # services.person_clean, with each field's check remembered per value
        cleaned, errors = validators.clean(self.fields, data)
        cleaned.update(self.constants)
        if not any(e.field in ("id_number", "id_type") for e in errors):
            errors += person_check(cleaned, today=self.today)
        problems = [Problem(line, self.header_for(e.field or ""), e.message) for e in errors]
        row = _Row(line, cleaned)
        place = self.place(row, data.get(GRID, ""), data.get(ADDRESS, ""))
        if place is not None:
            problems.append(place)
        if not problems:
            id_type = cleaned.get("id_type") or IdType.RESIDENT
            key = (cleaned["id_number"] if id_type == IdType.RESIDENT else
                   f"{id_type}:{cleaned['id_number']}")
            if key in self.seen:
                problems.append(Problem(line, self.header_for("id_number"), gettext(
                    "This identity number appears more than once in the file.")))
            else:
                self.seen.add(key)
        return (None if problems else row), problems

    def place(self, row: _Row, code: str, address: str) -> Problem | None:
        """The grid (by code, in the actor's territory) or the house (by its
        address, among the houses the actor sees); a problem if neither fits."""
        if address:
            house = self.addresses.get(address, False)
            if house is False:
                house = self.addresses[address] = self.find_house(address)
            if house is None:
                return Problem(row.line, self.header_for(ADDRESS), gettext(
                    "No registered house in your territory has this address."))
            row.house_id, row.grid_id, row.path = house
            if code and self.grids.get(code, (None,))[0] != row.grid_id:
                return Problem(row.line, self.header_for(GRID), gettext(
                    "The house at this address is not in grid %(code)s.") % {"code": code})
            return None
        if not code:
            return Problem(row.line, self.header_for(GRID), gettext(
                "Give the grid code or the address of a registered house."))
        grid = self.grids.get(code)
        if grid is None:
            return Problem(row.line, self.header_for(GRID), gettext(
                "No grid %(code)s in your territory.") % {"code": code})
        row.grid_id, row.path = grid
        return None

    def find_house(self, address: str) -> tuple[int, int, str] | None:
        """(house id, grid id, path) of the registered house at ``address``:
        ``addresses.match``'s exact house among those the actor sees."""
        from . import addresses

        found = addresses.match(address, scope=self.scope)
        # the house typed (or the only one with that room in the building named)
        house = found.house if found is not None else None
        if house is None:
            return None
        if not self.scope.covers(house.path, house.grid_id):
            return None
        return house.pk, house.grid_id, house.path

    # -- a batch: duplicates in the database, then written
    def check_existing(self, rows: list[_Row]) -> list[_Row]:
        """Drop (and report) the rows whose identity number is registered
        already: one query for the batch."""
        if not rows:
            return rows
        numbers = {r.data["id_number"] for r in rows}
        existing = {(t, n): (pk, name, path, grid) for t, n, pk, name, path, grid in
                    Person.objects.filter(id_number__in=numbers, merged_into__isnull=True)
                    .values_list("id_type", "id_number", "id", "name", "path", "grid_id")}
        if not existing:
            return rows
        kept = []
        for row in rows:
            key = (row.data.get("id_type") or IdType.RESIDENT, row.data["id_number"])
            other = existing.get(key)
            if other is None:
                kept.append(row)
                continue
            _pk, name, path, grid = other
            self.report_duplicate(row.line, key[1], name, path, grid)
        return kept

    def report_duplicate(self, line: int, number: str, name: str, path: str,
                         grid: int) -> None:
        """A row whose person is registered already: named (masked) only if
        the actor sees them (the services' words)."""
        if self.scope.covers(path, grid):
            message = gettext("Already registered: %(record)s.") % {
                "record": f"{mask_name(name)}（{mask_id_number(number)}）"}
        else:
            message = gettext("This number is already registered; it cannot be "
                              "registered again.")
        self.report.add([Problem(line, self.header_for("id_number"), message)])

    def write(self, rows: list[_Row]) -> None:
        """Elsewhere than PostgreSQL: the batch and its history rows with bulk_create."""
        if not rows:
            return
        people = [Person(**self.values(row)) for row in rows]
        Person.objects.bulk_create(people, batch_size=500)
        PersonChange.objects.bulk_create(
            [PersonChange(person_id=p.pk, actor=self.actor, at=self.now, action="import",
                          changes=self.changes(r)) for p, r in zip(people, rows, strict=True)],
            batch_size=500)
        self.written += len(rows)

    def values(self, row: _Row) -> dict:
        values = {name: value for name, value in row.data.items()
                  if value not in (None, "") and name in PERSON_COLUMNS}
        values.update(grid_id=row.grid_id, path=row.path, house_id=row.house_id,
                      created_at=self.now, updated_at=self.now)
        return values

    def changes(self, row: _Row) -> dict:
        changes = {name: [None, value.isoformat() if isinstance(value, dt.date) else value]
                   for name, value in row.data.items()
                   if value not in (None, "") and name in PERSON_COLUMNS}
        changes["job"] = [None, self.job.pk]
        return changes

    # -- progress
    def publish(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last_published < 0.5:
            return
        self.last_published = now
        state = {"state": self.job.state, "total": self.job.total or 0, "done": self.done,
                 "written": self.written, "error_count": self.report.bad_rows}
        cache.set(PROGRESS_KEY.format(self.job.pk), state, PROGRESS_SECONDS)
        if self.on_progress is not None:
            self.on_progress(self.done, self.job.total or 0)

    # -- the whole file
    def run(self, rows: Iterator[list[str]]) -> None:
        header = next(rows, None)
        if header is None:
            raise FileProblem(gettext("The file is empty: it has no header row."), field="file")
        self.index, self.shown = _map_header(self.registry, header)
        missing = [c.header for c in self.registry.columns
                   if c.required and c.field not in self.index]
        if GRID not in self.index and ADDRESS not in self.index:
            missing.append(self.registry.column(GRID).header)
        # a field without a column is checked once, empty: its value (a default) or
        # its refusal (a required field) holds for every row
        for name, check in list(self.fields.items()):
            if name in self.index:
                continue
            del self.fields[name]
            try:
                self.constants[name] = check(None)
            except ValidationError:
                header_name = self.header_for(name)
                if header_name not in missing:
                    missing.append(header_name)
        if missing:
            self.report.add([Problem(1, name, gettext("The column is missing from the header "
                                                      "row.")) for name in missing])
            return
        self.columns = list(self.index.items())
        self.present_codes = [(n, c) for n, c in self.codes.items() if n in self.index]
        self.present_dates = [n for n in self.dates if n in self.index]
        with contextlib.ExitStack() as stack:
            staging = stack.enter_context(_Staging(self)) if self.postgres else None
            batch: list[_Row] = []
            for line, values in enumerate(rows, start=2):
                if not any(v.strip() for v in values if v):
                    continue  # an empty line: not a row
                self.done += 1
                row, problems = self.parse(line, values)
                if problems:
                    self.report.add(problems)
                elif row is not None:
                    batch.append(row)
                if len(batch) >= BATCH:
                    self.flush(batch, staging)
                    batch = []
                if not self.done % 1000:
                    self.publish()
            self.flush(batch, staging)
            if staging is not None:
                staging.finish()

    def flush(self, batch: list[_Row], staging: _Staging | None) -> None:
        if staging is not None:  # every good row, so duplicates are found even when refused
            staging.write(batch)
            return
        good = self.check_existing(batch)
        if self.good_only or not self.report.bad_rows:
            self.write(good)


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _copy_text(value) -> str:
    """A value as a field of COPY's text format (None: \\N; a date or a
    time: ISO 8601; text with its backslashes, tabs and line breaks escaped)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if _COPY_SPECIAL.search(value):
            return _COPY_SPECIAL.sub(lambda m: _COPY_ESCAPES[m.group()], value)
        return value
    if isinstance(value, dt.date):  # a datetime too (aware: with its offset)
        return value.isoformat()
    return str(value)


class _Staging:
    """PostgreSQL: a worker thread, on the same connection and in the same
    transaction, COPies each batch of good rows into one of two temporary,
    unindexed tables (as fast as a bare COPY), finds the batch's rows whose
    person is registered already (one query) and moves the others into the
    registry with their history (one ``INSERT … SELECT`` statement, ids from
    the table's sequence) — while the reader reads and checks the next
    batches. The server's work and Python's overlap; the connection's lock
    keeps their statements apart. Two tables: at most two batches wait."""

    TABLES = ("registry_import_rows_a", "registry_import_rows_b")

    def __init__(self, importer: Importer) -> None:
        self.importer = importer
        self.fields = [f for f in Person._meta.concrete_fields if f.attname != "id"]
        self.defaults = {f.attname: (f.get_default() if f.has_default() else
                                     (None if f.null else "")) for f in self.fields}
        self.pending: list = [None, None]
        self.batches = 0
        self.lock = threading.Lock()
        # the history's fields that a row of this file can fill: its columns, the
        # filled defaults of the others, the numbers and the birth date it gives
        # (every other one is empty on every row: not worth a CASE per row)
        recorded = [f for f in self.fields if f.attname in importer.recorded and (
            f.attname in importer.index or f.attname in ("id_number", "birth_date")
            or importer.constants.get(f.attname) not in (None, ""))]
        history = ", ".join(f"'{f.attname}', CASE WHEN {f.column}::text <> '' "
                            f"THEN jsonb_build_array(NULL, {f.column}) END" for f in recorded)
        self.names = ", ".join(f.column for f in self.fields)
        #: A row of the table (its columns, then the line): the defaults, the
        #: times of the import; each row's values put in place by ``write``.
        self.positions = {f.attname: i for i, f in enumerate(self.fields)}
        times = {"created_at": importer.now, "updated_at": importer.now}
        self.blank = [_copy_text(times.get(f.attname, self.defaults[f.attname]))
                      for f in self.fields]
        self.blank.append("\\N")
        self.late = [self.positions[name] for name in ("grid_id", "path", "house_id")]
        self.returned = ", ".join(f.column for f in recorded)
        self.history = history
        self.language = translation.get_language()

    def __enter__(self) -> _Staging:
        from concurrent.futures import ThreadPoolExecutor

        connection.ensure_connection()
        self.raw = connection.connection  # psycopg 3: thread-safe, one lock per connection
        with self.raw.cursor() as cursor:
            for table in self.TABLES:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cursor.execute(f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS "
                               f"SELECT * FROM {Person._meta.db_table} WITH NO DATA")
                cursor.execute(f"ALTER TABLE {table} ADD COLUMN line integer")
            # the foreign keys (deferred till the commit, as Django declares them)
            # checked at the end of each batch's statement instead: the same
            # checks, but made in the worker while the reader goes on, not all
            # at once at the commit, and no queue of millions of pending checks
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry-import")
        # the worker takes the interpreter back after each statement; the reader,
        # always busy, would make it wait up to the switch interval (5 ms) each
        # time: a few times per batch, a tenth of the import
        self.switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self.switch, 0.0005))
        return self

    def __exit__(self, *exc) -> None:
        # never leave a statement running into the rollback or the commit
        self.worker.shutdown(wait=True)
        sys.setswitchinterval(self.switch)
        if exc[0] is None:
            with self.raw.cursor() as cursor:
                for table in self.TABLES:
                    cursor.execute(f"DROP TABLE {table}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def write(self, rows: list[_Row]) -> None:
        """The batch's rows as the text of a COPY (formatted here, so the
        worker sends it in one piece instead of taking the interpreter's lock
        row after row), handed to the worker, which COPies it into the free
        table and moves it: the reader never waits for the server (only for
        the batch before last, if the server is the slower)."""
        if not rows:
            return
        slot = self.batches % 2
        self.batches += 1
        if self.pending[slot] is not None:
            self.pending[slot].result()  # the table's previous batch is moved
        table = self.TABLES[slot]
        # the same values as Importer.values (empty cells: the field's default),
        # placed straight into a list of the table's columns
        positions, blank = self.positions, self.blank
        late = self.late
        lines = []
        for row in rows:
            out = blank.copy()
            for name, value in row.data.items():
                at = positions.get(name)
                if at is not None and value is not None and value != "":
                    out[at] = _copy_text(value)
            out[late[0]], out[late[1]], out[late[2]], out[-1] = (
                _copy_text(row.grid_id), _copy_text(row.path), _copy_text(row.house_id),
                str(row.line))
            lines.append("\t".join(out))
        lines.append("")
        data = "\n".join(lines).encode()
        self.pending[slot] = self.worker.submit(self.copy_and_move, table, data)

    def copy_and_move(self, table: str, data: bytes) -> None:
        """(In the worker.) COPY the batch into ``table``, then move it."""
        with self.raw.cursor() as cursor, cursor.copy(
                f"COPY {table} ({self.names}, line) FROM STDIN") as copy:
            copy.write(data)
        self.move(table)

    def move(self, table: str) -> None:
        """(In the worker.) Report the batch's registered people, move the rest."""
        with translation.override(self.language):
            self._move(table)

    def _move(self, table: str) -> None:
        importer = self.importer
        people = Person._meta.db_table
        with self.raw.cursor() as cursor:
            # one look-up in the unique index per row (LATERAL … LIMIT 1): a plain
            # join is planned from the statistics of a registry still nearly
            # empty, as a hash of every person registered (quadratic over a file)
            cursor.execute(
                f"SELECT s.line, s.id_number, p.name, p.path, p.grid_id FROM {table} s "
                f"CROSS JOIN LATERAL (SELECT name, path, grid_id FROM {people} p "
                "WHERE p.id_type = s.id_type AND p.id_number = s.id_number "
                "AND p.merged_into_id IS NULL LIMIT 1) p")
            duplicates = cursor.fetchall()
            with self.lock:
                for line, number, name, path, grid in duplicates:
                    importer.report_duplicate(line, number, name, path, grid)
                refused = importer.report.bad_rows and not importer.good_only
            if not refused:
                skip = [d[0] for d in duplicates]
                cursor.execute(
                    f"WITH new AS (INSERT INTO {people} ({self.names}) SELECT {self.names} "
                    f"FROM {table} WHERE NOT line = ANY(%s) RETURNING id, {self.returned}) "
                    f"INSERT INTO {PersonChange._meta.db_table} (person_id, actor_id, at, "
                    "action, changes) SELECT id, %s, %s, 'import', jsonb_strip_nulls("
                    f"jsonb_build_object({self.history}, 'job', jsonb_build_array(NULL, "
                    "%s::integer))) FROM new",
                    [skip, importer.actor.pk if importer.actor else None, importer.now,
                     importer.job.pk])
                with self.lock:
                    importer.written += cursor.rowcount
            cursor.execute(f"TRUNCATE {table}")

    def finish(self) -> None:
        """Wait for the last batches (their errors raised here)."""
        for future in self.pending:
            if future is not None:
                future.result()


def run_import(*, registry: str, actor: User, path: str | Path | None = None,
               file: IO[bytes] | None = None, filename: str = "", good_only: bool = False,
               progress: Callable[[int, int], None] | None = None,
               job: ImportJob | None = None) -> ImportJob:
    """Import a CSV or XLSX file into ``registry`` as ``actor``; the job tells
    the outcome (done, refused, failed), the rows read and written and every
    bad row (the first 1,000 of them, with their count). ``job``: one created
    beforehand (by a page that polls its progress), else a new one."""
    reg = registry_for(registry)
    if not (actor.is_superuser or actor.role in OPS_ROLES):
        raise PermissionDenied(gettext("Only a city administrator or an operator may import "
                                       "into the registries."))
    scope = Scope.for_user(actor)
    if path is not None:
        filename = filename or Path(path).name
        stream: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed below
    elif file is not None:
        stream = file
    else:
        raise ValidationError(gettext("Give the file to import."), field="file")
    try:
        if job is None:
            job = ImportJob.objects.create(registry=reg.name, filename=filename[:200],
                                           actor=actor, good_only=good_only)
        job.total = count_rows(stream, filename)
        ImportJob.objects.filter(pk=job.pk).update(total=job.total)
        # people: the bulk path above; the other registries: imports_more's, row by row
        importer = (Importer if reg is PEOPLE else imports_more.IMPORTERS[reg.name])(
            job=job, actor=actor, scope=scope, good_only=good_only, progress=progress)
        importer.publish(final=True)
        try:
            with transaction.atomic():
                importer.run(read_rows(stream, filename))
                if importer.report.bad_rows and not good_only:
                    raise _Refused
            job.state = ImportJob.State.DONE
        except _Refused:
            importer.written = 0
            job.state = ImportJob.State.REFUSED
        except FileProblem as exc:
            importer.written = 0
            importer.report.add([Problem(1, gettext("file"), exc.message)])
            job.state = ImportJob.State.REFUSED
        except Exception:
            importer.written = 0
            job.state = ImportJob.State.FAILED
            _finish(job, importer)
            raise
        _finish(job, importer)
    finally:
        if path is not None:
            stream.close()
    return job


def _finish(job: ImportJob, importer: Importer) -> None:
    job.done = importer.done
    job.total = importer.done  # the rows read (the first count took blank lines too)
    job.written = importer.written
    job.errors = [p.as_dict() for p in sorted(importer.report.problems, key=lambda p: p.line)]
    job.error_count = importer.report.bad_rows
    job.ended_at = timezone.now()
    job.save(update_fields=["state", "done", "total", "written", "errors", "error_count",
                            "ended_at"])
    importer.publish(final=True)


def progress(job_id: int) -> dict:
    """What a page polls: state, total, done, written, error_count (from the
    cache while the import runs, from the job once it has ended)."""
    state = cache.get(PROGRESS_KEY.format(job_id))
    if state is not None:
        return state
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(gettext("There is no such import."), field="job")
    return {"state": job.state, "total": job.total or 0, "done": job.done,
            "written": job.written, "error_count": job.error_count}


# ---------------------------------------------------------------- export

def _export_value(person: Person, column: Column):
    if column.field == GRID:
        return person.grid.code
    if column.field == ADDRESS:
        return person.house.address if person.house_id else ""
    value = getattr(person, column.field)
    if column.field == "id_number":
        return mask_id_number(value)
    if column.field == "phone":
        return mask_phone(value)
    if column.kind == "choice":
        return FILE_LABELS.get(column.field, {}).get(value, (value,))[0] if value else ""
    return value


def export_rows(*, scope: Scope, registry: str, filters: Mapping | None = None,
                actor: User | None = None, request=None) -> tuple[list[Column], Iterator[list]]:
    """The columns and the rows of ``registry`` that ``scope`` sees (the
    list's filters applied), identity numbers and phones masked; one EXPORT
    row in the access log (who, how many rows, which filters)."""
    from . import selectors

    reg = registry_for(registry)
    if actor is None and scope.user_id is not None:
        actor = User.objects.filter(pk=scope.user_id).first()
    if actor is not None and not (actor.is_superuser or actor.role in OPS_ROLES):
        raise PermissionDenied(gettext("Only a city administrator or an operator may export "
                                       "the registries."))
    filters = dict(filters or {})
    if reg is not PEOPLE:
        return imports_more.export_rows(scope=scope, reg=reg, filters=filters, actor=actor,
                                        request=request)
    people = selectors.people_list(scope=scope, **filters)
    if hasattr(people, "select_related"):
        people = people.select_related("grid", "house")
    count = people.count() if hasattr(people, "count") else len(people)
    AccessLog.record(action=AccessAction.EXPORT, request=request, user=actor,
                     fields=["name", "id_number", "phone"],
                     reason=f"registry export {reg.name}: {count} rows, filters "
                            f"{ {k: v for k, v in filters.items() if v not in (None, '')} }")
    columns = list(reg.columns)

    def rows() -> Iterator[list]:
        source = people.iterator(chunk_size=2000) if hasattr(people, "iterator") else people
        with translation.override("zh-hans"):
            for person in source:
                yield [_export_value(person, c) for c in columns]

    return columns, rows()


def export_file(*, scope: Scope, registry: str, fmt: str, filters: Mapping | None = None,
                actor: User | None = None, request=None) -> Iterator[bytes]:
    """The export streamed as XLSX (``core.xlsx.stream_xlsx``) or CSV (UTF-8 with a BOM)."""
    columns, rows = export_rows(scope=scope, registry=registry, filters=filters, actor=actor,
                                request=request)
    if fmt == "xlsx":
        return xlsx.stream_xlsx(columns=[xlsx.Column(c.header, c.width) for c in columns],
                                rows=rows, sheet_name=str(registry_for(registry).title),
                                tz=timezone.get_current_timezone())
    if fmt != "csv":
        raise ValidationError(gettext("The format must be xlsx or csv."), field="format")
    return _csv_chunks([c.header for c in columns], rows)


def _csv_chunks(header: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield codecs.BOM_UTF8 + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    for i, row in enumerate(rows, start=1):
        writer.writerow(["" if v is None else v for v in row])
        if i % 1000 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# houses, organisations, members and places (registered in REGISTRIES on import)
from . import imports_more  # noqa: E402
