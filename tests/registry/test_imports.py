"""Importing people from Excel and CSV: every bad row named by line and column,
strict (nothing written) or good rows only, progress, templates; the masked
export and its access-log row."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import random

import pytest

from shanzhi.core import identity
from shanzhi.core.errors import PermissionDenied
from shanzhi.core.models import AccessAction, AccessLog
from shanzhi.core.xlsx import Column, stream_xlsx
from shanzhi.registry import imports
from shanzhi.registry.models import ImportJob, Person, PersonChange

HEADER = ["姓名", "公民身份号码", "性别", "联系电话", "网格编码", "房屋地址", "人员类别",
          "居住证有效期至"]
RNG = random.Random(14)


def id_number(male=True, born=None) -> str:
    """A valid number, a new one each time (births spread over 40 years)."""
    born = born or dt.date(1960, 1, 1) + dt.timedelta(days=RNG.randrange(40 * 365))
    return identity.synthetic_id_number(RNG, area="320505", born=born, male=male)


def corrupt(number: str) -> str:
    """The same number with its check character wrong."""
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def csv_bytes(rows, *, header=HEADER, encoding="utf-8-sig") -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode(encoding))


def xlsx_bytes(rows, *, header=HEADER) -> io.BytesIO:
    return io.BytesIO(b"".join(stream_xlsx(columns=[Column(h) for h in header], rows=rows)))


def run(actor, file, *, name="people.csv", good_only=False, **kwargs) -> ImportJob:
    return imports.run_import(registry="people", actor=actor, file=file, filename=name,
                              good_only=good_only, **kwargs)


def problems(job: ImportJob) -> set[tuple[int, str]]:
    return {(e["line"], e["column"]) for e in job.errors}


@pytest.fixture
def grid_code(territory) -> str:
    return territory.west_grids[0].code


@pytest.fixture
def existing(territory, personas) -> Person:
    grid = territory.west_grids[1]
    return Person.objects.create(grid=grid, name="王芳", id_number=id_number(male=False),
                                 gender="2")


@pytest.fixture
def mixed_rows(grid_code, existing):
    """Line 2 good, 3 bad check digit, 4 unknown grid, 5 unknown address, 6 the
    same number as line 2, 7 an existing person's number, 8 no name, 9 good."""
    first, last = id_number(), id_number(male=False)
    return [
        ["张三", first, "男", "13812345678", grid_code, "", "户籍人口", ""],
        ["李四", corrupt(id_number()), "男", "13800000001", grid_code, "", "", ""],
        ["王五", id_number(), "男", "13800000002", "999999999999999", "", "", ""],
        ["赵六", id_number(), "女", "13800000003", "", "火星路1号1幢1单元101室", "", ""],
        ["张三丰", first, "男", "13800000004", grid_code, "", "", ""],
        ["王芳", existing.id_number, "女", "13800000005", grid_code, "", "", ""],
        ["", id_number(), "女", "13800000006", grid_code, "", "", ""],
        ["钱七", last, "女", "0512-65221234", grid_code, "", "流动人口", "2027-06-30"],
    ]


EXPECTED_BAD = {(3, "公民身份号码"), (4, "网格编码"), (5, "房屋地址"), (6, "公民身份号码"),
                (7, "公民身份号码"), (8, "姓名")}


def test_a_strict_import_with_bad_rows_writes_nothing_and_names_each_line_and_column(
        personas, mixed_rows):
    before = Person.objects.count()
    job = run(personas.admin, csv_bytes(mixed_rows))
    assert job.state == ImportJob.State.REFUSED
    assert problems(job) == EXPECTED_BAD
    assert job.error_count == 6 and job.written == 0 and job.done == 8
    assert Person.objects.count() == before
    assert not PersonChange.objects.exists()
    by_line = {e["line"]: e["message"] for e in job.errors}
    assert "校验码错误" in by_line[3]  # the messages speak the default language
    assert "重复出现" in by_line[6]
    assert "王*" in by_line[7]  # the existing person, masked: the admin sees them


def test_good_only_writes_exactly_the_good_rows(personas, mixed_rows, grid_code):
    job = run(personas.admin, csv_bytes(mixed_rows), good_only=True)
    assert job.state == ImportJob.State.DONE
    assert problems(job) == EXPECTED_BAD
    assert job.written == 2
    new = Person.objects.exclude(name="王芳")
    assert sorted(new.values_list("name", flat=True)) == ["张三", "钱七"]
    zhang = new.get(name="张三")
    assert zhang.gender == "1" and zhang.phone == "13812345678"
    assert zhang.grid.code == grid_code and zhang.path == zhang.grid.path
    qian = new.get(name="钱七")
    assert qian.kind == "migrant" and qian.permit_expires == dt.date(2027, 6, 30)
    history = PersonChange.objects.filter(person__in=new)
    assert history.count() == 2
    assert {c.action for c in history} == {"import"}
    assert history.get(person=zhang).changes["name"] == [None, "张三"]


