"""The working calendar: when does a period counted in working time end?

Pure: no ORM. ``shanzhi.core.models.get_calendar()`` builds the calendar the
whole platform uses from the database; tests build their own.

Three units (``Unit``):

- **working days** — the day the period starts is not counted (民法典 第二百零一条);
  N working days end at the close of office on the N-th working day after the
  start day. N = 0 means "the same working day": the close of office of the
  start day if it is a working day whose office has not yet closed, else the
  close of the next working day. A fraction (an urgent case's 2.5 days) is the
  whole days, then that share of the next working day's office time — never
  earlier than N = 0 would be.
- **working hours** — only office time on working days counts; a start outside
  office hours begins at the next opening; the due instant is the moment the
  N-th office hour is used up (so it is always inside office hours, its ends
  included). Fractions are allowed.
- **natural hours** — start + N hours of real time.

A day is a working day if ``special_days`` says so (holidays and make-up
working days), else if it is Monday–Friday. A year missing from
``known_years`` has no official schedule: its days are judged Monday–Friday
(special days entered for it still count) and every answer that consulted
one of its days carries a warning.

Office time is measured on the wall clock of the calendar's time zone.
Answers are aware datetimes in that zone; naive input is refused.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from django.utils.translation import gettext

from .errors import ValidationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
DEFAULT_OFFICE_HOURS = "09:00-12:00,13:30-17:30"
HOUR = timedelta(hours=1)
ONE_DAY = timedelta(days=1)


class Unit(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    NATURAL_HOURS = "natural_hours"


#: The largest amount accepted per unit (about forty years of working time):
#: a bigger one is a typing mistake, and would run past year 9999.
MAX_AMOUNT = {
    Unit.WORKING_DAYS: 10_000,
    Unit.WORKING_HOURS: 100_000,
    Unit.NATURAL_HOURS: 350_000,
}


#: The years the calendar computes in: wide enough for any case of this
#: century (with MAX_AMOUNT added), narrow enough that no date arithmetic
#: runs past year 1 or 9999 (OverflowError) in any time zone.
YEARS = range(2000, 2100)


class CalendarInputError(ValidationError, ValueError):
    """Bad input to the calendar: a 400 in the API, a ``ValueError`` to pure code."""


class ScheduleProblems(CalendarInputError):
    """Several problems in an entered schedule, one line each."""

    def __init__(self, message: str, problems: Sequence[str], *, field: str | None = None):
        super().__init__(message, field=field, details={"problems": list(problems)})
        self.problems = list(problems)

    def lines(self) -> list[str]:
        return list(self.problems)


def fallback_warning(year: int) -> str:
    return (f"{year}年节假日安排未录入，按周一至周五计算 "
            f"(no official schedule for {year}: Monday–Friday assumed)")


@dataclass(frozen=True)
class Due:
    #: Aware, in the calendar's time zone.
    at: datetime
    #: One fallback warning per year without an official schedule that the
    #: computation consulted, in year order.
    warnings: tuple[str, ...] = ()


OfficePeriods = tuple[tuple[time, time], ...]


def parse_office_hours(text: str) -> OfficePeriods:
    """``"09:00-12:00,13:30-17:30"`` → ((09:00, 12:00), (13:30, 17:30))."""
    periods = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", part)
        if not match:
            raise CalendarInputError(
                gettext("Office hours must read like 09:00-12:00,13:30-17:30, not %(text)s.")
                % {"text": text}, field="office_hours")
        try:
            opens, closes = (time.fromisoformat(t.zfill(5)) for t in match.groups())
        except ValueError:
            raise CalendarInputError(gettext("Not a time of day in office hours %(text)s.")
                                     % {"text": text}, field="office_hours") from None
        periods.append((opens, closes))
    return check_office_periods(periods)


def check_office_periods(periods: Iterable[tuple[time, time]]) -> OfficePeriods:
    """Periods in order, each non-empty, none overlapping, all within one day."""
    result = tuple((opens, closes) for opens, closes in periods)
    if not result:
        raise CalendarInputError(gettext("At least one office period is needed."),
                                 field="office_hours")
    previous_close = None
    for opens, closes in result:
        if opens.tzinfo or closes.tzinfo:
            raise CalendarInputError(gettext("Office hours are wall-clock times without a "
                                             "zone."), field="office_hours")
        if not opens < closes:
            raise CalendarInputError(gettext("An office period must open before it closes: "
                                             "%(period)s.")
                                     % {"period": f"{opens:%H:%M}-{closes:%H:%M}"},
                                     field="office_hours")
        if previous_close is not None and opens < previous_close:
            raise CalendarInputError(gettext("Office periods must be in order and must not "
                                             "overlap."), field="office_hours")
        previous_close = closes
    return result


def _span(opens: time, closes: time) -> timedelta:
    return datetime.combine(date.min, closes) - datetime.combine(date.min, opens)


def parse_instant(text: str, *, field: str = "start") -> datetime:
    """An ISO 8601 instant with its UTC offset (``Z`` or ``+08:00``).

    A ``+`` that a query string turned into a space (``…T16:00:00 08:00``) is
    read as ``+``. Without an offset the instant is ambiguous and refused.
    """
    text = (text or "").strip()
    if not text:
        raise CalendarInputError(gettext("%(field)s is required (ISO 8601 with offset, e.g. "
                                         "2026-02-13T16:00:00+08:00).") % {"field": field},
                                 field=field)
    repaired = re.sub(r"^(\d{4}-\d{2}-\d{2}[T ][\d:.]+) (\d{2}(?::?\d{2})?)$", r"\1+\2", text)
    try:
        value = datetime.fromisoformat(repaired)
    except ValueError:
        raise CalendarInputError(gettext("%(field)s: not an ISO 8601 date and time: %(text)s.")
                                 % {"field": field, "text": text}, field=field) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalendarInputError(
            gettext("%(field)s needs a UTC offset, e.g. %(example)s.")
            % {"field": field, "example": f"{value:%Y-%m-%dT%H:%M:%S}+08:00"}, field=field)
    return value


def check_unit(unit: object, *, field: str = "unit") -> Unit:
    choices = ", ".join(u.value for u in Unit)
    if unit is None or unit == "":
        raise CalendarInputError(gettext("%(field)s is required: one of %(choices)s.")
                                 % {"field": field, "choices": choices}, field=field)
    try:
        if not isinstance(unit, str):
            raise ValueError(unit)
        return Unit(unit)
    except ValueError:
        raise CalendarInputError(gettext("Unknown %(field)s %(unit)s; one of: %(choices)s.")
                                 % {"field": field, "unit": unit, "choices": choices},
                                 field=field) from None


def check_amount(amount: object, unit: Unit, *, field: str = "amount") -> int | float:
    """A finite, non-negative number within ``MAX_AMOUNT``. Text is parsed;
    whole numbers come back as ``int``."""
    if amount is None or (isinstance(amount, str) and not amount.strip()):
        raise CalendarInputError(gettext("%(field)s is required.") % {"field": field},
                                 field=field)
    if isinstance(amount, str):
        try:
            amount = float(amount.strip())
        except ValueError:
            raise CalendarInputError(gettext("%(field)s must be a number, not %(value)s.")
                                     % {"field": field, "value": amount}, field=field) from None
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real | Decimal):
        raise CalendarInputError(gettext("%(field)s must be a number, not %(value)s.")
                                 % {"field": field, "value": amount}, field=field)
    value = float(amount)
    if not math.isfinite(value):
        raise CalendarInputError(gettext("%(field)s must be a finite number.")
                                 % {"field": field}, field=field)
    if value < 0:
        raise CalendarInputError(gettext("%(field)s must not be negative.") % {"field": field},
                                 field=field)
    if value > MAX_AMOUNT[unit]:
        raise CalendarInputError(gettext("%(field)s must be at most %(max)s %(unit)s.")
                                 % {"field": field, "max": MAX_AMOUNT[unit], "unit": unit.value},
                                 field=field)
    return int(value) if value.is_integer() else value


class _Trace:
    """The years without an official schedule that one computation consulted."""

    __slots__ = ("years",)

    def __init__(self) -> None:
        self.years: set[int] = set()

    def warnings(self) -> tuple[str, ...]:
        return tuple(fallback_warning(y) for y in sorted(self.years))


class WorkingCalendar:
    """Working days, office periods and a time zone; answers deadlines.

    ``special_days`` maps a date to True (a working day, e.g. a make-up
    Saturday) or False (a day off, e.g. a holiday on a Monday).
    """

    def __init__(self, special_days: Mapping[date, bool] | None = None,
                 known_years: Iterable[int] = frozenset(),
                 office_periods: Sequence[tuple[time, time]] | str = DEFAULT_OFFICE_HOURS,
                 tz: ZoneInfo = SHANGHAI) -> None:
        self.special_days: Mapping[date, bool] = MappingProxyType(
            {d: bool(w) for d, w in (special_days or {}).items()})
        self.known_years = frozenset(known_years)
        self.office_periods: OfficePeriods = (
            parse_office_hours(office_periods) if isinstance(office_periods, str)
            else check_office_periods(office_periods))
        self.tz = tz
        #: Office time of one working day.
        self.day_length = sum((_span(a, b) for a, b in self.office_periods), timedelta())
        self.opens = self.office_periods[0][0]
        self.closes = self.office_periods[-1][1]

    @classmethod
    def from_package(cls, **kwargs) -> WorkingCalendar:
        """The calendar of the installed ``chinese_calendar`` package (for tests
        and tools; the platform reads the database)."""
        days = package_special_days()
        return cls({d: w for d, (w, _name) in days.items()}, package_years(), **kwargs)

    def __repr__(self) -> str:
        years = sorted(self.known_years)
        span = f"{years[0]}–{years[-1]}" if years else "none"
        return (f"<WorkingCalendar {len(self.special_days)} special days, known years {span}, "
                f"{self.tz.key}>")

    # --- days -------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """A special day says so; otherwise Monday–Friday. (A datetime counts by
        its date in the calendar's zone.)"""
        if isinstance(d, datetime):
            d = self._local(d, "d").date()
        return self._working(d, None)

    def _working(self, d: date, trace: _Trace | None) -> bool:
        if trace is not None and d.year not in self.known_years:
            trace.years.add(d.year)
        special = self.special_days.get(d)
        if special is not None:
            return special
        return d.weekday() < 5

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.tz)

    def _close(self, d: date) -> datetime:
        return self._at(d, self.closes)

    def _local(self, value: datetime, field: str) -> datetime:
        if not isinstance(value, datetime):
            raise CalendarInputError(gettext("%(field)s must be a datetime, not %(value)s.")
                                     % {"field": field, "value": value}, field=field)
        if value.tzinfo is None or value.utcoffset() is None:
            raise CalendarInputError(gettext("%(field)s must be an aware datetime (with a "
                                             "zone).") % {"field": field}, field=field)
        if value.year not in YEARS:
            raise CalendarInputError(gettext("%(field)s must lie in the years %(first)d–%(last)d.")
                                     % {"field": field, "first": YEARS[0], "last": YEARS[-1]},
                                     field=field)
        return value.astimezone(self.tz)

    def in_office_hours(self, at: datetime) -> bool:
        """Within an office period (ends included) of a working day."""
        local = self._local(at, "at")
        if not self.is_working_day(local.date()):
            return False
        wall = local.timetz().replace(tzinfo=None)
        return any(a <= wall <= b for a, b in self.office_periods)

    # --- the three operations ---------------------------------------------------

    def add(self, start: datetime, amount: int | float, unit: Unit | str) -> Due:
        """The due instant of a period of ``amount`` ``unit`` from ``start``."""
        unit = check_unit(unit)
        amount = check_amount(amount, unit)
        local = self._local(start, "start")
        trace = _Trace()
        if unit is Unit.NATURAL_HOURS:
            return Due(self._natural(local, amount))
        if unit is Unit.WORKING_HOURS:
            at = self._office_add(local, timedelta(hours=amount), trace)
        else:
            at = self._add_working_days(local, amount, trace)
        return Due(at, trace.warnings())

    def elapsed(self, start: datetime, end: datetime, unit: Unit | str) -> float:
        """How much of ``unit`` is used between two instants (0 if ``end`` is not
        after ``start``). ``elapsed(s, add(s, n, u).at, u) == n``, except for
        under 1 working day started after the close of office or on a day off.

        Working days are continuous here: the start day counts nothing, then
        each working day counts 1 spread evenly over its office time.
        """
        unit = check_unit(unit)
        start = self._local(start, "start")
        end = self._local(end, "end")
        if end <= start:
            return 0.0
        if unit is Unit.NATURAL_HOURS:
            return (end.astimezone(UTC) - start.astimezone(UTC)) / HOUR
        if unit is Unit.WORKING_HOURS:
            return self._office_time(start, end, None) / HOUR
        origin = self._at(start.date() + ONE_DAY, time.min)
        if end <= origin:
            return 0.0
        return self._office_time(origin, end, None) / self.day_length

    def warn_at(self, start: datetime, amount: int | float, unit: Unit | str,
                share: float = 0.8) -> datetime:
        """The first instant at which ``share`` of the limit is used (the yellow
        light at the default 80 %): the first ``t`` with
        ``elapsed(start, t, unit) >= share * amount``; ``start`` for a zero
        limit."""
        unit = check_unit(unit)
        amount = check_amount(amount, unit)
        if (isinstance(share, bool) or not isinstance(share, numbers.Real)
                or not math.isfinite(share) or share < 0):
            raise CalendarInputError(gettext("share must be a number ≥ 0, e.g. 0.8."),
                                     field="share")
        local = self._local(start, "start")
        used = amount * share
        if used == 0:
            return local
        if unit is Unit.NATURAL_HOURS:
            return self._natural(local, used)
        if unit is Unit.WORKING_HOURS:
            return self._office_add(local, timedelta(hours=used), _Trace())
        origin = self._at(local.date() + ONE_DAY, time.min)
        return self._office_add(origin, self.day_length * used, _Trace())

    # --- the walking ------------------------------------------------------------

    def _natural(self, local: datetime, hours: float) -> datetime:
        # Real elapsed time: through UTC, whatever the zone does with its clocks.
        return (local.astimezone(UTC) + timedelta(hours=hours)).astimezone(self.tz)

    def _add_working_days(self, local: datetime, amount: int | float,
                          trace: _Trace) -> datetime:
        d = local.date()
        if local <= self._close(d) and self._working(d, trace):
            same_day = self._close(d)
            if amount == 0:
                return same_day
        else:
            same_day = None
        if isinstance(amount, int):
            counted = 0
            while counted < max(amount, 1):
                d += ONE_DAY
                if self._working(d, trace):
                    counted += 1
            return self._close(d)
        # A fraction: the whole days, then that share of the next day's office
        # time; never before the close of the same working day (as for 0).
        origin = self._at(d + ONE_DAY, time.min)
        at = self._office_add(origin, self.day_length * amount, trace)
        if same_day is None:
            same_day = self._add_working_days(local, 0, trace)
        return max(at, same_day)

    def _office_add(self, cursor: datetime, remaining: timedelta, trace: _Trace) -> datetime:
        """Walk office periods from ``cursor`` until ``remaining`` office time is
        used up; the instant it is. Zero → the first office instant ≥ cursor."""
        d = cursor.date()
        while True:
            if cursor <= self._close(d) and self._working(d, trace):
                if cursor <= self._at(d, self.opens) and remaining > self.day_length:
                    remaining -= self.day_length       # a whole working day at once
                else:
                    for opens, closes in self.office_periods:
                        period_end = self._at(d, closes)
                        if cursor > period_end:
                            continue
                        begin = max(cursor, self._at(d, opens))
                        available = period_end - begin
                        if remaining <= available:
                            return begin + remaining
                        remaining -= available
            d += ONE_DAY
            cursor = self._at(d, time.min)

    def _office_time(self, start: datetime, end: datetime, trace: _Trace | None) -> timedelta:
        """Office time on working days between two instants of this zone."""
        total = timedelta()
        d = start.date()
        while d <= end.date():
            if start <= self._close(d) and end >= self._at(d, self.opens) and self._working(
                    d, trace):
                for opens, closes in self.office_periods:
                    lo = max(start, self._at(d, opens))
                    hi = min(end, self._at(d, closes))
                    if hi > lo:
                        total += hi - lo
            d += ONE_DAY
        return total


