"""The working calendar, without a database: worked examples across the 2026
Spring Festival and National Day (dates as the chinese_calendar package has
them), the fallback for 2027, and properties that must hold for any start."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from shanzhi.core.calendar import (
    SHANGHAI,
    CalendarInputError,
    Due,
    Unit,
    WorkingCalendar,
    fallback_warning,
    package_special_days,
    parse_instant,
    parse_office_hours,
    schedule_for_year,
)
from shanzhi.core.errors import ValidationError

CAL = WorkingCalendar.from_package()
WD, WH, NH = Unit.WORKING_DAYS, Unit.WORKING_HOURS, Unit.NATURAL_HOURS
WARN_2027 = ("2027年节假日安排未录入，按周一至周五计算 "
             "(no official schedule for 2027: Monday–Friday assumed)")


@pytest.fixture(autouse=True)
def _english():
    """The messages asserted here are the English msgids (no request: no reader's language)."""
    with translation.override("en"):
        yield


def at(year, month, day, hour=0, minute=0, tz=SHANGHAI) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def due(start, amount, unit) -> datetime:
    result = CAL.add(start, amount, unit)
    assert result.warnings == ()
    return result.at


# --- the data -------------------------------------------------------------------------


def test_it_agrees_with_the_package_on_every_day_from_2004_to_2026():
    d = date(2004, 1, 1)
    while d.year <= 2026:
        assert CAL.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


def test_the_2026_spring_festival_is_as_the_package_has_it():
    assert CAL.is_working_day(date(2026, 2, 14))          # Saturday, make-up working day
    assert not any(CAL.is_working_day(date(2026, 2, day)) for day in range(15, 24))
    assert CAL.is_working_day(date(2026, 2, 24))
    assert CAL.is_working_day(date(2026, 2, 28))          # Saturday, make-up working day
    assert not CAL.is_working_day(date(2026, 3, 1))       # an ordinary Sunday


def test_the_2026_national_day_is_as_the_package_has_it():
    assert CAL.is_working_day(date(2026, 9, 20))          # Sunday, make-up working day
    assert not CAL.is_working_day(date(2026, 9, 25))      # Mid-autumn, a Friday
    assert not any(CAL.is_working_day(date(2026, 10, day)) for day in range(1, 8))
    assert CAL.is_working_day(date(2026, 10, 8))
    assert CAL.is_working_day(date(2026, 10, 10))         # Saturday, make-up working day


def test_only_special_days_are_taken_from_the_package():
    days = package_special_days()
    assert all(d.weekday() < 5 for d, (working, _) in days.items() if not working)
    assert all(d.weekday() >= 5 for d, (working, _) in days.items() if working)
    assert days[date(2026, 2, 16)] == (False, "春节")
    assert days[date(2026, 2, 14)] == (True, "春节调休上班")
    assert date(2026, 2, 15) not in days                  # a Sunday: off anyway


# --- working days ---------------------------------------------------------------------


def test_working_days_do_not_count_the_start_day_and_end_at_the_close_of_office():
    assert due(at(2026, 3, 2, 10), 1, WD) == at(2026, 3, 3, 17, 30)
    assert due(at(2026, 3, 2, 0, 0), 1, WD) == at(2026, 3, 3, 17, 30)
    assert due(at(2026, 3, 2, 23, 59), 1, WD) == at(2026, 3, 3, 17, 30)
    assert due(at(2026, 3, 6, 10), 1, WD) == at(2026, 3, 9, 17, 30)   # Friday → Monday


def test_working_days_across_the_spring_festival():
    friday = at(2026, 2, 13, 10)
    assert due(friday, 1, WD) == at(2026, 2, 14, 17, 30)   # the make-up Saturday
    assert due(friday, 2, WD) == at(2026, 2, 24, 17, 30)   # after nine days off
    assert due(friday, 5, WD) == at(2026, 2, 27, 17, 30)
    assert due(friday, 6, WD) == at(2026, 2, 28, 17, 30)   # the second make-up Saturday
    assert due(friday, 7, WD) == at(2026, 3, 2, 17, 30)
    assert due(at(2026, 2, 14, 10), 1, WD) == at(2026, 2, 24, 17, 30)
    assert due(at(2026, 2, 18, 10), 1, WD) == at(2026, 2, 24, 17, 30)  # started on a holiday


def test_twenty_working_days_across_the_spring_festival():
    # 2/14, then 2/24–2/27 (4), 2/28, 3/2–3/6 (5), 3/9–3/13 (5), 3/16–3/19 (4) = 20
    assert due(at(2026, 2, 13, 10), 20, WD) == at(2026, 3, 19, 17, 30)


def test_working_days_across_national_day():
    assert due(at(2026, 9, 19, 10), 1, WD) == at(2026, 9, 20, 17, 30)   # make-up Sunday
    assert due(at(2026, 9, 24, 10), 1, WD) == at(2026, 9, 28, 17, 30)   # Mid-autumn Friday
    assert due(at(2026, 9, 30, 10), 1, WD) == at(2026, 10, 8, 17, 30)
    assert due(at(2026, 9, 30, 10), 3, WD) == at(2026, 10, 10, 17, 30)  # make-up Saturday
    assert due(at(2026, 9, 30, 10), 4, WD) == at(2026, 10, 12, 17, 30)


def test_zero_working_days_end_at_the_close_of_the_same_working_day():
    assert due(at(2026, 3, 2, 10), 0, WD) == at(2026, 3, 2, 17, 30)
    assert due(at(2026, 3, 2, 17, 30), 0, WD) == at(2026, 3, 2, 17, 30)
    assert due(at(2026, 2, 14, 8), 0, WD) == at(2026, 2, 14, 17, 30)   # make-up Saturday


def test_zero_working_days_after_hours_or_on_a_day_off_end_on_the_next_working_day():
    assert due(at(2026, 3, 2, 18), 0, WD) == at(2026, 3, 3, 17, 30)
    assert due(at(2026, 3, 7, 10), 0, WD) == at(2026, 3, 9, 17, 30)     # a Saturday
    assert due(at(2026, 2, 15, 10), 0, WD) == at(2026, 2, 24, 17, 30)   # the holiday


def test_a_fraction_of_a_working_day_is_that_share_of_the_next_days_office_time():
    assert due(at(2026, 3, 2, 10), 2.0, WD) == at(2026, 3, 4, 17, 30)
    # Tuesday, then 3.5 of Wednesday's 7 office hours
    assert due(at(2026, 3, 2, 10), 1.5, WD) == at(2026, 3, 4, 14, 0)
    # the make-up Saturday, then half of 24 February
    assert due(at(2026, 2, 13, 10), 1.5, WD) == at(2026, 2, 24, 14, 0)
    assert due(at(2026, 3, 2, 10), 0.5, WD) == at(2026, 3, 3, 14, 0)


def test_a_fraction_of_a_working_day_is_never_due_before_the_same_working_day():
    saturday = at(2026, 3, 7, 10)
    assert due(saturday, 0, WD) == at(2026, 3, 9, 17, 30)
    assert due(saturday, 0.5, WD) == at(2026, 3, 9, 17, 30)
    assert due(saturday, 1.5, WD) == at(2026, 3, 10, 14, 0)


# --- working hours --------------------------------------------------------------------


def test_working_hours_over_the_weekend():
    assert due(at(2026, 3, 6, 17), 1, WH) == at(2026, 3, 9, 9, 30)


def test_working_hours_across_the_spring_festival():
    assert due(at(2026, 2, 13, 17), 1, WH) == at(2026, 2, 14, 9, 30)   # make-up Saturday
    assert due(at(2026, 2, 14, 17), 1, WH) == at(2026, 2, 24, 9, 30)
    # 1.5 h on the Saturday, then 3 h + 3.5 h on 24 February
    assert due(at(2026, 2, 14, 16), 8, WH) == at(2026, 2, 24, 17, 0)


def test_working_hours_across_national_day():
    assert due(at(2026, 9, 30, 17), 1, WH) == at(2026, 10, 8, 9, 30)
    assert due(at(2026, 10, 9, 17), 1, WH) == at(2026, 10, 10, 9, 30)  # make-up Saturday


def test_working_hours_skip_the_lunch_break():
    assert due(at(2026, 3, 2, 11, 30), 1, WH) == at(2026, 3, 2, 14, 0)
    assert due(at(2026, 3, 2, 9), 4, WH) == at(2026, 3, 2, 14, 30)


def test_the_due_instant_is_when_the_last_hour_is_used_up_not_the_next_opening():
    assert due(at(2026, 3, 2, 9), 3, WH) == at(2026, 3, 2, 12, 0)
    assert due(at(2026, 3, 2, 9), 7, WH) == at(2026, 3, 2, 17, 30)


def test_a_start_outside_office_hours_begins_at_the_next_opening():
    assert due(at(2026, 3, 2, 7), 1, WH) == at(2026, 3, 2, 10, 0)
    assert due(at(2026, 3, 2, 12, 30), 1, WH) == at(2026, 3, 2, 14, 30)
    assert due(at(2026, 3, 2, 20), 1, WH) == at(2026, 3, 3, 10, 0)
    assert due(at(2026, 3, 7, 10), 1, WH) == at(2026, 3, 9, 10, 0)     # a Saturday


def test_fractional_working_hours():
    assert due(at(2026, 3, 2, 9), 0.25, WH) == at(2026, 3, 2, 9, 15)
    assert due(at(2026, 3, 2, 11, 45), 1.5, WH) == at(2026, 3, 2, 14, 45)


def test_zero_working_hours_are_due_at_the_first_office_instant():
    assert due(at(2026, 3, 2, 10), 0, WH) == at(2026, 3, 2, 10)
    assert due(at(2026, 3, 7, 10), 0, WH) == at(2026, 3, 9, 9)


def test_other_office_hours_can_be_configured():
    calendar = WorkingCalendar(CAL.special_days, CAL.known_years,
                               office_periods="08:30-12:00,14:00-17:00")
    assert calendar.day_length == timedelta(hours=6, minutes=30)
    assert calendar.add(at(2026, 3, 6, 16, 30), 1, WH).at == at(2026, 3, 9, 9, 0)
    assert calendar.add(at(2026, 3, 6, 10), 1, WD).at == at(2026, 3, 9, 17, 0)


# --- natural hours and time zones ------------------------------------------------------


def test_natural_hours_ignore_the_calendar():
    assert due(at(2026, 2, 14, 22), 10, NH) == at(2026, 2, 15, 8)
    assert due(at(2026, 2, 14, 22), 1.5, NH) == at(2026, 2, 14, 23, 30)
    assert CAL.add(at(2026, 12, 31, 22), 5, NH).warnings == ()


def test_natural_hours_count_real_time_when_a_clock_changes():
    # New York springs forward at 02:00 on 2026-03-08: 01:30 EST + 2 h = 04:30 EDT.
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 8, 1, 30, tzinfo=new_york)
    result = CAL.add(start, 2, NH).at
    assert result == datetime(2026, 3, 8, 4, 30, tzinfo=new_york)
    assert result.utcoffset() == timedelta(hours=8)
    assert CAL.elapsed(start, result, NH) == 2
    # and in a calendar kept in Berlin time, across its own change
    berlin = ZoneInfo("Europe/Berlin")
    calendar = WorkingCalendar(tz=berlin)
    result = calendar.add(datetime(2026, 3, 29, 1, 0, tzinfo=berlin), 2, NH).at
    assert (result.hour, result.utcoffset()) == (4, timedelta(hours=2))


