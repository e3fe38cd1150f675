"""Reads of incidents, always through the actor's scope."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import ValidationError

from . import workflow as wf
from .models import Category, Incident, Notification, TimelineEntry


def incidents_visible(scope: Scope) -> QuerySet[Incident]:
    """Every incident the scope reaches: a grid worker's grids, a department's
    cases, an operator's or viewer's territory."""
    return scope.filter(Incident.objects.all(), grid_field="grid_id",
                        department_field="department_id")


def light(incident: Incident, now: dt.datetime | None = None) -> str:
    """green, yellow (80 % of the limit used), red (overdue), or "" when no
    stage runs (closed, rejected)."""
    if not incident.due_at or incident.state not in wf.OPEN_STATES:
        return ""
    now = now or timezone.now()
    if incident.overdue or now >= incident.due_at:
        return "red"
    if incident.warn_at and now >= incident.warn_at:
        return "yellow"
    return "green"


def incidents_list(*, scope: Scope, state: str | None = None, channel: str | None = None,
                   category: str | None = None, region: str | None = None,
                   light_filter: str | None = None, q: str | None = None,
                   now: dt.datetime | None = None) -> QuerySet[Incident]:
    qs = incidents_visible(scope)
    if state:
        qs = qs.filter(state__in=state.split(","))
    if channel:
        qs = qs.filter(channel__in=channel.split(","))
    if category:
        qs = qs.filter(Q(category__code=category) | Q(category__parent__code=category))
    if region:
        qs = qs.filter(path__startswith=scope.region(region).path)
    if light_filter:
        now = now or timezone.now()
        open_ = qs.filter(state__in=wf.OPEN_STATES, due_at__isnull=False)
        if light_filter == "red":
            qs = open_.filter(Q(overdue=True) | Q(due_at__lte=now))
        elif light_filter == "yellow":
            qs = open_.filter(overdue=False, due_at__gt=now, warn_at__lte=now)
        elif light_filter == "green":
            qs = open_.filter(overdue=False, due_at__gt=now, warn_at__gt=now)
        else:
            raise ValidationError(gettext("Unknown light %(light)s: use green, yellow or red.")
                                  % {"light": light_filter}, field="light")
    if q:
        qs = qs.filter(Q(number__startswith=q) | Q(description__contains=q)
                       | Q(address__contains=q))
    return qs.select_related("category", "grid", "region", "holder", "department").defer(
        "holder__geometry", "region__geometry", "grid__geometry")


def timeline(*, incident: Incident) -> QuerySet[TimelineEntry]:
    return TimelineEntry.objects.filter(incident=incident).select_related("actor").prefetch_related(
        "attachments").order_by("at", "id")


def notifications(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(user=user).select_related("incident")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs


def categories() -> list[Category]:
    return list(Category.objects.filter(is_active=True).select_related("parent")
                .prefetch_related("versions").order_by("code"))
