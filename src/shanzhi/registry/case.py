"""The follow-up task as a case type of the engine (``cases.registry``):
its tables, and the rules that are its own — the grid worker it was given
to does it, the territory's operators oversee it, and its limit is the
follow-up rule's number of working days."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.accounts.staff import centre_operators
from shanzhi.cases import engine
from shanzhi.cases.registry import CaseType

from . import selectors
from . import workflow as wf
from .models import Finding, Visit, VisitAttachment, VisitEntry, VisitKind, VisitStage, VisitState

NOTICES = {
    "new": gettext_lazy("Follow-up %(number)s is due: %(description)s"),
    "reassign": gettext_lazy("Follow-up %(number)s was given to you: %(description)s"),
    "alert": gettext_lazy("Follow-up %(number)s needs action: %(note)s"),
}

ACTION_LABELS = {
    "create": gettext_lazy("Plan the follow-up"),
    "record": gettext_lazy("Record the visit"),
    "reassign": gettext_lazy("Give to another grid worker"),
    "cancel": gettext_lazy("Cancel"),
    "request_extension": gettext_lazy("Ask for an extension"),
    "approve_extension": gettext_lazy("Approve the extension"),
    "refuse_extension": gettext_lazy("Refuse the extension"),
    "supervise": gettext_lazy("Supervise"),
}
FIELD_LABELS = {
    "note": gettext_lazy("Note"), "reason": gettext_lazy("Reason"),
    "assignee": gettext_lazy("Grid worker"), "finding": gettext_lazy("Finding"),
    "amount": gettext_lazy("Extra time"), "unit": gettext_lazy("Unit"),
    "level": gettext_lazy("Supervision level"), "photos": gettext_lazy("Photos"),
    "lng": gettext_lazy("Longitude"), "lat": gettext_lazy("Latitude"),
    "permit_expires": gettext_lazy("Permit valid until"),
}
STAGE_LABELS = {"visit": gettext_lazy("visit")}


def limit(case: Visit, stage: str) -> dict:
    """The working days the follow-up rule gave this task."""
    return {"amount": case.interval, "unit": "working_days"}


def visible(scope: Scope):
    """Every task the scope reaches by its grid, scoped as every registry
    table is (``selectors.visible``: handlers and mediators see none)."""
    return selectors.visible(scope, Visit)


def relation_allows(actor: User, case: Visit, transition_roles: frozenset[str],
                    scope: Scope | None = None) -> bool:
    """A grid worker acts on the tasks of their own grids; an operator or
    the city admin on those of their territory."""
    if actor.is_superuser:
        return True
    if actor.role not in transition_roles:
        return False
    scope = scope or Scope.for_user(actor)
    return scope.covers(case.path, case.grid_id)


def guard(action: str, case: Visit) -> str | None:
    return engine.extension_guard(action, case)


def assignees(case: Visit) -> list[int]:
    return [case.worker_id] if case.worker_id else []


def overseers(case: Visit) -> list[int]:
    """The operators of the grid's community, town and district centres."""
    region_ids = [int(part) for part in case.path.strip("/").split("/") if part]
    return centre_operators(region_ids)


def responsible(case: Visit) -> list[int]:
    return assignees(case) or overseers(case)


VISIT_CASE = CaseType(
    name="visit",
    workflow=wf.VISIT,
    model=Visit, stage_model=VisitStage, entry_model=VisitEntry,
    attachment_model=VisitAttachment, parent="case",
    stage_of_state=wf.STAGE_OF_STATE,
    limit=limit, relation_allows=relation_allows, visible=visible, guard=guard,
    responsible=responsible, assignees=assignees, overseers=overseers,
    page_url=lambda number: f"/registry/visits/{number}/", api_prefix="registry/visits",
    action_labels=ACTION_LABELS, state_labels=dict(VisitState.choices),
    stage_labels=STAGE_LABELS, field_labels=FIELD_LABELS, notices=NOTICES,
    param_labels={"finding": dict(Finding.choices), "kind": dict(VisitKind.choices)},
    related=("grid", "person", "member", "place", "worker"),
    deferred=("grid__geometry",),
    messages={
        "role": gettext_lazy("Your role may not take the action “%(action)s” on a follow-up."),
        "relation": gettext_lazy("You may not take the action “%(action)s” on this follow-up."),
        "state": gettext_lazy("The action “%(action)s” is not possible on a follow-up that is "
                              "%(state)s."),
        "stale": gettext_lazy("Someone else changed this follow-up first; reload and try "
                              "again."),
        "not_found": gettext_lazy("No follow-up %(id)s in your territory."),
        "key_reused": gettext_lazy("This Idempotency-Key was used for another request, "
                                   "already recorded as follow-up %(number)s."),
    },
)
