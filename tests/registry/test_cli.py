"""`shanzhi registry import|template|export`: progress and bad rows on stderr,
exit code 1 when refused, masked export."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from django.core.management import CommandError, call_command

from shanzhi.core import identity
from shanzhi.core.models import AccessAction, AccessLog
from shanzhi.registry.models import ImportJob, Person

RNG = random.Random(1414)
HEADER = "姓名,公民身份号码,性别,联系电话,网格编码\n"


def number() -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=RNG.randrange(40 * 365))
    return identity.synthetic_id_number(RNG, area="320505", born=born, male=True)


def command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("registry", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def good_and_bad(tmp_path, territory):
    grid = territory.west_grids[0].code
    bad = number()[:-1] + "Y"
    path = tmp_path / "people.csv"
    path.write_text(HEADER + f"张三,{number()},男,13812345678,{grid}\n"
                    f"李四,{bad},男,13912345678,{grid}\n", encoding="utf-8-sig")
    return path


def test_a_refused_import_lists_the_bad_rows_and_exits_1(personas, good_and_bad):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("registry", "import", "people", str(good_and_bad), "--actor", "admin",
                     stdout=out, stderr=err)
    assert failure.value.returncode == 1
    assert "1 bad row(s) in 2: nothing written" in str(failure.value)
    assert err.getvalue().splitlines() == [
        "line 3, column 公民身份号码: The identity number must be 17 digits and a check digit "
        "or X (GB 11643)."]
    assert not Person.objects.exists()
    assert ImportJob.objects.get().state == ImportJob.State.REFUSED


def test_good_only_imports_the_good_rows_and_exits_0(personas, good_and_bad, capsys):
    out, err = command("import", "people", str(good_and_bad), "--actor", "west_operator",
                       "--good-only")
    assert "imported 1 of 2 rows" in out
    assert "line 3, column 公民身份号码" in err
    progress = capsys.readouterr().err
    assert "2/2 rows (100%)" in progress and "rows/s" in progress
    assert list(Person.objects.values_list("name", flat=True)) == ["张三"]


def test_an_actor_without_the_right_is_refused(personas, good_and_bad):
    with pytest.raises(CommandError, match="Only a city administrator or an operator"):
        command("import", "people", str(good_and_bad), "--actor", "worker")


def test_an_unknown_actor_is_refused(personas, good_and_bad):
    with pytest.raises(CommandError, match="no active user 'ghost'"):
        command("import", "people", str(good_and_bad), "--actor", "ghost")


def test_the_template_is_written_in_the_format_of_its_suffix(db, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    out, _ = command("template", "people", str(tmp_path / "people.xlsx"))
    assert "wrote" in out
    sheet = openpyxl.load_workbook(tmp_path / "people.xlsx").worksheets[0]
    assert sheet["A1"].value == "姓名"
    command("template", "people", str(tmp_path / "people.csv"))
    assert (tmp_path / "people.csv").read_text(encoding="utf-8-sig").startswith("姓名,")
    with pytest.raises(CommandError, match=r"\.xlsx or \.csv"):
        command("template", "people", str(tmp_path / "people.txt"))


def test_the_export_is_masked_and_logged(personas, good_and_bad, tmp_path):
    command("import", "people", str(good_and_bad), "--actor", "admin", "--good-only")
    person = Person.objects.get()
    target = tmp_path / "out.csv"
    command("export", "people", str(target), "--actor", "admin")
    text = target.read_text(encoding="utf-8-sig")
    assert person.id_number not in text and "138****5678" in text
    assert person.id_number[:6] + "********" + person.id_number[-4:] in text
    assert AccessLog.objects.filter(action=AccessAction.EXPORT, user=personas.admin).count() == 1
