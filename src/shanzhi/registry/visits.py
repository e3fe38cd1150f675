"""Follow-up tasks (走访/随访/检查): the case type's services and reads.

A task is planned (``plan_member``, ``plan_permit``, ``plan_place``) with
the working days its rule gives (``interval_for``: a ``FollowUpRule`` row,
else ``workflow.DEFAULT_INTERVAL``) and its first stage from the engine, so
its deadline follows the working-day calendar; the sweep turns it yellow
and red as any case. Planning is idempotent: at most one open task per
member, per permit holder and per place (the partial unique constraints of
``models.Visit`` back this up against a race).

A member whose risk level changes while a task is open: the open task is
cancelled by the system (reason ``level``) and a new one is planned from
now with the new level's interval (``docs/workflows/visit.md``). A member
who left the group and a place no longer active get their open task
cancelled the same way.

``plan_due`` is the daily pass (run from ``shanzhi worker`` on every round,
through ``cases.hooks.sweeping``; it only writes what is missing): residence
permits ending within ``PERMIT_NOTICE_DAYS`` days get a renewal task (one
per permit: none if one was opened in the last ``PERMIT_NOTICE_DAYS`` days),
and active members and places without an open task get one.

Every action is the engine's pipeline (``cases.engine.apply``): ``record``
(the next task is planned from the visit's time; an ALERT finding tells the
overseers), ``reassign``, ``cancel``; supervision and extensions are the
engine's own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.accounts.staff import grid_workers, worker_grids
from shanzhi.cases import engine, hooks
from shanzhi.cases.lights import light_q
from shanzhi.core.calendar import get_calendar
from shanzhi.core.errors import ValidationError

from . import validators
from . import workflow as wf
from .case import VISIT_CASE
from .models import (
    Finding,
    FollowUpRule,
    KeyPlace,
    Member,
    Person,
    PersonChange,
    PersonKind,
    Visit,
    VisitEntry,
)

#: How many rows the daily pass reads at a time.
CHUNK = 500
MAX_ACCURACY = 100_000.0


# ---------------------------------------------------------------- rules

def interval_for(group: str, level: str) -> int:
    """The working days between visits of a group's member at a risk level."""
    row = FollowUpRule.objects.filter(group=group, level=level).values_list(
        "interval", flat=True).first()
    return int(row) if row else wf.DEFAULT_INTERVAL.get(level, wf.DEFAULT_INTERVAL["low"])


def permit_interval(expires: dt.date, today: dt.date) -> int:
    """The working days from ``today`` to a permit's last day (at least 1): the
    renewal task is due by the end of the last working day the permit holds."""
    calendar = get_calendar()
    days = sum(1 for n in range(1, (expires - today).days + 1)
               if calendar.is_working_day(today + dt.timedelta(days=n)))
    return max(1, days)


def _number(at: dt.datetime, pk: int) -> str:
    """ZF, the local day planned, the id: ZF2026120200000012."""
    return f"ZF{timezone.localtime(at):%Y%m%d}{pk:08d}"


def _worker_for(grid_id: int, *candidates: int | None) -> int | None:
    """The first candidate still working in the grid, else the grid's first worker."""
    workers = grid_workers(grid_id)
    for pk in candidates:
        if pk and pk in workers:
            return pk
    return workers[0] if workers else None


def describe(visit: Visit) -> str:
    """Whom or what the task follows up: the person's name or the place's."""
    if visit.place_id:
        return visit.place.name
    return visit.person.name if visit.person_id else ""


# ---------------------------------------------------------------- planning