def test_a_start_in_any_zone_gives_an_answer_in_shanghai_time():
    start = datetime(2026, 2, 13, 9, 0, tzinfo=UTC)                     # 17:00 in Shanghai
    result = CAL.add(start, 1, WH).at
    assert result == at(2026, 2, 14, 9, 30)
    assert result.tzinfo == SHANGHAI and result.utcoffset() == timedelta(hours=8)
    fixed = datetime(2026, 2, 13, 17, 0, tzinfo=timezone(timedelta(hours=8)))
    assert CAL.add(fixed, 1, WH).at.tzinfo == SHANGHAI


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError, match="aware"):
        CAL.add(datetime(2026, 3, 2, 10), 1, WH)  # noqa: DTZ001
    with pytest.raises(ValidationError) as caught:
        CAL.elapsed(at(2026, 3, 2), datetime(2026, 3, 3), WH)  # noqa: DTZ001
    assert caught.value.field == "end"


# --- the fallback for a year without an official schedule ------------------------------


def test_a_deadline_into_2027_is_counted_monday_to_friday_with_a_warning():
    result = CAL.add(at(2026, 12, 31, 10), 1, WD)
    assert result.at == at(2027, 1, 1, 17, 30)                # New Year's Day, unknown yet
    assert result.warnings == (WARN_2027,) == (fallback_warning(2027),)
    result = CAL.add(at(2026, 12, 31, 17), 1, WH)
    assert result.at == at(2027, 1, 1, 9, 30)
    assert result.warnings == (WARN_2027,)


