"""The one light rule of every case: green while the running stage has time,
yellow once 80 % of its limit is used (``warn_at``), red once it is due or
the sweep marked it overdue; none when no stage runs (a final state)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.core.errors import ValidationError

LIGHTS = ("green", "yellow", "red")


def light_of(*, is_open: bool, due_at: dt.datetime | None, warn_at: dt.datetime | None,
             overdue: bool, now: dt.datetime) -> str:
    if not due_at or not is_open:
        return ""
    if overdue or now >= due_at:
        return "red"
    if warn_at and now >= warn_at:
        return "yellow"
    return "green"


def light(case, open_states: Iterable[str], now: dt.datetime | None = None) -> str:
    """green, yellow, red, or "" for a case (any object with the case fields)."""
    return light_of(is_open=case.state in open_states, due_at=case.due_at,
                    warn_at=case.warn_at, overdue=case.overdue, now=now or timezone.now())


def light_q(name: str, open_states: Iterable[str], now: dt.datetime | None = None) -> Q:
    """The condition of a light, for a queryset of cases."""
    now = now or timezone.now()
    open_ = Q(state__in=sorted(open_states), due_at__isnull=False)
    if name == "red":
        return open_ & (Q(overdue=True) | Q(due_at__lte=now))
    if name == "yellow":
        return open_ & Q(overdue=False, due_at__gt=now, warn_at__lte=now)
    if name == "green":
        return open_ & Q(overdue=False, due_at__gt=now, warn_at__gt=now)
    raise ValidationError(gettext("Unknown light %(light)s: use green, yellow or red.")
                          % {"light": name}, field="light")