def _open(*, kind: str, grid_id: int, interval: int, start: dt.datetime,
          worker_id: int | None, person: Person | None = None, member: Member | None = None,
          place: KeyPlace | None = None, data: Mapping | None = None) -> Visit | None:
    """Open a task (its first stage, a ``create`` timeline row, the worker
    told); None if another open task won the race."""
    visit = Visit(number=uuid.uuid4().hex[:32], kind=kind, grid_id=grid_id, person=person,
                  member=member, place=place, worker_id=worker_id, interval=interval,
                  created_at=start, updated_at=start)
    visit.path = (member or place or person).path
    try:
        with transaction.atomic():
            stage_fields, stage = engine.next_stage(VISIT_CASE, visit, wf.DUE, start)
            for name, value in stage_fields.items():
                setattr(visit, name, value)
            visit.save(force_insert=True)
            visit.number = _number(start, visit.pk)
            Visit.objects.filter(pk=visit.pk).update(number=visit.number)
            assert stage is not None
            stage.save(force_insert=True)
            VisitEntry.objects.create(
                case=visit, action="create", actor=None, at=start, from_state="",
                to_state=wf.DUE, data={"kind": kind, "interval": interval,
                                       "due_at": visit.due_at.isoformat(), **(data or {})})
            hooks.created.send(Visit, case=visit)
            engine.notify(VISIT_CASE, user_ids=VISIT_CASE.assignees(visit), case=visit,
                          what="new", params={"number": visit.number,
                                              "description": engine.excerpt(describe(visit))},
                          now=start)
    except IntegrityError:
        return None
    return visit


def system_cancel(visit: Visit, reason: str, now: dt.datetime) -> None:
    engine.apply(VISIT_CASE, actor=None, case=visit, action="cancel",
                 payload={"reason": reason}, changes={"closed_at": now,
                                                      "pending_extension": None}, now=now)


def plan_member(member: Member, *, now: dt.datetime | None = None,
                after: dt.datetime | None = None,
                worker_id: int | None = None) -> Visit | None:
    """The member's open task, planned if there is none: due ``interval``
    working days from ``after`` (or now). A member who left the group has
    their open task cancelled and gets none; an open task planned for
    another level is cancelled and planned again from now."""
    now = now or timezone.now()
    interval = interval_for(member.group, member.level)
    with transaction.atomic():
        current = Visit.objects.filter(member=member, state=wf.DUE).first()
        if member.ended_on is not None:
            if current is not None:
                system_cancel(current, "ended", now)
            return None
        if current is not None:
            if current.interval == interval:
                return current
            system_cancel(current, "level", now)
            worker_id = worker_id or current.worker_id
        return _open(kind=wf.GROUP, grid_id=member.grid_id, interval=interval,
                     start=after or now, worker_id=_worker_for(member.grid_id,
                                                               member.worker_id, worker_id),
                     person=member.person, member=member,
                     data={"group": member.group, "level": member.level})


def _permit_window(today: dt.date) -> tuple[dt.date, dt.date]:
    return (today - dt.timedelta(days=wf.PERMIT_NOTICE_DAYS),
            today + dt.timedelta(days=wf.PERMIT_NOTICE_DAYS))


def _recent_permit_task(now: dt.datetime) -> QuerySet:
    """Permit tasks opened in the last PERMIT_NOTICE_DAYS days, or still open."""
    since = now - dt.timedelta(days=wf.PERMIT_NOTICE_DAYS)
    return Visit.objects.filter(Q(created_at__gt=since) | Q(state=wf.DUE), kind=wf.PERMIT)