def test_a_deadline_inside_2026_carries_no_warning_even_after_hours_on_new_years_eve():
    assert CAL.add(at(2026, 12, 31, 10), 2, WH).warnings == ()
    assert CAL.add(at(2026, 12, 31, 10), 0, WD).warnings == ()


def test_days_entered_for_an_incomplete_year_count_but_the_warning_stays():
    calendar = WorkingCalendar({**CAL.special_days, date(2027, 1, 1): False}, CAL.known_years)
    result = calendar.add(at(2026, 12, 31, 10), 1, WD)
    assert result.at == at(2027, 1, 4, 17, 30)
    assert result.warnings == (WARN_2027,)


def test_each_year_without_a_schedule_is_named_once_in_order():
    calendar = WorkingCalendar()
    result = calendar.add(at(2027, 12, 30, 10), 3, WD)
    assert result.at == at(2028, 1, 4, 17, 30)
    assert [w[:4] for w in result.warnings] == ["2027", "2028"]


def test_a_year_once_entered_needs_no_warning():
    calendar = WorkingCalendar({**CAL.special_days, date(2027, 1, 1): False},
                               CAL.known_years | {2027})
    assert calendar.add(at(2026, 12, 31, 10), 1, WD) == (
        Due(at(2027, 1, 4, 17, 30), ()))


