"""shanzhi calendar import-year|show|sync-package|due"""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from pathlib import Path

from django.core.management.base import CommandParser

from shanzhi.core.calendar import (
    ScheduleProblems,
    check_amount,
    check_unit,
    fallback_warning,
    parse_instant,
    schedule_for_year,
)
from shanzhi.core.commands import OperatorCommand
from shanzhi.core.errors import ValidationError
from shanzhi.core.models import (
    CalendarDay,
    CalendarYear,
    calendar_sync_package,
    calendar_year_import,
    get_calendar,
)

TRUE = {"1", "true", "yes", "y", "t", "是", "班", "上班", "working"}
FALSE = {"0", "false", "no", "n", "f", "否", "休", "放假", "off"}
ITEM = re.compile(r"^(?P<first>[^=.]+?)(?:\.\.(?P<last>[^=]+?))?(?:=(?P<name>.*))?$")


def _day(text: str, problems: list[str]) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems.append(f"{text.strip()}: not a date (YYYY-MM-DD)")
        return None


def parse_days(text: str, default_name: str, problems: list[str]) -> list[tuple[date, str]]:
    """``2027-01-01=元旦,2027-02-10..2027-02-16=春节`` → (date, name) for every day,
    ranges inclusive; each bad item adds one line to ``problems``."""
    days: list[tuple[date, str]] = []
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        match = ITEM.match(item)
        if not match:
            problems.append(f"{item}: not DATE, DATE..DATE or DATE=NAME")
            continue
        name = (match["name"] or "").strip() or default_name
        first = _day(match["first"], problems)
        last = _day(match["last"], problems) if match["last"] else first
        if first is None or last is None:
            continue
        if last < first:
            problems.append(f"{item}: the range ends before it starts")
            continue
        if (last - first).days > 60:
            problems.append(f"{item}: a range of more than 60 days is surely a mistake")
            continue
        days.extend((first + timedelta(days=i), name) for i in range((last - first).days + 1))
    return days


def read_csv(path: Path, problems: list[str]):
    """``date,is_working,name`` rows → (holidays, workdays)."""
    holidays: list[tuple[date, str]] = []
    workdays: list[tuple[date, str]] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", field="csv") from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"date", "is_working"} <= set(reader.fieldnames):
        raise ValidationError(f"{path}: the first line must be the header date,is_working,name",
                              field="csv")
    for row in reader:
        where = f"line {reader.line_num}"
        raw = (row.get("date") or "").strip()
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            problems.append(f"{where}: {raw!r} is not a date (YYYY-MM-DD)")
            continue
        flag = (row.get("is_working") or "").strip().lower()
        name = (row.get("name") or "").strip()
        if flag in TRUE:
            workdays.append((d, name or "调休上班"))
        elif flag in FALSE:
            holidays.append((d, name or "节假日"))
        else:
            problems.append(f"{where}: is_working must be 1 (a make-up working day) or 0 "
                            f"(a day off), not {flag!r}")
    return holidays, workdays