def plan_permit(person: Person, *, now: dt.datetime | None = None) -> Visit | None:
    """A residence-permit renewal task for a migrant whose permit ends within
    PERMIT_NOTICE_DAYS days (or ended as long ago), due by the permit's last
    working day; one per permit, never two open."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first, last = _permit_window(today)
    if (person.kind != PersonKind.MIGRANT or person.merged_into_id or not person.permit_expires
            or not first <= person.permit_expires <= last):
        return None
    recent = _recent_permit_task(now).filter(person=person).order_by("-id").first()
    if recent is not None:
        return recent if recent.state == wf.DUE else None
    return _open(kind=wf.PERMIT, grid_id=person.grid_id,
                 interval=permit_interval(person.permit_expires, today), start=now,
                 worker_id=_worker_for(person.grid_id), person=person,
                 data={"permit_expires": person.permit_expires.isoformat()})


def plan_place(place: KeyPlace, *, now: dt.datetime | None = None,
               worker_id: int | None = None) -> Visit | None:
    """The key place's open inspection, planned every PLACE_INTERVAL working
    days while it is active (an inactive place's open task is cancelled)."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Visit.objects.filter(place=place, state=wf.DUE).first()
        if not place.is_active:
            if current is not None:
                system_cancel(current, "inactive", now)
            return None
        if current is not None:
            return current
        return _open(kind=wf.PLACE, grid_id=place.grid_id, interval=wf.PLACE_INTERVAL,
                     start=now, worker_id=_worker_for(place.grid_id, place.worker_id,
                                                      worker_id), place=place)


def _chunks(qs: QuerySet):
    """The rows of ``qs`` by id, CHUNK at a time (each pass gives them tasks,
    so the query is read again from the last id)."""
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk")[:CHUNK])
        if not rows:
            return
        yield from rows
        last = rows[-1].pk


def plan_due(now: dt.datetime | None = None) -> dict[str, int]:
    """The daily pass: a renewal task for each permit near its end, a task
    for each active member and place that has none. Idempotent: a second run
    plans nothing. Returns how many tasks it opened of each kind."""
    now = now or timezone.now()
    first, last = _permit_window(timezone.localdate(now))
    counts = {"permits": 0, "members": 0, "places": 0}
    permits = (Person.objects.filter(kind=PersonKind.MIGRANT, merged_into__isnull=True,
                                     permit_expires__gte=first, permit_expires__lte=last)
               .exclude(Exists(_recent_permit_task(now).filter(person=OuterRef("pk")))))
    for person in _chunks(permits):
        counts["permits"] += plan_permit(person, now=now) is not None
    open_ = Visit.objects.filter(state=wf.DUE)
    members = (Member.objects.select_related("person").filter(ended_on__isnull=True)
               .exclude(Exists(open_.filter(member=OuterRef("pk")))))
    for member in _chunks(members):
        counts["members"] += plan_member(member, now=now) is not None
    places = KeyPlace.objects.filter(is_active=True).exclude(
        Exists(open_.filter(place=OuterRef("pk"))))
    for place in _chunks(places):
        counts["places"] += plan_place(place, now=now) is not None
    return counts


def on_sweeping(sender, *, now: dt.datetime, **kwargs) -> dict[str, int]:
    """``cases.hooks.sweeping`` receiver (connected in ``RegistryConfig.ready``)."""
    return {f"planned_{k}": n for k, n in plan_due(now).items()}


# ---------------------------------------------------------------- actions

def visit_for_actor(*, actor: User, key: int | str) -> Visit:
    return engine.case_for_actor(VISIT_CASE, actor=actor, key=key)


def available_actions(*, actor: User, case: Visit) -> list[str]:
    return engine.available_actions(VISIT_CASE, actor=actor, case=case)


def _now(kw: Mapping) -> dt.datetime:
    return kw.get("now") or timezone.now()


def _coordinate(value, *, field: str, low: float, high: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise ValidationError(gettext("%(field)s must be a number from %(low)s to %(high)s.")
                              % {"field": VISIT_CASE.field_label(field), "low": low,
                                 "high": high}, field=field)
    return number


def _position(lng, lat, accuracy) -> dict:
    lng = _coordinate(lng, field="lng", low=-180, high=180)
    lat = _coordinate(lat, field="lat", low=-90, high=90)
    if (lng is None) != (lat is None):
        raise ValidationError(gettext("Send both the longitude and the latitude, or neither."),
                              field="lat" if lat is None else "lng")
    accuracy = _coordinate(accuracy, field="accuracy", low=0, high=MAX_ACCURACY)
    return {"lng": lng, "lat": lat, "accuracy": accuracy if lng is not None else None}


def _renew_permit(*, actor: User, person: Person, expires: dt.date, now: dt.datetime) -> None:
    """The person's permit now holds until ``expires`` (a PersonChange row)."""
    before = Person.objects.filter(pk=person.pk).values_list("permit_expires", flat=True).first()
    Person.objects.filter(pk=person.pk).update(permit_expires=expires, updated_at=now,
                                               version=F("version") + 1)
    PersonChange.objects.create(
        person=person, actor=actor, at=now, action="edit",
        changes={"permit_expires": [before.isoformat() if before else None,
                                    expires.isoformat()]})
    person.permit_expires = expires


def visit_record(*, actor: User, case: Visit, note: str, finding: str, lng=None, lat=None,
                 accuracy=None, photos=(), version: int | None = None, permit_expires=None,
                 **kw) -> Visit:
    """Record the visit: what was found (``Finding``), a note, photos and the
    position; for a permit task, the renewed permit's end (the person's
    record is updated). Then the next task is planned from the visit's time;
    an ALERT finding tells the overseers at once."""
    engine.check_role(VISIT_CASE, actor, "record")
    now = _now(kw)
    finding = validators.choice(finding, field="finding",
                                label=VISIT_CASE.field_label("finding"),
                                choices=Finding.choices)
    where = _position(lng, lat, accuracy)
    expires = validators.day(permit_expires, field="permit_expires",
                             label=VISIT_CASE.field_label("permit_expires"))
    if expires is not None:
        if case.kind != wf.PERMIT:
            raise ValidationError(gettext("Only a residence permit task takes the permit's "
                                          "new end date."), field="permit_expires")
        if expires <= timezone.localdate(now):
            raise ValidationError(gettext("The renewed permit must hold beyond today."),
                                  field="permit_expires")
    checked = engine.check_photos(photos)
    if version is not None and kw.get("expected_version") is None:
        kw["expected_version"] = version
    kw["now"] = now
    with transaction.atomic():
        case = engine.apply(
            VISIT_CASE, actor=actor, case=case, action="record",
            payload={"note": note, "finding": finding, **where,
                     "permit_expires": expires.isoformat() if expires else None},
            changes={"visited_at": now, "finding": finding, "note": (note or "").strip(),
                     "closed_at": now, "pending_extension": None, **where},
            photos=checked, **kw)
        if expires is not None and case.person_id:
            _renew_permit(actor=actor, person=case.person, expires=expires, now=now)
        if finding == Finding.ALERT:
            engine.notify(VISIT_CASE, user_ids=VISIT_CASE.overseers(case), case=case,
                          what="alert", params={"number": case.number,
                                                "note": engine.excerpt(note)},
                          now=now, exclude=actor.pk)
        _plan_next(case, now)
    return case


def _plan_next(case: Visit, now: dt.datetime) -> Visit | None:
    if case.kind == wf.GROUP and case.member_id:
        member = Member.objects.select_related("person").get(pk=case.member_id)
        return plan_member(member, now=now, after=now, worker_id=case.worker_id)
    if case.kind == wf.PLACE and case.place_id:
        return plan_place(KeyPlace.objects.get(pk=case.place_id), now=now,
                          worker_id=case.worker_id)
    if case.kind == wf.PERMIT and case.person_id:
        return plan_permit(Person.objects.get(pk=case.person_id), now=now)
    return None


def _grid_worker(case: Visit, assignee) -> User | None:
    key = str(assignee or "").strip()
    if not key:
        return None
    users = User.objects.filter(is_active=True, role=Role.GRID_WORKER)
    user = (users.filter(pk=int(key)) if key.isdigit() else users.filter(username=key)).first()
    if user is None or case.grid_id not in worker_grids(user.pk):
        return None
    return user


def visit_reassign(*, actor: User, case: Visit, assignee: str, note: str = "",
                   **kw) -> Visit:
    """Give the task to another grid worker of its grid (username or id)."""
    engine.check_role(VISIT_CASE, actor, "reassign")
    worker = _grid_worker(case, assignee)
    if worker is None and str(assignee or "").strip():
        raise ValidationError(gettext("%(who)s is not a grid worker of %(grid)s.")
                              % {"who": assignee, "grid": case.grid.name}, field="assignee")
    return engine.apply(VISIT_CASE, actor=actor, case=case, action="reassign",
                        payload={"assignee": worker.username if worker else assignee,
                                 "note": note},
                        changes={"worker": worker}, notify_ids=[worker.pk] if worker else [],
                        notice={"description": engine.excerpt(describe(case))}, **kw)


def visit_cancel(*, actor: User, case: Visit, reason: str, **kw) -> Visit:
    """Cancel the task. A member still in the group (or a place still active)
    gets a new task from the next daily pass: end the membership to stop."""
    return engine.apply(VISIT_CASE, actor=actor, case=case, action="cancel",
                        payload={"reason": reason},
                        changes={"closed_at": _now(kw), "pending_extension": None},
                        notify_ids=VISIT_CASE.assignees(case),
                        notice={"reason": engine.excerpt(reason)}, **kw)


def visit_supervise(*, actor: User, case: Visit, note: str, level: str = "yellow",
                    **kw) -> Visit:
    return engine.supervise(VISIT_CASE, actor=actor, case=case, note=note, level=level, **kw)


def visit_request_extension(*, actor: User, case: Visit, reason: str, amount: float,
                            unit: str = "working_days", **kw) -> Visit:
    return engine.request_extension(VISIT_CASE, actor=actor, case=case, reason=reason,
                                    amount=amount, unit=unit, **kw)


def visit_approve_extension(*, actor: User, case: Visit, note: str = "", **kw) -> Visit:
    return engine.approve_extension(VISIT_CASE, actor=actor, case=case, note=note, **kw)


def visit_refuse_extension(*, actor: User, case: Visit, reason: str, **kw) -> Visit:
    return engine.refuse_extension(VISIT_CASE, actor=actor, case=case, reason=reason, **kw)


ACTIONS = {
    "record": visit_record,
    "reassign": visit_reassign,
    "cancel": visit_cancel,
    "request_extension": visit_request_extension,
    "approve_extension": visit_approve_extension,
    "refuse_extension": visit_refuse_extension,
    "supervise": visit_supervise,
}


# ---------------------------------------------------------------- reads

def _states(state) -> list[str]:
    values = [s for s in (state.split(",") if isinstance(state, str) else state) if s]
    bad = [s for s in values if s not in wf.STATES]
    if bad:
        raise ValidationError(gettext("Unknown state %(state)s: use one of %(choices)s.")
                              % {"state": bad[0], "choices": ", ".join(wf.STATES)},
                              field="state")
    return values


def visits_list(*, scope: Scope, state=None, kind: str | None = None,
                worker: User | int | None = None, light: str | None = None,
                grid: str | int | None = None, now: dt.datetime | None = None) -> QuerySet:
    """The tasks the scope reaches, the most urgent first (overdue, then by
    deadline); ``state`` one or several (comma-separated), ``light`` green,
    yellow or red, ``grid`` a grid's code or id."""
    qs = (VISIT_CASE.visible(scope).select_related("grid", "person", "person__house",
                                                   "place", "member", "worker")
          .defer("grid__geometry"))
    if state:
        qs = qs.filter(state__in=_states(state))
    if kind:
        if kind not in wf.KINDS:
            raise ValidationError(gettext("Unknown kind %(kind)s: use one of %(choices)s.")
                                  % {"kind": kind, "choices": ", ".join(wf.KINDS)},
                                  field="kind")
        qs = qs.filter(kind=kind)
    if worker:
        qs = qs.filter(worker_id=getattr(worker, "pk", worker))
    if grid:
        qs = qs.filter(grid_id=int(grid)) if str(grid).isdigit() else qs.filter(
            grid__code=str(grid))
    if light:
        qs = qs.filter(light_q(light, wf.OPEN_STATES, now))
    return qs.order_by("-overdue", F("due_at").asc(nulls_last=True), "id")


def visits_due_for(user: User, now: dt.datetime | None = None) -> QuerySet:
    """A grid worker's open tasks, by deadline: those given to them, and the
    unassigned ones of their grids."""
    qs = visits_list(scope=Scope.for_user(user), state=wf.DUE, now=now)
    return qs.filter(Q(worker=user) | Q(worker__isnull=True))


def visit_counts(*, scope: Scope, now: dt.datetime | None = None,
                 paths: tuple[str, ...] = ()) -> dict[str, int]:
    """Open tasks of the scope (inside ``paths`` if given): how many, how many
    red (overdue) and yellow (near due) at ``now``."""
    now = now or timezone.now()
    qs = VISIT_CASE.visible(scope).filter(state=wf.DUE)
    if paths:
        under = Q()
        for p in paths:
            under |= Q(path__startswith=p)
        qs = qs.filter(under)
    found = qs.aggregate(n=Count("id"),
                         red=Count("id", filter=light_q("red", wf.OPEN_STATES, now)),
                         yellow=Count("id", filter=light_q("yellow", wf.OPEN_STATES, now)))
    return {"open": found["n"], "overdue": found["red"], "near_due": found["yellow"]}