# --- elapsed and the yellow light ------------------------------------------------------


def test_elapsed_working_hours_count_only_office_time():
    assert CAL.elapsed(at(2026, 3, 6, 17), at(2026, 3, 9, 9, 30), WH) == 1
    assert CAL.elapsed(at(2026, 3, 2, 11), at(2026, 3, 2, 14), WH) == 1.5
    assert CAL.elapsed(at(2026, 3, 2, 14), at(2026, 3, 2, 11), WH) == 0


def test_elapsed_working_days_start_counting_the_day_after():
    start = at(2026, 3, 2, 10)
    assert CAL.elapsed(start, at(2026, 3, 2, 17, 30), WD) == 0
    assert CAL.elapsed(start, at(2026, 3, 3, 12), WD) == pytest.approx(3 / 7)
    assert CAL.elapsed(start, at(2026, 3, 3, 17, 30), WD) == 1
    assert CAL.elapsed(start, at(2026, 3, 9, 9), WD) == 4      # Tue–Fri; the weekend: nothing


def test_elapsed_natural_hours():
    assert CAL.elapsed(at(2026, 3, 2, 10), at(2026, 3, 3, 10), NH) == 24


def test_the_yellow_light_comes_at_eighty_percent():
    assert CAL.warn_at(at(2026, 3, 2, 9), 4, WH) == at(2026, 3, 2, 13, 42)
    assert CAL.warn_at(at(2026, 3, 2, 10), 5, WD) == at(2026, 3, 6, 17, 30)
    assert CAL.warn_at(at(2026, 3, 2, 10), 10, NH) == at(2026, 3, 2, 18)
    assert CAL.warn_at(at(2026, 3, 2, 10), 5, WD, share=0.5) == at(2026, 3, 5, 14, 0)
    # across the holiday: 80 % of 2 working days is the Saturday and 0.6 of 24 February
    assert CAL.warn_at(at(2026, 2, 13, 10), 2, WD) == at(2026, 2, 24, 14, 42)


