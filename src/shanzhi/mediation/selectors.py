"""Reads of mediation cases and centres, always through the actor's scope."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from shanzhi.accounts.scope import Scope
from shanzhi.cases import lights
from shanzhi.core.calendar import get_calendar

from . import workflow as wf
from .case import path_prefixes
from .case import visible as cases_visible
from .models import Centre, MediationCase, RosterEntry

__all__ = ["cases_list", "cases_visible", "centres_visible", "light", "roster"]


def light(case: MediationCase, now: dt.datetime | None = None) -> str:
    return lights.light(case, wf.OPEN_STATES, now)


def cases_list(*, scope: Scope, state: str | None = None, dispute_type: str | None = None,
               risk: str | None = None, centre: str | None = None, light: str | None = None,
               q: str | None = None, now: dt.datetime | None = None) -> QuerySet[MediationCase]:
    """The scope's disputes that pass every filter (comma-separated lists for
    state, dispute type and risk), newest first."""
    qs = cases_visible(scope)
    if state:
        qs = qs.filter(state__in=state.split(","))
    if dispute_type:
        qs = qs.filter(dispute_type__in=dispute_type.split(","))
    if risk:
        qs = qs.filter(risk_level__in=risk.split(","))
    if centre:
        qs = qs.filter(centre__code=centre)
    if light:
        qs = qs.filter(lights.light_q(light, wf.OPEN_STATES, now))
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q)
                       | Q(description__icontains=q) | Q(parties__name__icontains=q)).distinct()
    return (qs.select_related("centre", "region", "grid", "mediator", "department")
            .defer("region__geometry", "grid__geometry").order_by("-created_at", "-id"))


def centres_visible(scope: Scope) -> QuerySet[Centre]:
    """The active centres that serve the scope's territory: those inside it and
    those above it."""
    qs = Centre.objects.filter(is_active=True).select_related("region") \
        .defer("region__geometry")
    if scope.unrestricted:
        return qs
    if not scope.paths:
        return qs.none()
    above = {prefix for path in scope.paths for prefix in path_prefixes(path)}
    inside = Q()
    for path in scope.paths:
        inside |= Q(path__startswith=path)
    return qs.filter(inside | Q(path__in=sorted(above)))


def roster(centre: Centre, on: dt.date | None = None) -> list[RosterEntry]:
    """Who is stationed at the centre on a day: entries in force that day, on
    their weekdays (an entry without weekdays: every working day)."""
    on = on or timezone.localdate()
    working = get_calendar().is_working_day(on)
    entries = (centre.roster.select_related("department")
               .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=on))
               .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on)))
    return [e for e in entries
            if (on.weekday() in e.weekdays if e.weekdays else working)]