def test_a_clean_file_is_imported_whole(personas, grid_code):
    rows = [[f"居民{i}", id_number(), "女", "13912345678", grid_code, "", "", ""]
            for i in range(30)]
    job = run(personas.west_operator, csv_bytes(rows))
    assert job.state == ImportJob.State.DONE and job.written == 30 and job.errors == []
    assert Person.objects.filter(name__startswith="居民").count() == 30


def test_a_house_address_places_the_person_in_the_house_and_its_grid(personas, places):
    address = places.west_house.address
    rows = [["张三", id_number(), "男", "13812345678", "", address, "", ""],
            ["李四", id_number(), "男", "13812345679", "", "西园路1号1幢9单元909室", "", ""],
            ["王五", id_number(), "男", "13812345670", places.east_house.grid.code, address, "",
             ""]]
    job = run(personas.admin, csv_bytes(rows), good_only=True)
    assert problems(job) == {(3, "房屋地址"), (4, "网格编码")}
    zhang = Person.objects.get(name="张三")
    assert zhang.house == places.west_house and zhang.grid == places.west_house.grid


def test_a_house_out_of_the_actors_territory_is_an_unknown_address(personas, places):
    rows = [["张三", id_number(), "男", "13812345678", "", places.west_house.address, "", ""]]
    assert problems(run(personas.east_operator, csv_bytes(rows))) == {(2, "房屋地址")}


def test_a_missing_required_column_refuses_the_file_at_line_1(personas, grid_code):
    header = ["姓名", "性别", "联系电话", "网格编码"]
    job = run(personas.admin, csv_bytes([["张三", "男", "13812345678", grid_code]],
                                        header=header))
    assert job.state == ImportJob.State.REFUSED
    assert problems(job) == {(1, "公民身份号码")}


def test_the_headers_are_reported_as_written_in_the_file(personas, grid_code):
    header = ["姓名", "身份证号", "性别", "手机号", "网格编码"]
    job = run(personas.admin, csv_bytes([["张三", "123", "男", "13812345678", grid_code]],
                                        header=header))
    assert problems(job) == {(2, "身份证号")}


def test_an_out_of_scope_grid_is_an_unknown_grid_for_that_actor(personas, territory):
    east = territory.east_grids[0].code
    rows = [["张三", id_number(), "男", "13812345678", east, "", "", ""]]
    refused = run(personas.west_operator, csv_bytes(rows))
    assert problems(refused) == {(2, "网格编码")}
    unknown = [["张三", id_number(), "男", "13812345678", "000", "", "", ""]]
    assert refused.errors[0]["message"] == run(
        personas.west_operator, csv_bytes(unknown)).errors[0]["message"].replace("000", east)
    assert run(personas.east_operator, csv_bytes(rows)).state == ImportJob.State.DONE


def test_an_existing_person_out_of_scope_is_refused_without_naming_them(personas, existing,
                                                                         territory):
    rows = [["王芳", existing.id_number, "女", "13812345678", territory.east_grids[0].code, "",
             "", ""]]
    job = run(personas.east_operator, csv_bytes(rows))
    assert problems(job) == {(2, "公民身份号码")}
    assert "王" not in job.errors[0]["message"]
    assert existing.id_number[-4:] not in job.errors[0]["message"]


def test_only_city_admins_and_operators_may_import(personas, grid_code):
    for actor in (personas.worker, personas.viewer, personas.handler):
        with pytest.raises(PermissionDenied):
            run(actor, csv_bytes([]))


def test_an_xlsx_written_by_stream_xlsx_reads_like_the_csv(personas, mixed_rows):
    job = run(personas.admin, xlsx_bytes(mixed_rows), name="people.xlsx", good_only=True)
    assert problems(job) == EXPECTED_BAD and job.written == 2


def test_an_xlsx_written_by_excel_with_shared_strings_numbers_and_dates(personas, grid_code):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([*HEADER, "出生日期"])
    sheet.append(["张三", id_number(born=dt.date(1985, 3, 4)), "男", 13812345678, int(grid_code),
                  None, "流动人口", dt.date(2027, 6, 30), dt.date(1985, 3, 4)])
    sheet.append([])  # an empty line is not a row
    sheet.append(["李四", corrupt(id_number()), "女", 13912345678, grid_code])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    job = run(personas.admin, out, name="from-excel.xlsx", good_only=True)
    assert problems(job) == {(4, "公民身份号码")}
    zhang = Person.objects.get(name="张三")
    assert zhang.phone == "13812345678"
    assert zhang.permit_expires == dt.date(2027, 6, 30)
    assert zhang.birth_date == dt.date(1985, 3, 4)


