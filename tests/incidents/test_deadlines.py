"""Stage deadlines in working time, through the services with frozen time:
make-up Saturdays and holidays from the package's schedule, urgency, the
lights (green → yellow at 80 % → red), and extensions."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from shanzhi.core.calendar import WorkingCalendar
from shanzhi.core.models import calendar_sync_package, reset_calendar
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.categories import category_rules_create
from shanzhi.incidents.models import Category, IncidentStage
from shanzhi.incidents.selectors import light
from tests.incidents.conftest import at, drive, report

PACKAGE = WorkingCalendar.from_package()
FRIDAY_BEFORE_SPRING_FESTIVAL = at(2026, 2, 13, 16, 0)  # 2026-02-14 (Sat) is a make-up day
DAY_BEFORE_NATIONAL_DAY = at(2026, 9, 30, 10, 0)         # 10-01 … 10-07 are off
TUESDAY = at(2026, 3, 10, 10, 0)                         # an ordinary working day


@pytest.fixture(autouse=True)
def _official_schedule(db):
    """The database holds the package's schedule (the migration seeds it; a
    flushed database gets it back)."""
    calendar_sync_package()
    reset_calendar()


def open_stage(incident) -> IncidentStage:
    return IncidentStage.objects.get(incident=incident, ended_at__isnull=True)


def local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(FRIDAY_BEFORE_SPRING_FESTIVAL.tzinfo)


def test_a_four_working_hour_limit_from_friday_afternoon_ends_on_the_make_up_saturday(cast):
    sj0102 = Category.objects.get(code="SJ0102")
    rules = sj0102.current_rules
    category_rules_create(actor=cast.admin, category=sj0102,
                          limits={**rules.limits,
                                  "accept": {"amount": 4, "unit": "working_hours"}},
                          departments=rules.departments, urgencies=rules.urgencies,
                          extra_fields=rules.extra_fields, on_overdue=rules.on_overdue)
    with time_machine.travel(FRIDAY_BEFORE_SPRING_FESTIVAL, tick=False):
        incident = report(cast)
    expected = PACKAGE.add(FRIDAY_BEFORE_SPRING_FESTIVAL, 4, "working_hours").at
    assert incident.due_at == expected == at(2026, 2, 14, 11, 30)
    assert local(incident.due_at).date() == dt.date(2026, 2, 14)
    assert incident.warn_at == PACKAGE.warn_at(FRIDAY_BEFORE_SPRING_FESTIVAL, 4, "working_hours")


def test_the_handling_stage_of_exposed_rubbish_signed_friday_afternoon_ends_saturday(cast):
    with time_machine.travel(FRIDAY_BEFORE_SPRING_FESTIVAL, tick=False):
        incident = drive(cast, report(cast), wf.IN_PROGRESS)  # 暴露垃圾: 4 working hours
    stage = open_stage(incident)
    assert (stage.stage, stage.amount, stage.unit) == ("handle", 4, "working_hours")
    assert incident.due_at == stage.due_at == at(2026, 2, 14, 11, 30)


def test_a_two_working_day_stage_started_before_national_day_ends_after_the_holiday(cast):
    with time_machine.travel(DAY_BEFORE_NATIONAL_DAY, tick=False):
        incident = drive(cast, report(cast, category="SJ0103"), wf.IN_PROGRESS)  # 2 days
    expected = PACKAGE.add(DAY_BEFORE_NATIONAL_DAY, 2, "working_days").at
    assert incident.due_at == expected == at(2026, 10, 9, 17, 30)
    assert all(not PACKAGE.is_working_day(dt.date(2026, 10, d)) for d in range(1, 8))
    assert open_stage(incident).warnings == []


def test_a_year_without_an_official_schedule_warns_on_the_stage(cast):
    with time_machine.travel(at(2027, 12, 30, 10, 0), tick=False):
        incident = drive(cast, report(cast, category="SJ0103"), wf.IN_PROGRESS)
    if 2027 in PACKAGE.known_years or 2028 in PACKAGE.known_years:
        pytest.skip("the installed package already knows 2027/2028")
    assert any("2028" in w for w in open_stage(incident).warnings)


def test_urgent_halves_every_limit(cast):
    with time_machine.travel(FRIDAY_BEFORE_SPRING_FESTIVAL, tick=False):
        normal = drive(cast, report(cast), wf.IN_PROGRESS)
        urgent = report(cast, urgency="urgent")
        assert urgent.due_at == at(2026, 2, 13, 16, 30)  # accept: 1 → 0.5 working hour
        urgent = drive(cast, urgent, wf.IN_PROGRESS)
    assert open_stage(normal).amount == 4 and open_stage(urgent).amount == 2
    assert urgent.due_at == PACKAGE.add(FRIDAY_BEFORE_SPRING_FESTIVAL, 2, "working_hours").at
    assert urgent.due_at == at(2026, 2, 14, 9, 30) < normal.due_at


# ---------------------------------------------------------------- lights

def test_the_light_turns_yellow_at_80_percent_and_red_when_overdue(cast):
    with time_machine.travel(TUESDAY, tick=False):
        incident = report(cast)  # accept: 1 working hour → warn 10:48, due 11:00
    assert (incident.warn_at, incident.due_at) == (at(2026, 3, 10, 10, 48),
                                                   at(2026, 3, 10, 11, 0))
    assert light(incident, now=at(2026, 3, 10, 10, 47)) == "green"
    assert light(incident, now=at(2026, 3, 10, 10, 48)) == "yellow"
    assert light(incident, now=at(2026, 3, 10, 11, 0)) == "red"
    closed = drive(cast, incident, wf.CLOSED)
    assert light(closed, now=at(2026, 3, 10, 11, 0)) == ""


def numbers(api, user, **query) -> set[str]:
    items = api.get(user, "/api/v1/incidents?" + "&".join(f"{k}={v}" for k, v in query.items()))
    return {item["number"] for item in items["items"]}


def test_the_list_filters_by_light(api, cast):
    with time_machine.travel(TUESDAY, tick=False) as clock:
        early = report(cast).number                   # warn 10:48, due 11:00
        clock.move_to(at(2026, 3, 10, 10, 45))
        late = report(cast).number                    # warn 11:33, due 11:45
        done = drive(cast, report(cast), wf.CLOSED).number
        clock.move_to(at(2026, 3, 10, 10, 50))
        assert numbers(api, cast.town_operator, light="yellow") == {early}
        assert numbers(api, cast.town_operator, light="green") == {late}
        assert numbers(api, cast.town_operator, light="red") == set()
        clock.move_to(at(2026, 3, 10, 11, 40))
        assert numbers(api, cast.town_operator, light="red") == {early}
        assert numbers(api, cast.town_operator, light="yellow") == {late}
        lights = {i["number"]: i["light"]
                  for i in api.get(cast.town_operator, "/api/v1/incidents")["items"]}
        assert lights == {early: "red", late: "yellow", done: ""}


def test_an_unknown_light_is_400(api, cast):
    body = api.get(cast.town_operator, "/api/v1/incidents?light=purple", expect=400)
    assert body["error"]["field"] == "light"


# ---------------------------------------------------------------- extensions

def test_an_approved_extension_in_the_same_unit_lengthens_the_limit(cast):
    with time_machine.travel(TUESDAY, tick=False):
        incident = drive(cast, report(cast), wf.IN_PROGRESS)  # 4 working hours → 15:30
        assert incident.due_at == at(2026, 3, 10, 15, 30)
        incident = services.incident_request_extension(
            actor=cast.handler, incident=incident, reason="需要调车", amount=2,
            unit="working_hours")
        incident = services.incident_approve_extension(actor=cast.town_operator,
                                                       incident=incident)
    assert incident.due_at == at(2026, 3, 10, 17, 30) == PACKAGE.add(TUESDAY, 6,
                                                                     "working_hours").at
    stage = open_stage(incident)
    assert (stage.due_at, stage.amount) == (incident.due_at, 6)
    assert incident.extension_count == 1 and incident.pending_extension is None
    entry = incident.timeline.get(action="approve_extension")
    assert instant(entry.data["due_at"]) == incident.due_at


def test_an_extension_in_another_unit_is_added_to_the_old_deadline(cast):
    with time_machine.travel(TUESDAY, tick=False):
        incident = drive(cast, report(cast), wf.IN_PROGRESS)
        incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                       reason="需要协调", amount=1)
        incident = services.incident_approve_extension(actor=cast.town_operator,
                                                       incident=incident)
    assert incident.due_at == at(2026, 3, 11, 17, 30)


def test_an_approved_extension_turns_a_red_light_green(cast):
    with time_machine.travel(TUESDAY, tick=False) as clock:
        incident = drive(cast, report(cast), wf.IN_PROGRESS)
        incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                       reason="需要协调", amount=3)
        clock.move_to(at(2026, 3, 10, 16, 0))
        assert light(incident) == "red"
        incident = services.incident_approve_extension(actor=cast.town_operator,
                                                       incident=incident)
        assert light(incident) == "green" and not incident.overdue


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
