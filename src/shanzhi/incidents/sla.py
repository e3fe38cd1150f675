"""The overdue sweep: chunked, idempotent, safe with several workers.

Each incident is claimed with a compare-and-set on its flag (``warned`` or
``overdue``) and its current deadline, so two workers never act twice and a
stage that moved on in the meantime is left alone. The sweep only acts on
what is due at ``now``; running it again does nothing new.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shanzhi.accounts.staff import centre_operators, department_members
from shanzhi.analytics import rollups

from . import workflow as wf
from .models import Incident, IncidentStage, TimelineEntry
from .services import _close_stage, _next_stage, centre_above, notify

log = logging.getLogger(__name__)
CHUNK = 500


def sweep(*, now: dt.datetime | None = None, chunk: int = CHUNK) -> dict[str, int]:
    """Mark yellow (warned) and red (overdue) incidents, notify, and act per the
    category's ``on_overdue`` rule. Returns counts of what this call did."""
    now = now or timezone.now()
    counts = {"warned": 0, "overdue": 0, "supervised": 0, "escalated": 0}
    while True:
        ids = list(Incident.objects.filter(state__in=wf.OPEN_STATES, warned=False,
                                           overdue=False, warn_at__lte=now, due_at__gt=now)
                   .order_by("warn_at").values_list("id", flat=True)[:chunk])
        if not ids:
            break
        for pk in ids:
            counts["warned"] += _warn(pk, now)
    while True:
        ids = list(Incident.objects.filter(state__in=wf.OPEN_STATES, overdue=False,
                                           due_at__lte=now)
                   .order_by("due_at").values_list("id", flat=True)[:chunk])
        if not ids:
            break
        for pk in ids:
            outcome = _mark_overdue(pk, now)
            if outcome:
                counts["overdue"] += 1
                if outcome in counts:
                    counts[outcome] += 1
    return counts


def _warn(pk: int, now: dt.datetime) -> int:
    with transaction.atomic():
        incident = Incident.objects.filter(pk=pk).first()
        if incident is None:
            return 0
        claimed = Incident.objects.filter(pk=pk, warned=False, due_at=incident.due_at,
                                          state=incident.state).update(warned=True)
        if not claimed:
            return 0
        rollups.lights_changed(incident, before=(False, False), after=(True, False))
        TimelineEntry.objects.create(incident=incident, action="warn", actor=None, at=now,
                                     from_state=incident.state, to_state=incident.state,
                                     data={"stage": incident.stage,
                                           "due_at": incident.due_at.isoformat()})
        notify(user_ids=_responsible(incident), incident=incident, kind="warn",
               params={"number": incident.number, "stage": incident.stage}, now=now)
    return 1


def _mark_overdue(pk: int, now: dt.datetime) -> str:
    """'' if another worker (or a state change) got there first, else what was done."""
    with transaction.atomic():
        incident = (Incident.objects.select_related("rules", "holder")
                    .defer("holder__geometry").filter(pk=pk).first())
        if incident is None or incident.due_at is None:
            return ""
        # the flags as read, so that a warning marked meanwhile fails the claim
        # (and the next round marks the incident again): the rollups count from them
        claimed = Incident.objects.filter(pk=pk, overdue=False, warned=incident.warned,
                                          due_at=incident.due_at, state=incident.state,
                                          ).update(overdue=True, warned=True)
        if not claimed:
            return ""
        lights = (True, True)
        IncidentStage.objects.filter(incident=incident, ended_at__isnull=True).update(
            overdue=True)
        rule = incident.rules.on_overdue if incident.rules else "notify"
        done = "marked"
        data: dict = {"stage": incident.stage, "due_at": incident.due_at.isoformat(),
                      "rule": rule}
        recipients = _responsible(incident)
        parent = centre_above(incident.holder)
        if rule in ("supervise", "escalate") and parent is not None:
            recipients += centre_operators([parent.pk])
        if rule == "supervise":
            Incident.objects.filter(pk=pk).update(supervise_count=F("supervise_count") + 1)
            data["supervised"] = True
            done = "supervised"
        elif rule == "escalate" and parent is not None and incident.state in (
                wf.REPORTED, wf.REGISTERED):
            # still with the linkage centre: pass it to the one above, with a
            # fresh deadline for its stage (the late one stays on record, red);
            # a new holder: bump the version, so that the old one's stale page conflicts
            stage_fields, stage = _next_stage(incident, incident.state, now)
            _close_stage(incident, now)
            if stage is not None:
                stage.save(force_insert=True)
            Incident.objects.filter(pk=pk).update(holder=parent, version=F("version") + 1,
                                                  escalate_count=F("escalate_count") + 1,
                                                  **stage_fields)
            lights = (stage_fields["warned"], stage_fields["overdue"])
            data["escalated_to"] = parent.code
            done = "escalated"
        rollups.lights_changed(incident, before=(incident.warned, False), after=lights)
        TimelineEntry.objects.create(incident=incident, action="overdue", actor=None, at=now,
                                     from_state=incident.state, to_state=incident.state,
                                     data=data)
        notify(user_ids=recipients, incident=incident, kind="overdue",
               params={"number": incident.number, "stage": incident.stage}, now=now)
    return done


def _responsible(incident: Incident) -> list[int]:
    """Who must act now: the department in its stages, else the holding centre."""
    if incident.department_id and incident.state in (wf.DISPATCHED, wf.IN_PROGRESS):
        return department_members(incident.department_id)
    return centre_operators([incident.holder_id])