class Command(OperatorCommand):
    help = "The working calendar: enter a year's holidays, list them, compute a deadline."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser),
                                    metavar="{import-year,show,sync-package,due}")

        p = sub.add_parser(
            "import-year", help="enter one year's official schedule",
            description="Replace the special days of YEAR by the holidays and make-up working "
            "days given, and mark the year complete. Give --holidays/--workdays as comma-"
            "separated items DATE, DATE..DATE (inclusive) or either with =NAME; or --csv with "
            "the header date,is_working,name. Holidays on a weekend are off anyway and are not "
            "stored. Every bad date is reported, one line each; if there is any, nothing is "
            "written. The State Council publishes each year's schedule in December.",
            called_from_command_line=True)
        p.add_argument("year", type=int)
        p.add_argument("--holidays", default="", metavar="DAYS",
                       help="days off, e.g. 2027-01-01=元旦,2027-02-10..2027-02-16=春节")
        p.add_argument("--workdays", default="", metavar="DAYS",
                       help="make-up working days on a weekend, e.g. 2027-02-07=春节调休上班")
        p.add_argument("--csv", type=Path, metavar="FILE",
                       help="a CSV with the header date,is_working,name instead")
        p.add_argument("--note", default="", help="e.g. the notice's number")
        p.add_argument("--dry-run", action="store_true", help="check only, write nothing")

        p = sub.add_parser("show", help="list a year's special days",
                           description="List the holidays on weekdays and the make-up working "
                           "days of YEAR, and whether the year is entered in full.",
                           called_from_command_line=True)
        p.add_argument("year", type=int)

        sub.add_parser("sync-package", help="enter the years a newer chinese_calendar knows",
                       description="Enter every year the installed chinese_calendar package "
                       "holds and the database does not (after pip install -U "
                       "chinesecalendar). Years already present are left alone.",
                       called_from_command_line=True)

        p = sub.add_parser("due", help="compute a deadline",
                           description="When does a period end? The same computation as the "
                           "workflow and the API.", called_from_command_line=True)
        p.add_argument("start", help="ISO 8601 with offset, e.g. 2026-02-13T16:00:00+08:00")
        p.add_argument("amount")
        p.add_argument("unit", help="working_days, working_hours or natural_hours")

    def handle(self, *args, **opts):
        getattr(self, "handle_" + opts["action"].replace("-", "_"))(opts)

    def handle_import_year(self, opts) -> None:
        year = opts["year"]
        if not 1900 <= year <= 9998:
            raise ValidationError(f"not a plausible year: {year}", field="year")
        problems: list[str] = []
        if opts["csv"]:
            if opts["holidays"] or opts["workdays"]:
                raise ValidationError("give either --csv or --holidays/--workdays, not both",
                                      field="csv")
            holidays, workdays = read_csv(opts["csv"], problems)
        else:
            holidays = parse_days(opts["holidays"], "节假日", problems)
            workdays = parse_days(opts["workdays"], "调休上班", problems)
            if not holidays and not workdays and not problems:
                raise ValidationError("give --holidays and --workdays, or --csv",
                                      field="holidays")
        try:
            days = schedule_for_year(year, holidays, workdays)
        except ScheduleProblems as exc:
            problems.extend(exc.problems)
        if problems:
            raise ScheduleProblems(f"{len(problems)} problem(s) in the schedule for {year}; "
                                   "nothing was written", problems)
        off = sum(1 for working, _name in days.values() if not working)
        summary = (f"{year}: {off} holiday(s) on weekdays, {len(days) - off} make-up working "
                   f"day(s)")
        if opts["dry_run"]:
            self.stdout.write(f"checked {summary}; nothing written (--dry-run)")
            return
        calendar_year_import(year=year, days=days, note=opts["note"])
        self.stdout.write(f"entered {summary}; {year} marked complete")

    def handle_show(self, opts) -> None:
        year = opts["year"]
        entry = CalendarYear.objects.filter(year=year).first()
        days = list(CalendarDay.objects.filter(date__year=year))
        if entry is None or not entry.complete:
            state = "not entered" if entry is None else "incomplete"
            self.stdout.write(f"{year}: {state} — {fallback_warning(year)}")
        else:
            note = f", {entry.note}" if entry.note else ""
            self.stdout.write(f"{year}: complete ({entry.source}{note})")
        for day in days:
            kind = "班 working" if day.is_working else "休 off    "
            self.stdout.write(f"{day.date.isoformat()} {day.date:%a}  {kind}  {day.name}")
        self.stdout.write(f"{len(days)} special day(s); every other day: Monday–Friday work")

    def handle_sync_package(self, opts) -> None:
        added = calendar_sync_package()
        if added:
            self.stdout.write(f"entered {len(added)} year(s) from chinese_calendar: "
                              + ", ".join(map(str, added)))
        else:
            self.stdout.write("nothing to do: every year chinese_calendar knows is entered")

    def handle_due(self, opts) -> None:
        start = parse_instant(opts["start"])
        unit = check_unit(opts["unit"])
        amount = check_amount(opts["amount"], unit)
        calendar = get_calendar()
        due = calendar.add(start, amount, unit)
        self.stdout.write(f"due     {due.at.isoformat()}")
        self.stdout.write(f"yellow  {calendar.warn_at(start, amount, unit).isoformat()}")
        for warning in due.warnings:
            self.stderr.write(f"warning: {warning}")
