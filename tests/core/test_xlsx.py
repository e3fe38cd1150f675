"""The streaming XLSX writer: what it writes opens in openpyxl with the right
cells (Chinese text, numbers, dates in the city's time), it goes on in a new
sheet past a sheet's limits, and its memory stays flat however many rows."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
import zipfile
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from shanzhi.core.xlsx import (
    MAX_CELL_CHARS,
    Column,
    column_letter,
    excel_serial,
    sheet_title,
    stream_xlsx,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLUMNS = [Column("编号", 20), Column("事件描述", 40), Column("上报时间", 18),
           Column("次数", 8), Column("日期", 12), Column("超期", 8)]


def wall(*args) -> dt.datetime:
    """A wall-clock time without zone, as a spreadsheet holds it."""
    return dt.datetime(*args, tzinfo=SHANGHAI).replace(tzinfo=None)


def workbook(chunks) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(b"".join(chunks)))


def rows(n: int):
    at = dt.datetime(2026, 2, 13, 8, 30, tzinfo=dt.UTC)
    for i in range(n):
        yield [f"SJ{i:08d}", f"第{i}号：路边有暴露垃圾 <&> \"引号\"", at, i, dt.date(2026, 2, 13),
               i % 2 == 0]


def test_a_workbook_opens_with_its_header_and_typed_cells():
    book = workbook(stream_xlsx(columns=COLUMNS, rows=rows(3), sheet_name="事件清单",
                                tz=SHANGHAI))
    assert book.sheetnames == ["事件清单"]
    sheet = book.active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("编号", "事件描述", "上报时间", "次数", "日期", "超期")
    assert values[1] == ("SJ00000000", "第0号：路边有暴露垃圾 <&> \"引号\"",
                         wall(2026, 2, 13, 16, 30), 0, wall(2026, 2, 13), True)
    assert len(values) == 4
    assert sheet["A1"].font.b
    assert sheet["C2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F4"
    assert sheet.column_dimensions["B"].width == 40


def test_many_rows_of_chinese_text_round_trip():
    book = openpyxl.load_workbook(io.BytesIO(b"".join(stream_xlsx(
        columns=COLUMNS, rows=rows(20_000), tz=SHANGHAI))), read_only=True)
    values = list(book.worksheets[0].iter_rows(values_only=True))
    assert len(values) == 20_001
    assert values[-1][:2] == ("SJ00019999", "第19999号：路边有暴露垃圾 <&> \"引号\"")


def test_empty_cells_odd_characters_and_long_text():
    long = "长" * (MAX_CELL_CHARS + 10)
    book = workbook(stream_xlsx(columns=[Column("a"), Column("b"), Column("c")], rows=[
        [None, "  首尾空格 \n第二行", "bell\x07tab\there"],
        [long, float("nan"), ""],
    ]))
    sheet = book.active
    assert sheet["A2"].value is None
    assert sheet["B2"].value == "  首尾空格 \n第二行"
    assert sheet["C2"].value == "belltab\there"  # a control character XML cannot carry is dropped
    assert sheet["A3"].value == "长" * MAX_CELL_CHARS
    assert sheet["B3"].value == "nan"


def test_no_rows_still_make_a_sheet_with_its_header():
    book = workbook(stream_xlsx(columns=COLUMNS, rows=[]))
    assert [c.value for c in book.active[1]] == [c.title for c in COLUMNS]
    assert book.active.max_row == 1


def test_the_rows_go_on_in_a_new_sheet_past_the_row_limit():
    book = workbook(stream_xlsx(columns=COLUMNS, rows=rows(7), sheet_name="事件",
                                max_rows=4))
    assert book.sheetnames == ["事件", "事件 (2)", "事件 (3)"]
    counts = [sheet.max_row for sheet in book.worksheets]
    assert counts == [4, 4, 2]  # each with its header: 3 + 3 + 1 rows
    assert book.worksheets[2]["A2"].value == "SJ00000006"


def test_the_rows_go_on_in_a_new_sheet_past_the_byte_budget():
    book = workbook(stream_xlsx(columns=COLUMNS, rows=rows(50), sheet_bytes=4_000))
    assert len(book.sheetnames) > 1
    total = sum(sheet.max_row - 1 for sheet in book.worksheets)
    assert total == 50


def test_rows_exactly_filling_a_sheet_make_no_empty_sheet():
    book = workbook(stream_xlsx(columns=COLUMNS, rows=rows(6), max_rows=4))
    assert len(book.sheetnames) == 2


def test_it_writes_to_an_unseekable_stream_and_hands_out_bytes_as_it_goes():
    chunks = stream_xlsx(columns=COLUMNS, rows=rows(30_000), chunk=16 * 1024)
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04")  # the first sheet's entry, already under way
    rest = list(chunks)
    assert len(rest) > 5
    archive = zipfile.ZipFile(io.BytesIO(first + b"".join(rest)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[0] == "xl/worksheets/sheet1.xml" and names[-1] == "[Content_Types].xml"
    assert all(info.flag_bits & 0x08 for info in archive.infolist())  # data descriptors


def test_memory_stays_flat_however_many_rows():
    def peak(n: int) -> int:
        tracemalloc.start()
        try:
            for _chunk in stream_xlsx(columns=COLUMNS, rows=rows(n), tz=SHANGHAI):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(20_000)
    assert large < small * 1.5 + 256 * 1024
    assert large < 4 * 1024 * 1024


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"),
                                                (702, "AAA")])
def test_column_letters(index, letters):
    assert column_letter(index) == letters


def test_excel_serials_count_days_from_its_epoch():
    assert excel_serial(dt.date(1900, 3, 1)) == 61
    assert excel_serial(wall(2026, 1, 1, 12)) == 46023.5
    noon_utc = dt.datetime(2026, 1, 1, 4, tzinfo=dt.UTC)
    assert excel_serial(noon_utc, SHANGHAI) == 46023.5


def test_sheet_titles_are_valid_and_short():
    assert sheet_title("事件/清单[1]", 1) == "事件 清单 1"
    assert len(sheet_title("很长的工作表名称" * 10, 12)) == 31
    assert sheet_title("很长的工作表名称" * 10, 12).endswith(" (12)")
    assert sheet_title("", 1) == "Sheet"


def test_a_row_longer_than_the_columns_is_refused():
    with pytest.raises(ValueError, match="3 cells for 2 columns"):
        b"".join(stream_xlsx(columns=[Column("a"), Column("b")], rows=[[1, 2, 3]]))
