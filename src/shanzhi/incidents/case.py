"""The incident as a case type of the engine (``cases.registry``): its table,
its tables, and the rules that are its own — who stands in which relation to
an incident, who is told, what an overdue incident triggers."""

from __future__ import annotations

import datetime as dt

from django.db.models import F
from django.utils.translation import gettext, gettext_lazy

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.accounts.staff import centre_operators, department_members
from shanzhi.cases import engine
from shanzhi.cases.registry import CaseType
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Region

from . import notices
from . import workflow as wf
from .models import Attachment, Incident, IncidentStage, TimelineEntry

#: Limits for incidents registered without a category (classified later).
DEFAULT_LIMITS = {"accept": {"amount": 1, "unit": "working_hours"},
                  "dispatch": {"amount": 1, "unit": "working_hours"},
                  "sign": {"amount": 1, "unit": "working_hours"},
                  "handle": {"amount": 5, "unit": "working_days"},
                  "verify": {"amount": 1, "unit": "working_days"}}
SATISFACTION = {"satisfied": 3, "basically_satisfied": 2, "dissatisfied": 1}


def limit(incident: Incident, stage: str) -> dict:
    """The stage's limit under the category's rules, scaled by the urgency's factor."""
    rules = incident.rules
    limits = (rules.limits if rules else None) or DEFAULT_LIMITS
    base = limits.get(stage) or DEFAULT_LIMITS[stage]
    factor = 1.0
    for level in (rules.urgencies if rules else []):
        if level.get("code") == incident.urgency:
            factor = float(level.get("factor", 1.0))
    return {"amount": float(base["amount"]) * factor, "unit": base["unit"]}


def visible(scope: Scope):
    """Every incident the scope reaches: a grid worker's grids, a department's
    cases, an operator's or viewer's territory."""
    return scope.filter(Incident.objects.all(), grid_field="grid_id",
                        department_field="department_id")


def relation_allows(actor: User, incident: Incident, transition_roles: frozenset[str],
                    scope: Scope | None = None) -> bool:
    """Whether the actor stands in the right relation to this incident for an
    action open to ``transition_roles`` (the role check is the table's).
    ``scope`` saves its queries when the caller has it already."""
    if actor.is_superuser:
        return True
    role = actor.role
    if role not in transition_roles:
        return False
    if role == Role.HANDLER:
        return incident.department_id is not None and incident.department_id == actor.department_id
    if role == Role.GRID_WORKER and incident.grid_id is None:
        return False
    scope = scope or Scope.for_user(actor)
    if not scope.covers(incident.path, incident.grid_id):
        return False
    if role == Role.OPERATOR:  # held by the operator's centre or one below it
        return any(incident.holder.path.startswith(p) for p in scope.paths)
    return role in (Role.CITY_ADMIN, Role.GRID_WORKER)


def guard(action: str, incident: Incident) -> str | None:
    """Why an action open by the table is still not possible now, or None."""
    if action == "reopen" and incident.satisfaction != SATISFACTION["dissatisfied"]:
        return gettext("Only an incident whose call-back was dissatisfied can be reopened.")
    if action == "assign_down" and (incident.path == incident.holder.path
                                    or not incident.path.startswith(incident.holder.path)):
        return gettext("No lower linkage centre covers the incident's place.")
    if action == "escalate" and incident.holder.parent_id is None:
        return gettext("The incident is already at the top level.")
    return engine.extension_guard(action, incident)


def centre_above(region: Region) -> Region | None:
    """The linkage centre above this one (without its boundary), or None at the top."""
    if region.parent_id is None:
        return None
    return (get_index().region(region.parent_id)
            or Region.objects.defer("geometry").get(pk=region.parent_id))


def assignees(incident: Incident) -> list[int]:
    return department_members(incident.department_id)


def overseers(incident: Incident) -> list[int]:
    return centre_operators([incident.holder_id])


def responsible(incident: Incident) -> list[int]:
    """Who must act now: the department in its stages, else the holding centre."""
    if incident.department_id and incident.state in (wf.DISPATCHED, wf.IN_PROGRESS):
        return department_members(incident.department_id)
    return centre_operators([incident.holder_id])


def on_overdue(incident: Incident, now: dt.datetime, data: dict) -> tuple[str, list[int]]:
    """The category's ``on_overdue`` rule: notify (the sweep's default),
    supervise (counted, the centre above told) or escalate (a case still with
    its linkage centre passes to the one above, with a fresh deadline for its
    stage; the late one stays on record, red)."""
    rule = incident.rules.on_overdue if incident.rules else "notify"
    data["rule"] = rule
    parent = centre_above(incident.holder)
    also = centre_operators([parent.pk]) if rule in ("supervise", "escalate") and parent else []
    if rule == "supervise":
        Incident.objects.filter(pk=incident.pk).update(supervise_count=F("supervise_count") + 1)
        data["supervised"] = True
        return "supervised", also
    if rule == "escalate" and parent is not None and incident.state in (wf.REPORTED,
                                                                       wf.REGISTERED):
        # a new holder: bump the version, so that the old one's stale page conflicts
        stage_fields, stage = engine.next_stage(INCIDENT_CASE, incident, incident.state, now)
        engine.close_stage(INCIDENT_CASE, incident, now)
        if stage is not None:
            stage.save(force_insert=True)
        Incident.objects.filter(pk=incident.pk).update(
            holder=parent, version=F("version") + 1, escalate_count=F("escalate_count") + 1,
            **stage_fields)
        data["escalated_to"] = parent.code
        return "escalated", also
    return "marked", also


INCIDENT_CASE = CaseType(
    name="incident",
    workflow=wf.INCIDENT,
    model=Incident, stage_model=IncidentStage, entry_model=TimelineEntry,
    attachment_model=Attachment, parent="incident",
    stage_of_state=wf.STAGE_OF_STATE,
    limit=limit, relation_allows=relation_allows, visible=visible, guard=guard,
    responsible=responsible, assignees=assignees, overseers=overseers, on_overdue=on_overdue,
    page_url=lambda number: f"/incidents/{number}/", api_prefix="incidents",
    action_labels=notices.ACTION_LABELS, state_labels=notices.STATE_LABELS,
    stage_labels=notices.STAGE_LABELS, field_labels=notices.FIELD_LABELS,
    notices=notices.TEMPLATES,
    related=("holder", "department", "rules", "category", "grid", "region"),
    deferred=("holder__geometry", "region__geometry", "grid__geometry"),
    messages={
        "role": gettext_lazy("Your role may not take the action “%(action)s” on an incident."),
        "relation": gettext_lazy("You may not take the action “%(action)s” on this incident."),
        "state": gettext_lazy("The action “%(action)s” is not possible on an incident that is "
                              "%(state)s."),
        "stale": gettext_lazy("Someone else changed this incident first; reload and try "
                              "again."),
        "not_found": gettext_lazy("No incident %(id)s in your territory."),
        "key_reused": gettext_lazy("This Idempotency-Key was used for another report, already "
                                   "registered as %(number)s."),
    },
)
