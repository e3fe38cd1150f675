"""The same figures as the rollups, counted straight from the incidents: the
reference the rollups must equal (tests, ``benchmarks/dashboard.py``), the
source of ``shanzhi analytics rebuild``, and the answer for the few scopes
the rollups do not key on (a grid worker's grids, a department's cases, a
community's categories), which are small."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from shanzhi.cases.lights import light_q
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, IncidentStage

from .rollups import SATISFIED_FROM


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_default_timezone())


def reported_between(qs: QuerySet[Incident], first: dt.date, last: dt.date) -> QuerySet:
    return qs.filter(reported_at__gte=day_start(first),
                     reported_at__lt=day_start(last + dt.timedelta(days=1)))


def day_counters() -> dict:
    """The DayTally counters as aggregates over incidents (annotated ``late``)."""
    return {
        "reported": Count("id"),
        "rejected": Count("id", filter=Q(state=wf.REJECTED)),
        "closed": Count("id", filter=Q(state=wf.CLOSED)),
        "closed_on_time": Count("id", filter=Q(state=wf.CLOSED, late=False)),
        "self_resolved": Count("id", filter=Q(self_resolved=True)),
        "callbacks": Count("id", filter=Q(satisfaction__isnull=False)),
        "satisfied": Count("id", filter=Q(satisfaction__gte=SATISFIED_FROM)),
    }


def with_late(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    return qs.annotate(late=Exists(IncidentStage.objects.filter(incident=OuterRef("pk"),
                                                                overdue=True)))


def with_day(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    return qs.annotate(day=TruncDate("reported_at", tzinfo=timezone.get_default_timezone()))


def days(qs: QuerySet[Incident], first: dt.date, last: dt.date,
         by: tuple[str, ...] = ("day",)) -> list[dict]:
    """Counters of the incidents reported in [first, last], grouped by ``by``
    (``day``, ``path``, ``region_id``)."""
    qs = with_late(with_day(reported_between(qs, first, last)))
    return list(qs.order_by().values(*by).annotate(**day_counters()))


def mix(qs: QuerySet[Incident], first: dt.date, last: dt.date,
        by: tuple[str, ...] = ("category_id", "channel")) -> list[dict]:
    qs = reported_between(qs, first, last)
    return list(qs.order_by().values(*by).annotate(reported=Count("id")))


def open_counts(qs: QuerySet[Incident], by: tuple[str, ...] = ("path", "grid_id")) -> list[dict]:
    """Open incidents, and of those marked red and yellow by the sweep (OpenTally's counters)."""
    return list(qs.filter(state__in=wf.OPEN_STATES).order_by().values(*by)
                .annotate(open=Count("id"), red=Count("id", filter=Q(overdue=True)),
                          yellow=Count("id", filter=Q(warned=True, overdue=False))))


def red(qs: QuerySet[Incident], now: dt.datetime) -> QuerySet[Incident]:
    """Open and past the deadline (the desks' red light)."""
    return qs.filter(light_q("red", wf.OPEN_STATES, now))


def yellow(qs: QuerySet[Incident], now: dt.datetime) -> QuerySet[Incident]:
    """Open, not yet due, past the warning (the desks' yellow light)."""
    return qs.filter(light_q("yellow", wf.OPEN_STATES, now))