def get_calendar() -> WorkingCalendar:
    """The platform's calendar, read from the database by
    ``shanzhi.core.models.get_calendar`` (imported when called, so that
    importing this module needs no ORM)."""
    from .models import get_calendar as from_database

    return from_database()


# --- the chinese_calendar package ------------------------------------------------------


def package_special_days() -> dict[date, tuple[bool, str]]:
    """The special days the installed ``chinese_calendar`` package knows:
    holidays falling on Monday–Friday (False) and make-up working days falling
    on a weekend (True), each with its Chinese name."""
    from chinese_calendar import constants

    chinese = {h.value: h.chinese for h in constants.Holiday}
    days: dict[date, tuple[bool, str]] = {}
    for d, name in constants.holidays.items():
        if d.weekday() < 5:
            days[d] = (False, chinese.get(name, name))
    for d, name in constants.workdays.items():
        if d.weekday() >= 5:
            days[d] = (True, f"{chinese.get(name, name)}调休上班")
    return dict(sorted(days.items()))


def package_version() -> str:
    """``chinesecalendar 1.11.0``: where a seeded year's schedule came from."""
    import chinese_calendar

    return f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip()


def package_years() -> frozenset[int]:
    """The years whose schedule the installed package holds in full."""
    from chinese_calendar import constants

    return frozenset(d.year for d in (*constants.holidays, *constants.workdays))


