"""The sweep over every registered case type: chunked, idempotent, safe with
several workers.

Each case is claimed with a compare-and-set on its flag (``warned`` or
``overdue``) and its current deadline, so two workers never act twice and a
stage that moved on in the meantime is left alone. The sweep only acts on
what is due at ``now``; running it again does nothing new. Besides marking,
an overdue case triggers what its type says (``CaseType.on_overdue``:
supervise, escalate …).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from . import engine, hooks
from .registry import CaseType, case_types

log = logging.getLogger(__name__)
CHUNK = 500


def plan(*, now: dt.datetime | None = None) -> dict[str, int]:
    """What the apps plan before each sweep (``hooks.sweeping``: the
    registry's follow-up visits), with the counts they return; a failing
    receiver is logged and the others go on. ``shanzhi worker`` and the
    server's embedded loop both run it before ``sweep``."""
    counts: dict[str, int] = {}
    for receiver, result in hooks.sweeping.send_robust(sender=None,
                                                       now=now or timezone.now()):
        if isinstance(result, Exception):
            log.error("planning by %r failed", receiver, exc_info=result)
        elif result:
            counts.update(result)
    return counts


def sweep(*, now: dt.datetime | None = None, chunk: int = CHUNK) -> dict[str, int]:
    """Mark yellow (warned) and red (overdue) cases of every type, notify, and
    act per each type's rule. Returns counts of what this call did."""
    now = now or timezone.now()
    counts = {"warned": 0, "overdue": 0, "supervised": 0, "escalated": 0}
    for kind in case_types().values():
        for name, n in sweep_type(kind, now=now, chunk=chunk).items():
            counts[name] = counts.get(name, 0) + n
    return counts


def sweep_type(kind: CaseType, *, now: dt.datetime, chunk: int = CHUNK) -> dict[str, int]:
    counts = {"warned": 0, "overdue": 0, "supervised": 0, "escalated": 0}
    live = kind.model.objects.filter(state__in=sorted(kind.open_states))
    while True:
        ids = list(live.filter(warned=False, overdue=False, warn_at__lte=now, due_at__gt=now)
                   .order_by("warn_at").values_list("id", flat=True)[:chunk])
        if not ids:
            break
        for pk in ids:
            counts["warned"] += _warn(kind, pk, now)
    while True:
        ids = list(live.filter(overdue=False, due_at__lte=now)
                   .order_by("due_at").values_list("id", flat=True)[:chunk])
        if not ids:
            break
        for pk in ids:
            outcome = _mark_overdue(kind, pk, now)
            if outcome:
                counts["overdue"] += 1
                if outcome in counts:
                    counts[outcome] += 1
    return counts


def _warn(kind: CaseType, pk: int, now: dt.datetime) -> int:
    with transaction.atomic():
        case = kind.model.objects.filter(pk=pk).first()
        if case is None:
            return 0
        claimed = kind.model.objects.filter(pk=pk, warned=False, due_at=case.due_at,
                                            state=case.state).update(warned=True)
        if not claimed:
            return 0
        hooks.lights_changed.send(kind.model, case=case, before=(False, False),
                                  after=(True, False))
        kind.entry_model.objects.create(**{kind.parent: case}, action="warn", actor=None,
                                        at=now, from_state=case.state, to_state=case.state,
                                        data={"stage": case.stage,
                                              "due_at": case.due_at.isoformat()})
        engine.notify(kind, user_ids=kind.responsible(case), case=case, what="warn",
                      params={"number": kind.number(case), "stage": case.stage}, now=now)
    return 1


def _mark_overdue(kind: CaseType, pk: int, now: dt.datetime) -> str:
    """'' if another worker (or a state change) got there first, else what was done."""
    with transaction.atomic():
        case = (kind.model.objects.select_related(*kind.related).defer(*kind.deferred)
                .filter(pk=pk).first())
        if case is None or case.due_at is None:
            return ""
        # the flags as read, so that a warning marked meanwhile fails the claim
        # (and the next round marks the case again): the rollups count from them
        claimed = kind.model.objects.filter(pk=pk, overdue=False, warned=case.warned,
                                            due_at=case.due_at, state=case.state,
                                            ).update(overdue=True, warned=True)
        if not claimed:
            return ""
        kind.stage_model.objects.filter(**{f"{kind.parent}_id": pk},
                                        ended_at__isnull=True).update(overdue=True)
        data: dict = {"stage": case.stage, "due_at": case.due_at.isoformat()}
        recipients = kind.responsible(case)
        warned_before = case.warned
        # what the type does besides: "escalated" moved the case to a new stage
        # (no lights yet); it may tell more people
        done, also = kind.on_overdue(case, now, data)
        recipients += also
        after = (False, False) if done == "escalated" else (True, True)
        hooks.lights_changed.send(kind.model, case=case, before=(warned_before, False),
                                  after=after)
        kind.entry_model.objects.create(**{kind.parent: case}, action="overdue", actor=None,
                                        at=now, from_state=case.state, to_state=case.state,
                                        data=data)
        engine.notify(kind, user_ids=recipients, case=case, what="overdue",
                      params={"number": kind.number(case), "stage": case.stage}, now=now)
    return done
