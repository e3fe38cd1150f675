"""The command centre's dispute-mediation figures (矛盾纠纷调处).

Counted live from the mediation cases the actor's scope reaches (through
``mediation.selectors.cases_visible``, the one scoping rule of the type),
inside the region drilled into: a city has a few thousand disputes a year,
so a handful of aggregate queries answer without rollups.

- open cases (received, mediating, agreed: still followed up) by dispute
  type, by risk level and by state, and how many of them are overdue (red:
  marked by the sweep, or past their deadline now);
- the outcomes of the last 30 days (days of Asia/Shanghai, today included,
  as the KPI tiles count): agreements and partial agreements by the day they
  were reached (``agreed_at``), failures by the day the case was referred out
  (``closed_at``); a case reopened since counts again when it is decided again;
- the days from registration (``created_at``) to that outcome, median and
  mean, over the same cases.
"""

from __future__ import annotations

import datetime as dt
import statistics
from functools import reduce
from operator import or_

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from shanzhi.accounts.scope import Scope
from shanzhi.cases.lights import light_q
from shanzhi.mediation import risk
from shanzhi.mediation import workflow as mwf
from shanzhi.mediation.models import MediationCase, MediationState, Outcome
from shanzhi.mediation.selectors import cases_visible

from .rollups import local_day

WINDOW_DAYS = 30
OPEN_STATES = [s for s in mwf.STATES if s in mwf.OPEN_STATES]
TYPE_LABELS = dict(mwf.DISPUTE_TYPES)
STATE_LABELS = dict(MediationState.choices)
OUTCOME_LABELS = dict(Outcome.choices)
RISKS = list(reversed(risk.LEVELS))  # high first
DECIDED = Q(outcome__in=[Outcome.AGREEMENT, Outcome.PARTIAL],
            state__in=[mwf.AGREED, mwf.CLOSED]) | Q(outcome=Outcome.FAILED,
                                                    state=mwf.REFERRED)


def window(now: dt.datetime) -> tuple[dt.datetime, dt.date, dt.date]:
    """The start (local midnight) and the first and last day of the last 30 days."""
    last = local_day(now)
    first = last - dt.timedelta(days=WINDOW_DAYS - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time()),
                                timezone.get_default_timezone())
    return start, first, last


def cases_in(scope: Scope, paths: tuple[str, ...] = ()) -> QuerySet[MediationCase]:
    """The mediation cases of the scope, inside these regions (paths) if given."""
    qs = cases_visible(scope)
    if paths:
        qs = qs.filter(reduce(or_, (Q(path__startswith=p) for p in paths)))
    return qs


def _counts(qs: QuerySet, field: str, keys) -> dict[str, int]:
    found = dict(qs.order_by().values_list(field).annotate(n=Count("id")))
    return {key: found.get(key, 0) for key in keys}


def _days(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / 86400


def mediation_figures(scope: Scope, now: dt.datetime | None = None, *,
                      paths: tuple[str, ...] = ()) -> dict:
    """The figures of the disputes ``scope`` reaches (inside ``paths`` if given), at ``now``."""
    now = now or timezone.now()
    cases = cases_in(scope, paths)
    open_ = cases.filter(state__in=OPEN_STATES)
    by_type = _counts(open_, "dispute_type", TYPE_LABELS)
    by_risk = _counts(open_, "risk_level", RISKS)
    by_state = _counts(open_, "state", OPEN_STATES)
    overdue = open_.filter(light_q("red", mwf.OPEN_STATES, now)).count()

    start, first, last = window(now)
    decided = cases.filter(DECIDED).filter(
        Q(outcome=Outcome.FAILED, closed_at__gte=start, closed_at__lte=now)
        | Q(outcome__in=[Outcome.AGREEMENT, Outcome.PARTIAL], agreed_at__gte=start,
            agreed_at__lte=now))
    outcomes = dict.fromkeys(OUTCOME_LABELS, 0)
    days: list[float] = []
    for outcome, created, agreed, closed in decided.values_list(
            "outcome", "created_at", "agreed_at", "closed_at"):
        outcomes[outcome] += 1
        days.append(_days(created, closed if outcome == Outcome.FAILED else agreed))
    return {
        "open": sum(by_state.values()),
        "overdue": overdue,
        "open_by_state": by_state,
        "open_by_risk": by_risk,
        "open_by_type": by_type,
        "outcomes": outcomes,
        "resolved": len(days),
        "days_to_resolve": {
            "median": round(statistics.median(days), 1) if days else None,
            "mean": round(statistics.fmean(days), 1) if days else None,
        },
        "window": {"first": first.isoformat(), "last": last.isoformat()},
    }


def labelled(figures: dict) -> dict:
    """The figures with the open cases by type also as a list, most first, with
    the types' names in the reader's language (the types with none left out)."""
    return {
        **figures,
        "types": [{"key": key, "label": str(TYPE_LABELS[key]), "count": n}
                  for key, n in sorted(figures["open_by_type"].items(),
                                       key=lambda kv: (-kv[1], list(TYPE_LABELS).index(kv[0])))
                  if n],
    }