def test_a_zero_limit_is_yellow_at_once():
    assert CAL.warn_at(at(2026, 3, 7, 10), 0, WH) == at(2026, 3, 7, 10)
    assert CAL.warn_at(at(2026, 3, 7, 10), 0, WD) == at(2026, 3, 7, 10)


# --- input checks ------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "unit", "message"), [
    (-1, WH, "negative"),
    (math.nan, WH, "finite"),
    (math.inf, NH, "finite"),
    (True, WD, "number"),
    ("abc", WD, "number"),
    ("", WD, "required"),
    (10_001, WD, "at most"),
])
def test_bad_amounts_are_refused(amount, unit, message):
    with pytest.raises(CalendarInputError, match=message) as caught:
        CAL.add(at(2026, 3, 2), amount, unit)
    assert caught.value.field == "amount"


def test_an_unknown_unit_is_refused():
    with pytest.raises(CalendarInputError, match="natural_hours") as caught:
        CAL.add(at(2026, 3, 2), 1, "fortnights")
    assert caught.value.field == "unit"


def test_amounts_may_be_given_as_text_or_decimal():
    from decimal import Decimal

    assert CAL.add(at(2026, 3, 2, 9), "1.5", WH) == CAL.add(at(2026, 3, 2, 9), Decimal("1.5"), WH)


def test_office_hours_are_parsed_and_checked():
    assert parse_office_hours("09:00-12:00,13:30-17:30") == (
        (time(9), time(12)), (time(13, 30), time(17, 30)))
    assert parse_office_hours(" 8:30 - 12:00 ") == ((time(8, 30), time(12)),)
    for bad in ["", "9-12", "12:00-09:00", "09:00-12:00,11:00-14:00", "25:00-26:00"]:
        with pytest.raises(CalendarInputError):
            parse_office_hours(bad)


def test_instants_need_an_offset():
    assert parse_instant("2026-02-13T16:00:00+08:00") == at(2026, 2, 13, 16)
    assert parse_instant("2026-02-13T08:00:00Z") == at(2026, 2, 13, 16)
    assert parse_instant("2026-02-13T16:00:00 08:00") == at(2026, 2, 13, 16)  # a '+' lost
    for bad, message in [("", "required"), ("2026-02-13T16:00", "offset"),
                         ("2026-02-13", "offset"), ("yesterday", "ISO 8601")]:
        with pytest.raises(CalendarInputError, match=message):
            parse_instant(bad)


def test_a_schedule_lists_every_problem():
    with pytest.raises(CalendarInputError) as caught:
        schedule_for_year(2027, [(date(2027, 2, 10), "春节"), (date(2026, 12, 31), "x")],
                          [(date(2027, 2, 8), "y"), (date(2027, 2, 10), "z")])
    assert caught.value.lines() == [
        "2026-12-31: not in 2027",
        "2027-02-08: a Monday is a working day anyway; a make-up working day falls on a "
        "Saturday or Sunday",
        "2027-02-10: listed both as a holiday and as a working day",
    ]


