"""Follow-up tasks (``registry.visits``): planning by the rules in working
days, the daily pass, the actions through the engine, the reads scoped to
the territory, overdue across the National Day holidays, and the command
centre's light."""

from __future__ import annotations

import datetime as dt
import io
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from shanzhi.accounts.models import GridWorker, Role
from shanzhi.accounts.scope import Scope
from shanzhi.accounts.services import user_create
from shanzhi.cases.lights import light
from shanzhi.cases.models import Notification
from shanzhi.cases.sla import sweep
from shanzhi.core.calendar import WorkingCalendar
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from shanzhi.core.models import calendar_sync_package, reset_calendar
from shanzhi.registry import visits
from shanzhi.registry import workflow as wf
from shanzhi.registry.models import (
    FollowUpRule,
    KeyPlace,
    Member,
    Person,
    PersonChange,
    Visit,
    VisitStage,
)
from tests.conftest import PASSWORD

SHANGHAI = ZoneInfo("Asia/Shanghai")
PACKAGE = WorkingCalendar.from_package()


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


TUESDAY = at(2026, 3, 10, 10, 0)
DAY_BEFORE_NATIONAL_DAY = at(2026, 9, 30, 10, 0)  # 10-01 … 10-07 are off


@pytest.fixture(autouse=True)
def _official_schedule(db):
    calendar_sync_package()
    reset_calendar()


_ids = iter(range(1000, 9999))


def make_person(grid, house=None, *, name="张三", kind="registered", permit_expires=None,
                phone="13812345678") -> Person:
    return Person.objects.create(grid=grid, house=house, name=name,
                                 id_number=f"32050519900101{next(_ids)}", gender="1",
                                 phone=phone, kind=kind, permit_expires=permit_expires)


def make_member(person, *, level="low", group="correction", worker=None) -> Member:
    return Member.objects.create(grid=person.grid, person=person, group=group, level=level,
                                 since=dt.date(2026, 1, 5), worker=worker)


def jpeg() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 90, 60)).save(out, format="JPEG")
    return SimpleUploadedFile("visit.jpg", out.getvalue(), content_type="image/jpeg")


@pytest.fixture
def west(personas, places):
    """A low-risk member in the worker's grid, with their open task (planned on a Tuesday)."""
    person = make_person(places.west_house.grid, places.west_house)
    member = make_member(person)
    with time_machine.travel(TUESDAY, tick=False):
        visit = visits.plan_member(member)
    return member, visit


def second_worker(territory, grid):
    return user_create(username="worker2", password=PASSWORD, role=Role.GRID_WORKER,
                       grid_codes=[grid.code], worker_kind=GridWorker.Kind.FULL_TIME)


# ---------------------------------------------------------------- planning

def test_a_member_gets_a_task_due_in_the_rules_working_days(personas, west):
    member, visit = west
    assert visit.state == wf.DUE and visit.kind == wf.GROUP
    assert visit.interval == wf.DEFAULT_INTERVAL["low"] == 20
    assert visit.due_at == PACKAGE.add(TUESDAY, 20, "working_days").at
    assert visit.warn_at == PACKAGE.warn_at(TUESDAY, 20, "working_days")
    assert visit.number == f"ZF20260310{visit.pk:08d}"
    assert visit.worker == personas.worker  # the grid's worker, the member has none
    assert visit.path == member.path and visit.grid_id == member.grid_id
    stage = VisitStage.objects.get(case=visit)
    assert (stage.stage, stage.amount, stage.unit) == ("visit", 20, "working_days")
    assert list(visit.timeline.values_list("action", flat=True)) == ["create"]
    assert Notification.objects.filter(user=personas.worker, kind="new",
                                       number=visit.number).exists()


def test_planning_again_keeps_the_one_open_task(west):
    member, visit = west
    assert visits.plan_member(member).pk == visit.pk
    assert visits.plan_due() == {"permits": 0, "members": 0, "places": 0}
    assert Visit.objects.filter(member=member).count() == 1


def test_a_follow_up_rule_overrides_the_default_interval(places):
    FollowUpRule.objects.create(group="drug", level="high", interval=3)
    assert visits.interval_for("drug", "high") == 3
    assert visits.interval_for("drug", "medium") == 10
    assert visits.interval_for("mental", "high") == 5
    member = make_member(make_person(places.west_house.grid), group="drug", level="high")
    with time_machine.travel(TUESDAY, tick=False):
        visit = visits.plan_member(member)
    assert visit.interval == 3
    assert visit.due_at == PACKAGE.add(TUESDAY, 3, "working_days").at


