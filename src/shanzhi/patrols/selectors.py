"""The reads of patrols, each through the actor's scope (docs/patrols.md).

A patrol is a person's walk: who sees it is narrower than for an incident. A
grid worker sees only their own patrols (and of those only the ones in their
current grids, as the scope says); operators, administrators and viewers see
the patrols of their territory; handlers and mediators see none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet, Sum
from django.utils.translation import gettext

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.core.calendar import get_calendar
from shanzhi.core.errors import NotFound
from shanzhi.geo.models import Grid

from .models import CheckIn, Patrol

#: The roles that read patrols (besides the workers' own).
READERS = (Role.CITY_ADMIN, Role.OPERATOR, Role.VIEWER, Role.GRID_WORKER)


def visible(scope: Scope) -> QuerySet[Patrol]:
    """Every patrol the scope's user may see."""
    qs = scope.filter(Patrol.objects.all(), path_field="path", grid_field="grid_id")
    if scope.unrestricted:
        return qs
    if scope.role not in READERS:
        return qs.none()
    if scope.grid_ids is not None:  # a grid worker: their own walks only
        qs = qs.filter(worker_id=scope.user_id)
    return qs


def day_span(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants a local day (the calendar's zone) begins and ends."""
    tz = get_calendar().tz
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)


def _presented(qs: QuerySet[Patrol]) -> QuerySet[Patrol]:
    return qs.select_related("worker", "grid").prefetch_related(
        Prefetch("checkins", CheckIn.objects.select_related("grid").prefetch_related("photos")))


def patrols_list(scope: Scope, day: dt.date | None = None, worker: str | None = None,
                 grid: str | None = None) -> QuerySet[Patrol]:
    """The patrols of the territory, newest first; ``day`` a local day (the
    patrols started that day), ``worker`` a username, ``grid`` a grid code.
    The tracks are not read (``detail`` reads one)."""
    qs = visible(scope)
    if day is not None:
        start, end = day_span(day)
        qs = qs.filter(started_at__gte=start, started_at__lt=end)
    if worker:
        qs = qs.filter(worker__username=worker)
    if grid:
        qs = qs.filter(grid__code=grid)
    return _presented(qs.defer("track")).order_by("-started_at", "id")


def patrol_detail(*, actor: User, patrol_id: uuid.UUID) -> Patrol:
    """One patrol with its track, if the actor may see it (the worker who
    walked it always may); else not found."""
    scope = Scope.for_user(actor)
    found = _presented(visible(scope)).filter(pk=patrol_id).first()
    if found is None and actor.role == Role.GRID_WORKER:
        found = _presented(Patrol.objects.filter(worker_id=actor.pk)).filter(pk=patrol_id).first()
    if found is None:
        raise NotFound(gettext("No such patrol in your territory."), field="patrol_id")
    return found


# ---------------------------------------------------------------- due

@dataclass(frozen=True)
class Due:
    """A grid of the worker not yet patrolled by them that working day."""

    grid: Grid
    due_at: dt.datetime


def patrols_due(user: User, day: dt.date) -> list[Due]:
    """The worker's current grids where they started no patrol on ``day``
    (a local day), each due at that day's close of office; nothing on a day
    off, nothing for anyone but a grid worker."""
    if user.role != Role.GRID_WORKER:
        return []
    calendar = get_calendar()
    if not calendar.is_working_day(day):
        return []
    scope = Scope.for_user(user)
    start, end = day_span(day)
    walked = set(visible(scope).filter(worker_id=user.pk, started_at__gte=start,
                                       started_at__lt=end)
                 .values_list("grid_id", flat=True))
    due_at = dt.datetime.combine(day, calendar.closes, tzinfo=calendar.tz)
    return [Due(grid=g, due_at=due_at)
            for g in scope.grids().order_by("code") if g.pk not in walked]


# ---------------------------------------------------------------- figures

@dataclass(frozen=True)
class WorkerFigures:
    worker_id: int
    username: str
    name: str
    patrols: int
    distance_m: float
    duration_s: int
    checkins: int


def worker_figures(scope: Scope, since: dt.datetime, until: dt.datetime) -> list[WorkerFigures]:
    """Per worker, the patrols started in [since, until) in the territory: how
    many, how far, how long, how many check-ins; most patrols first."""
    patrols = visible(scope).filter(started_at__gte=since, started_at__lt=until)
    checkins = dict(CheckIn.objects.filter(patrol__in=patrols.values("pk"))
                    .values_list("patrol__worker_id").annotate(n=Count("pk"))
                    .values_list("patrol__worker_id", "n"))
    rows = (patrols.values("worker_id", "worker__username", "worker__display_name")
            .annotate(n=Count("pk"), distance=Sum("distance_m"), duration=Sum("duration_s"))
            .order_by())
    figures = [WorkerFigures(worker_id=r["worker_id"], username=r["worker__username"],
                             name=r["worker__display_name"] or r["worker__username"],
                             patrols=r["n"], distance_m=round(r["distance"] or 0.0, 1),
                             duration_s=int(r["duration"] or 0),
                             checkins=checkins.get(r["worker_id"], 0)) for r in rows]
    return sorted(figures, key=lambda f: (-f.patrols, f.username))