def test_a_schedule_leaves_out_holidays_on_a_weekend():
    days = schedule_for_year(2027, [(date(2027, 2, 6), "春节"), (date(2027, 2, 8), "春节")],
                             [(date(2027, 2, 7), "春节调休上班")])
    assert days == {date(2027, 2, 7): (True, "春节调休上班"), date(2027, 2, 8): (False, "春节")}


# --- efficiency --------------------------------------------------------------------------


class CountingCalendar(WorkingCalendar):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.looks = 0

    def _working(self, d, trace):
        self.looks += 1
        return super()._working(d, trace)


def test_a_deadline_steps_through_days_not_minutes():
    calendar = CountingCalendar(CAL.special_days, CAL.known_years)
    calendar.add(at(2026, 2, 13, 10), 20, WD)
    assert calendar.looks <= 40
    calendar.looks = 0
    calendar.add(at(2026, 2, 13, 10), 140, WH)                   # 20 working days of hours
    assert calendar.looks <= 40


def test_hundreds_of_working_days_are_quick():
    import time as clock

    began = clock.perf_counter()
    result = CAL.add(at(2004, 1, 2, 10), 5000, WD)
    assert CAL.elapsed(at(2004, 1, 2, 10), result.at, WD) == 5000
    assert clock.perf_counter() - began < 1.0


# --- properties --------------------------------------------------------------------------

ZONES = st.sampled_from([SHANGHAI, UTC, timezone(timedelta(hours=-5)), ZoneInfo("Europe/Berlin")])
STARTS = st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2027, 6, 30),  # noqa: DTZ001
                      timezones=ZONES)
WORKING_DAYS = st.one_of(st.integers(min_value=0, max_value=60),
                        st.floats(min_value=0, max_value=60, allow_nan=False))
HOURS = st.floats(min_value=0, max_value=400, allow_nan=False, allow_infinity=False)
UNITS_AND_AMOUNTS = st.one_of(
    st.tuples(st.just(WD), WORKING_DAYS), st.tuples(st.just(WH), HOURS),
    st.tuples(st.just(NH), HOURS))
SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(start=STARTS, unit_amount=UNITS_AND_AMOUNTS, more=st.floats(0, 50))
def test_more_time_is_never_due_sooner(start, unit_amount, more):
    unit, amount = unit_amount
    larger = amount + more
    assert CAL.add(start, amount, unit).at <= CAL.add(start, larger, unit).at


@SETTINGS
@given(start=STARTS, later=st.timedeltas(timedelta(0), timedelta(days=20)),
       unit_amount=UNITS_AND_AMOUNTS)
def test_a_later_start_is_never_due_sooner(start, later, unit_amount):
    unit, amount = unit_amount
    later_start = (start.astimezone(UTC) + later).astimezone(start.tzinfo)   # real time
    assert CAL.add(start, amount, unit).at <= CAL.add(later_start, amount, unit).at


@SETTINGS
@given(start=STARTS, hours=HOURS)
def test_elapsed_undoes_add_for_working_hours(start, hours):
    result = CAL.add(start, hours, WH)
    assert CAL.elapsed(start, result.at, WH) == pytest.approx(hours, abs=1e-6)


@SETTINGS
@given(start=STARTS, days=st.one_of(st.integers(min_value=1, max_value=60),
                                    st.floats(min_value=1, max_value=60)))
def test_elapsed_undoes_add_for_working_days(start, days):
    result = CAL.add(start, days, WD)
    assert CAL.elapsed(start, result.at, WD) == pytest.approx(days, abs=1e-6)


@SETTINGS
@given(start=STARTS, hours=HOURS)
def test_elapsed_undoes_add_for_natural_hours(start, hours):
    assert CAL.elapsed(start, CAL.add(start, hours, NH).at, NH) == pytest.approx(hours, abs=1e-6)


@SETTINGS
@given(start=STARTS, unit_amount=st.one_of(st.tuples(st.just(WD), WORKING_DAYS),
                                           st.tuples(st.just(WH), HOURS)))