def test_a_level_change_cancels_the_open_task_and_plans_one_from_now(west):
    member, first = west
    member.level = "high"
    member.save()
    later = TUESDAY + dt.timedelta(days=1)
    with time_machine.travel(later, tick=False):
        second = visits.plan_member(member)
    first.refresh_from_db()
    assert first.state == wf.CANCELLED
    assert first.timeline.get(action="cancel").data == {"reason": "level"}
    assert second.pk != first.pk and second.state == wf.DUE and second.interval == 5
    assert second.due_at == PACKAGE.add(later, 5, "working_days").at


def test_an_ended_membership_cancels_the_open_task_and_plans_none(west):
    member, visit = west
    member.ended_on = dt.date(2026, 3, 11)
    member.save()
    assert visits.plan_member(member) is None
    visit.refresh_from_db()
    assert visit.state == wf.CANCELLED
    assert not Visit.objects.filter(member=member, state=wf.DUE).exists()


def test_the_daily_pass_plans_what_is_missing_once(personas, places):
    grid = places.west_house.grid
    Member.objects.bulk_create([  # an import: no task yet
        Member(grid=grid, path=grid.path, person=make_person(grid, name=f"王{i}"),
               group="released", level="medium", since=dt.date(2026, 1, 5)) for i in range(3)])
    today = TUESDAY.date()
    near = make_person(grid, name="流动甲", kind="migrant",
                       permit_expires=today + dt.timedelta(days=10))
    make_person(grid, name="流动乙", kind="migrant", permit_expires=today + dt.timedelta(days=60))
    make_person(grid, name="户籍丙", permit_expires=today + dt.timedelta(days=5))
    KeyPlace.objects.create(grid=grid, name="平江出租屋", kind="rental")
    KeyPlace.objects.create(grid=grid, name="已关闭网吧", kind="entertainment", is_active=False)
    with time_machine.travel(TUESDAY, tick=False):
        assert visits.plan_due() == {"permits": 1, "members": 3, "places": 1}
        assert visits.plan_due() == {"permits": 0, "members": 0, "places": 0}
    permit = Visit.objects.get(kind=wf.PERMIT)
    assert permit.person == near
    assert Visit.objects.filter(state=wf.DUE).count() == 5


def test_a_permit_task_is_due_by_the_permits_last_working_day(personas, places):
    expires = dt.date(2026, 3, 20)  # a Friday
    person = make_person(places.west_house.grid, kind="migrant", permit_expires=expires)
    with time_machine.travel(TUESDAY, tick=False):
        visit = visits.plan_permit(person)
    assert visit.interval == 8  # 3-11 … 3-20: eight working days
    assert visit.due_at == at(2026, 3, 20, 17, 30)
    assert visit.worker == personas.worker


def test_the_daily_pass_runs_from_the_worker_command(personas, places):
    make_member(make_person(places.west_house.grid))
    out = StringIO()
    with time_machine.travel(TUESDAY, tick=False):
        call_command("worker", "--once", stdout=out)
    assert "planned_members 1" in out.getvalue()
    assert Visit.objects.filter(state=wf.DUE).count() == 1


class _Stop(BaseException):
    pass


def test_the_daily_pass_runs_in_the_servers_embedded_loop_too(personas, places, monkeypatch):
    from shanzhi.web.management.commands import serve

    def stop(seconds):
        raise _Stop

    make_member(make_person(places.west_house.grid))
    monkeypatch.setattr(serve.time, "sleep", stop)  # one round
    monkeypatch.setattr(serve, "close_old_connections", lambda: None)  # the test's connection
    with time_machine.travel(TUESDAY, tick=False), pytest.raises(_Stop):
        serve.sweep_forever()
    assert Visit.objects.filter(state=wf.DUE).count() == 1


# ---------------------------------------------------------------- recording

def test_recording_closes_the_task_and_plans_the_next_from_the_visits_time(personas, west):
    member, visit = west
    when = at(2026, 3, 16, 15, 0)
    done = visits.visit_record(actor=personas.worker, case=visit, note="本人在家，情绪稳定",
                               finding="normal", lng=120.005, lat=31.015, accuracy=12,
                               photos=[jpeg()], version=visit.version, now=when)
    assert done.state == wf.DONE
    visit.refresh_from_db()
    assert (visit.visited_at, visit.finding, visit.note) == (when, "normal", "本人在家，情绪稳定")
    assert (visit.lng, visit.lat, visit.accuracy) == (120.005, 31.015, 12)
    assert visit.attachments.count() == 1
    entry = visit.timeline.get(action="record")
    assert entry.data["finding"] == "normal" and entry.actor == personas.worker
    nxt = Visit.objects.get(member=member, state=wf.DUE)
    assert nxt.due_at == PACKAGE.add(when, 20, "working_days").at
    assert nxt.worker == personas.worker