def test_a_gb18030_csv_from_a_chinese_excel_is_read(personas, grid_code):
    rows = [["欧阳娜娜", id_number(), "女", "13812345678", grid_code, "", "流动人口", ""]]
    job = run(personas.admin, csv_bytes(rows, encoding="gb18030"))
    assert job.state == ImportJob.State.DONE
    assert Person.objects.get(name="欧阳娜娜").kind == "migrant"


def test_a_file_that_is_not_a_spreadsheet_is_refused(personas):
    job = run(personas.admin, io.BytesIO(b"PK\x03\x04 broken"), name="x.xlsx")
    assert job.state == ImportJob.State.REFUSED and job.errors[0]["line"] == 1


def test_the_progress_reaches_the_total(personas, grid_code, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 7)
    rows = [[f"居民{i}", id_number(), "男", "13812345678", grid_code, "", "", ""]
            for i in range(40)]
    seen = []
    job = run(personas.admin, csv_bytes(rows), progress=lambda done, total: seen.append(
        (done, total)))
    assert job.total == 40
    assert seen[-1] == (40, 40)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert imports.progress(job.pk) == {"state": "done", "total": 40, "done": 40,
                                        "written": 40, "error_count": 0}


def test_the_templates_have_the_headers_and_open_in_excel(db):
    openpyxl = pytest.importorskip("openpyxl")
    data = imports.template("people", "csv")
    assert data.startswith(codecs.BOM_UTF8)
    assert data.decode("utf-8-sig").splitlines()[0].split(",")[:3] == ["姓名", "公民身份号码",
                                                                       "性别"]
    book = openpyxl.load_workbook(io.BytesIO(imports.template("people", "xlsx")))
    first, notes = book.worksheets
    headers = [c.value for c in first[1]]
    assert headers == [c.header for c in imports.PEOPLE.columns]
    assert first["B1"].number_format == "@"  # identity numbers stay text
    assert notes["A2"].value == "姓名" and notes["B2"].value == "是"


def test_the_template_imports_back_as_an_empty_file(personas):
    job = run(personas.admin, io.BytesIO(imports.template("people", "xlsx")), name="t.xlsx")
    assert job.state == ImportJob.State.DONE and job.total == 0 and job.written == 0


def test_the_export_is_masked_and_logged(personas, existing):
    scope = imports.Scope.for_user(personas.admin)
    existing.phone = "13912345678"
    existing.save()
    columns, rows = imports.export_rows(scope=scope, registry="people", filters={},
                                        actor=personas.admin)
    rows = list(rows)
    headers = [c.header for c in columns]
    row = dict(zip(headers, rows[0], strict=True))
    assert row["公民身份号码"] == existing.id_number[:6] + "********" + existing.id_number[-4:]
    assert row["联系电话"] == "139****5678"
    assert row["性别"] == "女"
    log = AccessLog.objects.get(action=AccessAction.EXPORT)
    assert log.user == personas.admin and "1 rows" in log.reason


def test_the_export_holds_only_what_the_actor_sees(personas, existing):
    scope = imports.Scope.for_user(personas.east_operator)
    _, rows = imports.export_rows(scope=scope, registry="people", actor=personas.east_operator)
    assert list(rows) == []


def test_the_export_file_streams_xlsx_that_opens(personas, existing):
    openpyxl = pytest.importorskip("openpyxl")
    data = b"".join(imports.export_file(scope=imports.Scope.for_user(personas.admin),
                                        registry="people", fmt="xlsx", actor=personas.admin))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["A2"].value == "王芳"
    assert "*" in sheet["B2"].value


def test_a_crash_half_way_writes_nothing(personas, grid_code, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 2)
    rows = [[f"居民{i}", id_number(), "男", "13812345678", grid_code, "", "", ""]
            for i in range(6)]
    place = imports.Importer.place

    def failing(self, row, code, address):
        if row.line == 6:
            raise RuntimeError("the disk is full")
        return place(self, row, code, address)

    monkeypatch.setattr(imports.Importer, "place", failing)
    with pytest.raises(RuntimeError):
        run(personas.admin, csv_bytes(rows))
    job = ImportJob.objects.get()
    assert job.state == ImportJob.State.FAILED and job.written == 0
    assert not Person.objects.exists() and not PersonChange.objects.exists()