def test_working_time_is_due_inside_office_hours_on_a_working_day(start, unit_amount):
    unit, amount = unit_amount
    result = CAL.add(start, amount, unit).at
    assert CAL.in_office_hours(result)
    assert result >= start


@SETTINGS
@given(start=STARTS, days=st.integers(min_value=1, max_value=60))
def test_the_start_day_never_counts(start, days):
    local_start = start.astimezone(SHANGHAI).date()
    result = CAL.add(start, days, WD).at
    assert result.date() > local_start
    assert result.time() == time(17, 30)
    counted = sum(CAL.is_working_day(local_start + timedelta(days=i))
                  for i in range(1, (result.date() - local_start).days + 1))
    assert counted == days
    # any start on the same day gives the same due instant
    midnight = datetime.combine(local_start, time.min, tzinfo=SHANGHAI)
    assert CAL.add(midnight, days, WD).at == result


@SETTINGS
@given(start=STARTS, unit_amount=UNITS_AND_AMOUNTS)
def test_answers_are_aware_in_shanghai_time(start, unit_amount):
    unit, amount = unit_amount
    result = CAL.add(start, amount, unit)
    assert result.at.tzinfo == SHANGHAI
    assert result.at.utcoffset() == timedelta(hours=8)
    assert CAL.warn_at(start, amount, unit).tzinfo == SHANGHAI


@SETTINGS
@given(start=STARTS, unit_amount=st.one_of(st.tuples(st.just(WD), WORKING_DAYS),
                                           st.tuples(st.just(WH), HOURS)))
def test_only_answers_reaching_into_2027_carry_the_warning(start, unit_amount):
    unit, amount = unit_amount
    result = CAL.add(start, amount, unit)
    assert result.warnings == ((WARN_2027,) if result.at.year == 2027 else ())


@SETTINGS
@given(start=STARTS, unit_amount=st.one_of(st.tuples(st.just(WD), st.floats(1, 60)),
                                           st.tuples(st.just(WH), HOURS),
                                           st.tuples(st.just(NH), HOURS)),
       share=st.floats(0, 1))
def test_the_yellow_light_comes_when_the_share_is_used_and_never_after_the_due(
        start, unit_amount, share):
    unit, amount = unit_amount
    warn = CAL.warn_at(start, amount, unit, share)
    assert start <= warn <= CAL.add(start, amount, unit).at
    assert CAL.elapsed(start, warn, unit) == pytest.approx(amount * share, abs=1e-6)


def _minute_oracle(start: datetime, minutes: int) -> datetime:
    """Step minute by minute (slow, obviously right) with the package's own
    ``is_workday``; start and office periods fall on whole minutes."""
    t = start.astimezone(SHANGHAI)
    periods = [(time(9), time(12)), (time(13, 30), time(17, 30))]
    used = 0
    while True:
        in_office = chinese_calendar.is_workday(t.date()) and any(
            a <= t.time() < b for a, b in periods)
        t += timedelta(minutes=1)
        used += in_office
        if used == minutes:
            return t


@settings(max_examples=30, deadline=None)
@given(start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20),  # noqa: DTZ001
                          timezones=st.just(SHANGHAI)).map(lambda d: d.replace(second=0,
                                                                               microsecond=0)),
       minutes=st.integers(min_value=1, max_value=14 * 60))
def test_working_hours_agree_with_stepping_minute_by_minute(start, minutes):
    assert CAL.add(start, minutes / 60, WH).at == _minute_oracle(start, minutes)


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 10, 1)),
       days=st.integers(min_value=1, max_value=40))
def test_working_days_agree_with_the_package(start, days):
    d, counted = start, 0
    while counted < days:
        d += timedelta(days=1)
        counted += chinese_calendar.is_workday(d)
    assert CAL.add(datetime.combine(start, time(10), tzinfo=SHANGHAI), days, WD).at == (
        datetime.combine(d, time(17, 30), tzinfo=SHANGHAI))