def test_a_record_needs_a_note_and_a_known_finding(personas, west):
    _member, visit = west
    with pytest.raises(ValidationError) as refused:
        visits.visit_record(actor=personas.worker, case=visit, note="", finding="normal")
    assert refused.value.field == "note"
    with pytest.raises(ValidationError) as refused:
        visits.visit_record(actor=personas.worker, case=visit, note="已走访", finding="fine")
    assert refused.value.field == "finding"
    with pytest.raises(ValidationError) as refused:
        visits.visit_record(actor=personas.worker, case=visit, note="已走访", finding="normal",
                            lng=120.0)
    assert refused.value.field == "lat"
    visit.refresh_from_db()
    assert visit.state == wf.DUE


def test_a_stale_version_is_a_conflict(personas, west):
    _member, visit = west
    with pytest.raises(Conflict):
        visits.visit_record(actor=personas.worker, case=visit, note="已走访", finding="normal",
                            version=visit.version - 1 if visit.version > 1 else 99)


def test_recording_a_permit_task_renews_the_persons_permit(personas, places):
    person = make_person(places.west_house.grid, kind="migrant",
                         permit_expires=dt.date(2026, 3, 20))
    with time_machine.travel(TUESDAY, tick=False):
        visit = visits.plan_permit(person)
        visits.visit_record(actor=personas.worker, case=visit, note="已提醒并协助续签",
                            finding="normal", permit_expires="2027-03-20")
    person.refresh_from_db()
    assert person.permit_expires == dt.date(2027, 3, 20) and person.version == 2
    change = PersonChange.objects.get(person=person)
    assert change.changes == {"permit_expires": ["2026-03-20", "2027-03-20"]}
    assert not Visit.objects.filter(person=person, state=wf.DUE).exists()


def test_only_a_permit_task_takes_a_permit_date(personas, west):
    _member, visit = west
    with pytest.raises(ValidationError) as refused:
        visits.visit_record(actor=personas.worker, case=visit, note="已走访", finding="normal",
                            permit_expires="2027-03-20")
    assert refused.value.field == "permit_expires"


def test_an_alert_finding_tells_the_overseers(personas, west):
    _member, visit = west
    visits.visit_record(actor=personas.worker, case=visit, note="扬言报复邻居",
                        finding="alert")
    told = Notification.objects.get(kind="alert", number=visit.number)
    assert told.user == personas.west_operator
    assert told.params["note"] == "扬言报复邻居"
    assert not Notification.objects.filter(kind="alert", user=personas.east_operator).exists()


def test_a_worker_of_another_grid_may_not_record(territory, personas, west):
    _member, visit = west
    other = second_worker(territory, territory.west_grids[1])
    with pytest.raises(NotFound):
        visits.visit_for_actor(actor=other, key=visit.number)
    with pytest.raises(PermissionDenied):
        visits.visit_record(actor=other, case=visit, note="已走访", finding="normal")


# ---------------------------------------------------------------- reassign, cancel, engine's

def test_reassign_gives_the_task_to_another_worker_of_its_grid_only(territory, personas, west):
    _member, visit = west
    with pytest.raises(ValidationError) as refused:
        visits.visit_reassign(actor=personas.west_operator, case=visit, assignee="viewer")
    assert refused.value.field == "assignee"
    other = second_worker(territory, territory.west_grids[0])
    visits.visit_reassign(actor=personas.west_operator, case=visit, assignee="worker2")
    visit.refresh_from_db()
    assert visit.worker == other and visit.state == wf.DUE
    assert Notification.objects.filter(user=other, kind="reassign").exists()
    with pytest.raises(PermissionDenied):
        visits.visit_reassign(actor=personas.worker, case=visit, assignee="worker")


def test_an_operator_cancels_and_the_daily_pass_plans_again(personas, west):
    _member, visit = west
    with pytest.raises(PermissionDenied):
        visits.visit_cancel(actor=personas.worker, case=visit, reason="搬走了")
    visits.visit_cancel(actor=personas.west_operator, case=visit, reason="已迁出本市")
    visit.refresh_from_db()
    assert visit.state == wf.CANCELLED
    assert visits.plan_due()["members"] == 1  # still a member: end the membership to stop


def test_supervision_and_extensions_are_the_engines(personas, west):
    _member, visit = west
    visits.ACTIONS["supervise"](actor=personas.west_operator, case=visit, note="请尽快走访")
    visits.ACTIONS["request_extension"](actor=personas.worker, case=visit, reason="本人外出",
                                        amount=3)
    visits.ACTIONS["approve_extension"](actor=personas.west_operator, case=visit)
    visit.refresh_from_db()
    assert visit.supervise_count == 1 and visit.extension_count == 1
    assert visit.due_at == PACKAGE.add(TUESDAY, 23, "working_days").at
    assert set(visits.ACTIONS) == {t.action for t in wf.VISIT.transitions}