def schedule_for_year(year: int, holidays: Iterable[tuple[date, str]],
                      workdays: Iterable[tuple[date, str]]) -> dict[date, tuple[bool, str]]:
    """The special days of one year's schedule, checked: every date in
    ``year``, make-up working days on a weekend, no date in both lists.
    Holidays on a weekend are off anyway and are left out. Raises
    ``ScheduleProblems`` listing every problem."""
    problems: list[str] = []
    days: dict[date, tuple[bool, str]] = {}
    holiday_dates = set()
    for d, name in holidays:
        if d.year != year:
            problems.append(f"{d.isoformat()}: not in {year}")
            continue
        holiday_dates.add(d)
        if d.weekday() < 5:
            days[d] = (False, name)
    for d, name in workdays:
        if d.year != year:
            problems.append(f"{d.isoformat()}: not in {year}")
        elif d in holiday_dates:
            problems.append(f"{d.isoformat()}: listed both as a holiday and as a working day")
        elif d.weekday() < 5:
            problems.append(f"{d.isoformat()}: a {d:%A} is a working day anyway; a make-up "
                            "working day falls on a Saturday or Sunday")
        else:
            days[d] = (True, name)
    if problems:
        raise ScheduleProblems(f"{len(problems)} problem(s) in the schedule for {year}; "
                               "nothing was written", problems)
    return dict(sorted(days.items()))
