"""GET /api/v1/calendar/due: the database's calendar (seeded from the
chinese_calendar package by the migration), the fallback for 2027 until an
administrator enters it, and every bad input as a 400 in the one error format."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

import pytest

from shanzhi.core import models as calendar_models
from shanzhi.core.calendar import SHANGHAI, package_special_days, package_years
from shanzhi.core.models import (
    CalendarDay,
    CalendarYear,
    calendar_year_import,
    get_calendar,
    reset_calendar,
)

URL = "/api/v1/calendar/due"
WARN_2027 = ("2027年节假日安排未录入，按周一至周五计算 "
             "(no official schedule for 2027: Monday–Friday assumed)")


def ask(client, headers, **params):
    return client.get(f"{URL}?{urlencode(params)}", headers=headers)


@pytest.fixture
def as_worker(personas, bearer):
    return bearer(personas.worker)


def test_the_migration_seeds_every_year_the_package_knows(db):
    assert set(CalendarYear.objects.filter(complete=True).values_list("year", flat=True)) == (
        set(package_years()))
    assert CalendarDay.objects.count() == len(package_special_days())
    assert CalendarDay.objects.get(date=date(2026, 2, 14)).is_working
    assert not CalendarDay.objects.get(date=date(2026, 10, 7)).is_working
    assert not CalendarDay.objects.filter(date=date(2026, 10, 3)).exists()   # a Saturday


def test_the_api_needs_a_login(client, db):
    response = ask(client, {}, start="2026-02-13T10:00:00+08:00", amount=2, unit="working_days")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_deadline_across_the_spring_festival(client, as_worker):
    response = ask(client, as_worker, start="2026-02-13T10:00:00+08:00", amount=2,
                   unit="working_days")
    assert response.status_code == 200
    assert response.json() == {
        "start": "2026-02-13T10:00:00+08:00",
        "due": "2026-02-24T17:30:00+08:00",
        "warn_at": "2026-02-24T14:42:00+08:00",
        "unit": "working_days",
        "amount": 2,
        "warnings": [],
    }


def test_working_hours_across_national_day_with_a_start_in_utc(client, as_worker):
    response = ask(client, as_worker, start="2026-09-30T09:00:00Z", amount="1.5",
                   unit="working_hours")
    body = response.json()
    assert body["start"] == "2026-09-30T17:00:00+08:00"
    assert body["due"] == "2026-10-08T10:00:00+08:00"
    assert body["amount"] == 1.5


def test_an_urgent_case_may_have_half_working_days(client, as_worker):
    body = ask(client, as_worker, start="2026-02-13T10:00:00+08:00", amount=2.5,
               unit="working_days").json()
    assert body["due"] == "2026-02-25T14:00:00+08:00"
    assert body["amount"] == 2.5


def test_natural_hours(client, as_worker):
    body = ask(client, as_worker, start="2026-02-14T22:00:00+08:00", amount=10,
               unit="natural_hours").json()
    assert body["due"] == "2026-02-15T08:00:00+08:00"


def test_a_plus_sign_left_unencoded_is_still_read_as_the_offset(client, as_worker):
    response = client.get(f"{URL}?start=2026-02-13T17:00:00+08:00&amount=1&unit=working_hours",
                          headers=as_worker)
    assert response.status_code == 200
    assert response.json()["due"] == "2026-02-14T09:30:00+08:00"


def test_a_deadline_into_2027_warns_until_the_year_is_entered(
        client, as_worker, django_capture_on_commit_callbacks):
    params = {"start": "2026-12-31T10:00:00+08:00", "amount": 1, "unit": "working_days"}
    body = ask(client, as_worker, **params).json()
    assert body["due"] == "2027-01-01T17:30:00+08:00"
    assert body["warnings"] == [WARN_2027]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_year_import(year=2027, days={date(2027, 1, 1): (False, "元旦")})
    body = ask(client, as_worker, **params).json()
    assert body["due"] == "2027-01-04T17:30:00+08:00"
    assert body["warnings"] == []


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"amount": 1, "unit": "working_days"}, "start", "required"),
    ({"start": "2026-02-13T10:00:00", "amount": 1, "unit": "working_days"}, "start", "offset"),
    ({"start": "13/02/2026 10:00", "amount": 1, "unit": "working_days"}, "start", "ISO 8601"),
    ({"start": "2026-02-13T10:00:00+08:00", "unit": "working_days"}, "amount", "required"),
    ({"start": "2026-02-13T10:00:00+08:00", "amount": -1, "unit": "working_days"}, "amount",
     "negative"),
    ({"start": "2026-02-13T10:00:00+08:00", "amount": "two", "unit": "working_days"}, "amount",
     "number"),
    ({"start": "2026-02-13T10:00:00+08:00", "amount": "nan", "unit": "working_hours"},
     "amount", "finite"),
    ({"start": "2026-02-13T10:00:00+08:00", "amount": 1e9, "unit": "natural_hours"}, "amount",
     "at most"),
    ({"start": "2026-02-13T10:00:00+08:00", "amount": 1, "unit": "days"}, "unit", "Unknown"),
    ({"start": "2026-02-13T10:00:00+08:00", "amount": 1}, "unit", "required"),
])
def test_bad_input_is_a_400_naming_the_field(client, as_worker, params, field, words):
    response = ask(client, {**as_worker, "Accept-Language": "en"}, **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field)
    assert words in error["message"]


def test_every_role_may_ask_even_one_without_territory(client, personas, bearer):
    params = {"start": "2026-02-13T10:00:00+08:00", "amount": 1, "unit": "working_days"}
    for user in (personas.east_operator, personas.nobody, personas.viewer):
        assert ask(client, bearer(user), **params).status_code == 200


# --- the per-process calendar -----------------------------------------------------------


def test_the_calendar_is_kept_between_calls(db, django_assert_num_queries):
    first = get_calendar()
    with django_assert_num_queries(0):
        assert get_calendar() is first


def test_the_calendar_is_rebuilt_when_a_day_changes(db, monkeypatch):
    monkeypatch.setattr(calendar_models, "CALENDAR_TTL", 0.0)
    start = datetime(2026, 2, 13, 10, tzinfo=SHANGHAI)
    assert get_calendar().add(start, 1, "working_days").at.day == 14
    day = CalendarDay.objects.get(date=date(2026, 2, 14))
    day.delete()                                  # no longer a make-up Saturday
    assert get_calendar().add(start, 1, "working_days").at.day == 24
    CalendarDay.objects.create(date=date(2026, 2, 14), is_working=True, name="春节调休上班")
    assert get_calendar().add(start, 1, "working_days").at.day == 14


def test_an_edit_that_keeps_the_row_count_is_noticed_too(db, monkeypatch):
    monkeypatch.setattr(calendar_models, "CALENDAR_TTL", 0.0)
    assert get_calendar().is_working_day(date(2026, 2, 14))
    day = CalendarDay.objects.get(date=date(2026, 2, 14))
    day.is_working = False
    day.save()
    assert not get_calendar().is_working_day(date(2026, 2, 14))


def test_office_hours_come_from_the_settings(db, settings):
    settings.OFFICE_HOURS = "08:30-12:00,14:00-17:00"
    reset_calendar()
    assert get_calendar().add(datetime(2026, 3, 6, 16, 30, tzinfo=SHANGHAI), 1,
                              "working_hours").at == datetime(2026, 3, 9, 9, tzinfo=SHANGHAI)