# ---------------------------------------------------------------- reads

def test_the_list_is_scoped_to_the_territory(personas, places, west):
    _member, visit = west
    east = make_member(make_person(places.east_house.grid, places.east_house, name="李四"))
    with time_machine.travel(TUESDAY, tick=False):
        east_visit = visits.plan_member(east)

    def numbers(user, **filters):
        return set(visits.visits_list(scope=Scope.for_user(user), **filters)
                   .values_list("number", flat=True))

    assert numbers(personas.admin) == {visit.number, east_visit.number}
    assert numbers(personas.west_operator) == {visit.number}
    assert numbers(personas.east_operator) == {east_visit.number}
    assert numbers(personas.worker) == {visit.number}
    assert numbers(personas.handler) == set()
    assert numbers(personas.nobody) == set()
    assert numbers(personas.admin, kind="group", state="due") == {visit.number, east_visit.number}
    assert numbers(personas.admin, state="done") == set()
    with pytest.raises(ValidationError):
        numbers(personas.admin, kind="house")


def test_the_workers_tasks_are_theirs_and_their_grids_unassigned_ones(personas, places, west):
    _member, visit = west
    grid = places.west_house.grid
    place = KeyPlace.objects.create(grid=grid, name="危化品仓库", kind="chemical")
    with time_machine.travel(TUESDAY, tick=False):
        inspection = visits.plan_place(place)
    Visit.objects.filter(pk=inspection.pk).update(worker=None)
    due = list(visits.visits_due_for(personas.worker, TUESDAY))
    assert [v.number for v in due] == sorted([visit.number, inspection.number],
                                             key=lambda n: Visit.objects.get(number=n).due_at)


# ---------------------------------------------------------------- overdue across holidays

def test_a_weekly_visit_opened_before_national_day_is_overdue_only_after_it(personas, places):
    member = make_member(make_person(places.west_house.grid), level="high")
    with time_machine.travel(DAY_BEFORE_NATIONAL_DAY, tick=False):
        visit = visits.plan_member(member)
    assert visit.interval == 5
    expected = PACKAGE.add(DAY_BEFORE_NATIONAL_DAY, 5, "working_days").at
    assert visit.due_at == expected
    # 10-08, 10-09, the make-up Saturday 10-10, 10-12, 10-13
    assert visit.due_at.astimezone(SHANGHAI) == at(2026, 10, 13, 17, 30)
    assert all(not PACKAGE.is_working_day(dt.date(2026, 10, d)) for d in range(1, 8))
    seven_calendar_days = DAY_BEFORE_NATIONAL_DAY + dt.timedelta(days=7)
    assert sweep(now=seven_calendar_days)["overdue"] == 0
    visit.refresh_from_db()
    assert light(visit, wf.OPEN_STATES, seven_calendar_days) == "green"
    sweep(now=visit.warn_at)
    visit.refresh_from_db()
    assert visit.warned and not visit.overdue
    assert light(visit, wf.OPEN_STATES, visit.warn_at) == "yellow"
    just_before = visit.due_at - dt.timedelta(minutes=1)
    assert sweep(now=just_before)["overdue"] == 0
    late = visit.due_at + dt.timedelta(minutes=1)
    assert sweep(now=late)["overdue"] == 1
    visit.refresh_from_db()
    assert visit.overdue and light(visit, wf.OPEN_STATES, late) == "red"
    assert Notification.objects.filter(user=personas.worker, kind="overdue",
                                       number=visit.number).exists()
    red = visits.visits_list(scope=Scope.for_user(personas.worker), light="red", now=late)
    assert [v.number for v in red] == [visit.number]
    assert [v.number for v in visits.visits_due_for(personas.worker, late)] == [visit.number]


# ---------------------------------------------------------------- the command centre

def test_the_command_centre_summary_counts_the_follow_ups(client, personas, places, west):
    _member, visit = west
    east = make_member(make_person(places.east_house.grid, name="李四"), level="high")
    with time_machine.travel(TUESDAY, tick=False):
        visits.plan_member(east)
    late = visit.due_at + dt.timedelta(hours=1)
    client.force_login(personas.west_operator)
    with time_machine.travel(late, tick=False):
        body = client.get("/api/v1/command/summary").json()
    assert body["followups"] == {"open": 1, "overdue": 1, "near_due": 0}
    client.force_login(personas.admin)
    with time_machine.travel(visit.warn_at + dt.timedelta(minutes=1), tick=False):
        body = client.get("/api/v1/command/summary").json()
    assert body["followups"] == {"open": 2, "overdue": 1, "near_due": 1}
