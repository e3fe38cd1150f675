"""How an administrator enters next year: the command and the admin pages."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shanzhi.accounts.models import User
from shanzhi.core.models import CalendarDay, CalendarYear, get_calendar


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("calendar", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_year_enters_holidays_and_make_up_days_and_marks_the_year_complete(
        db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run("import-year", "2027", "--holidays",
                     "2027-01-01=元旦,2027-02-06..2027-02-12=春节", "--workdays",
                     "2027-02-13=春节调休上班", "--note", "国办发明电〔2026〕1号")
    assert "6 holiday(s) on weekdays, 1 make-up working day(s)" in out
    year = CalendarYear.objects.get(year=2027)
    assert (year.complete, year.source, year.note) == (True, "admin", "国办发明电〔2026〕1号")
    assert [d.isoformat() for d in CalendarDay.objects.filter(date__year=2027)
            .values_list("date", flat=True)] == [
        "2027-01-01", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12",
        "2027-02-13"]
    assert CalendarDay.objects.get(date=date(2027, 2, 10)).name == "春节"
    calendar = get_calendar()
    assert 2027 in calendar.known_years
    assert not calendar.is_working_day(date(2027, 1, 1))


def test_import_year_reads_a_csv(db, tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text("date,is_working,name\n2027-01-01,0,元旦\n2027-02-13,1,春节调休上班\n",
                    encoding="utf-8-sig")
    run("import-year", "2027", "--csv", str(path))
    assert dict(CalendarDay.objects.filter(date__year=2027).values_list("date", "is_working")) == {
        date(2027, 1, 1): False, date(2027, 2, 13): True}


def test_bad_dates_are_each_one_line_and_nothing_is_written(db):
    with pytest.raises(CommandError) as caught:
        run("import-year", "2027", "--holidays", "2027-13-01,2027-02-10..2027-02-06,2026-12-31",
            "--workdays", "2027-02-08")
    assert caught.value.returncode == 1
    assert "nothing was written" in str(caught.value)
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()


def test_the_problem_lines_go_to_stderr(db, capsys):
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("calendar", "import-year", "2027", "--holidays", "2027-13-01,x..y",
                     "--workdays", "2027-02-08", stderr=err)
    assert err.getvalue().splitlines() == [
        "2027-13-01: not a date (YYYY-MM-DD)",
        "x: not a date (YYYY-MM-DD)",
        "y: not a date (YYYY-MM-DD)",
        "2027-02-08: a Monday is a working day anyway; a make-up working day falls on a "
        "Saturday or Sunday",
    ]


def test_a_bad_csv_row_is_one_line(db, tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text("date,is_working,name\n2027-01-01,maybe,元旦\n2027-02-30,0,x\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("calendar", "import-year", "2027", "--csv", str(path), stderr=err)
    assert err.getvalue().splitlines() == [
        "line 2: is_working must be 1 (a make-up working day) or 0 (a day off), not 'maybe'",
        "line 3: '2027-02-30' is not a date (YYYY-MM-DD)",
    ]
    assert not CalendarDay.objects.filter(date__year=2027).exists()


def test_show_lists_the_special_days_of_a_year(db):
    out, _ = run("show", "2026")
    lines = out.splitlines()
    assert lines[0].startswith("2026: complete (chinese_calendar")
    assert "2026-02-14 Sat  班 working  春节调休上班" in lines
    assert "2026-10-07 Wed  休 off      国庆节" in lines
    assert lines[-1].startswith("25 special day(s)")


def test_show_says_when_a_year_is_missing(db):
    out, _ = run("show", "2027")
    assert out.startswith("2027: not entered — 2027年节假日安排未录入")


def test_sync_package_leaves_entered_years_alone(db):
    out, _ = run("sync-package")
    assert out.startswith("nothing to do")
    CalendarYear.objects.filter(year=2026).delete()
    CalendarDay.objects.filter(date__year=2026).delete()
    out, _ = run("sync-package")
    assert "2026" in out
    assert CalendarDay.objects.filter(date__year=2026).count() == 25


def test_due_prints_the_deadline_and_the_warning(db):
    out, err = run("due", "2026-12-31T10:00:00+08:00", "1", "working_days")
    assert out.splitlines()[0] == "due     2027-01-01T17:30:00+08:00"
    assert "2027年节假日安排未录入" in err


# --- the admin ----------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, db):
    user = User.objects.create_superuser(username="root", password="x" * 12)
    client.force_login(user)
    return client


def test_the_admin_lists_days_with_the_yearly_note(staff_client):
    response = staff_client.get("/admin/core/calendarday/?date__year=2026")
    assert response.status_code == 200
    assert "State Council" in response.text or "国务院" in response.text
    assert "2026" in response.text
    assert staff_client.get("/admin/core/calendaryear/").status_code == 200


def test_the_admin_refuses_a_make_up_working_day_on_a_weekday(staff_client):
    response = staff_client.post("/admin/core/calendarday/add/", {
        "date": "2027-02-08", "is_working": "on", "name": "x"})
    assert response.status_code == 200                   # the form again, with the error
    assert not CalendarDay.objects.filter(date=date(2027, 2, 8)).exists()


def test_a_day_entered_in_the_admin_counts_at_once(staff_client):
    assert get_calendar().is_working_day(date(2027, 1, 1))   # a Friday, not entered yet
    response = staff_client.post("/admin/core/calendarday/add/", {
        "date": "2027-01-01", "name": "元旦"})
    assert response.status_code == 302
    assert CalendarDay.objects.get(date=date(2027, 1, 1)).source == "admin"
    assert not get_calendar().is_working_day(date(2027, 1, 1))
