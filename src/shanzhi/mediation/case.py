"""The mediation case as a case type of the engine (``cases.registry``): its
tables, and the rules that are its own — who stands in which relation to a
dispute, who is told, what an overdue dispute triggers."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Q
from django.utils.translation import gettext, gettext_lazy

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.accounts.staff import centre_operators, department_members
from shanzhi.cases import engine
from shanzhi.cases.registry import CaseType

from . import workflow as wf
from .models import (
    Centre,
    MediationAttachment,
    MediationCase,
    MediationEntry,
    MediationStage,
    MediationState,
    Route,
)

#: kind → the sentence (msgid) a notification's params fill.
NOTICES = {
    "new": gettext_lazy("New mediation case %(number)s: %(description)s"),
    "assign": gettext_lazy("Mediation case %(number)s was assigned to you: %(description)s"),
    "transfer": gettext_lazy("Mediation case %(number)s was transferred to %(centre)s: "
                             "%(reason)s"),
    "refer_up": gettext_lazy("Mediation case %(number)s was referred up to %(centre)s: "
                             "%(reason)s"),
    "agree": gettext_lazy("Mediation case %(number)s reached an agreement"),
    "refer_out": gettext_lazy("Mediation of %(number)s failed; referred to %(route)s"),
    "follow_up": gettext_lazy("The agreement of mediation case %(number)s does not hold: "
                              "%(note)s"),
    "reopen": gettext_lazy("Mediation case %(number)s was reopened: %(reason)s"),
}

ACTION_LABELS = {
    "register": gettext_lazy("Register the dispute"),
    "assign": gettext_lazy("Assign"), "transfer": gettext_lazy("Transfer to another centre"),
    "refer_up": gettext_lazy("Refer to the level above"),
    "record_session": gettext_lazy("Record a mediation session"),
    "agree": gettext_lazy("Record the agreement"),
    "refer_out": gettext_lazy("Refer out (mediation failed)"),
    "follow_up": gettext_lazy("Follow up"), "close": gettext_lazy("Close the case"),
    "reopen": gettext_lazy("Reopen"), "withdraw": gettext_lazy("Withdrawn by the applicant"),
    "request_extension": gettext_lazy("Ask for an extension"),
    "approve_extension": gettext_lazy("Approve the extension"),
    "refuse_extension": gettext_lazy("Refuse the extension"),
    "supervise": gettext_lazy("Supervise"),
}
FIELD_LABELS = {
    "note": gettext_lazy("Note"), "reason": gettext_lazy("Reason"),
    "assignee": gettext_lazy("Mediator or department"),
    "centre": gettext_lazy("Mediation centre"), "terms": gettext_lazy("Terms"),
    "route": gettext_lazy("Route"), "holds": gettext_lazy("Agreement holds"),
    "amount": gettext_lazy("Extra time"), "unit": gettext_lazy("Unit"),
    "level": gettext_lazy("Supervision level"), "photos": gettext_lazy("Photos"),
}
STAGE_LABELS = {"assign": gettext_lazy("assignment"), "mediate": gettext_lazy("mediation"),
                "follow_up": gettext_lazy("follow-up")}


def limit(case: MediationCase, stage: str) -> dict:
    """The stage's limit, scaled by the dispute's risk (a high risk halves it)."""
    base = wf.LIMITS[stage]
    factor = wf.RISK_FACTOR.get(case.risk_level, 1.0)
    return {"amount": float(base["amount"]) * factor, "unit": base["unit"]}


def visible(scope: Scope):
    """Every dispute the scope reaches: by its place (a grid worker: their
    grids; a handler: what was assigned to their department), and for an
    operator or mediator also what a centre of their territory holds (a
    dispute transferred in from elsewhere) and, for a mediator, what was
    assigned to them."""
    qs = MediationCase.objects.all()
    by_place = scope.filter(qs, grid_field="grid_id", department_field="department_id")
    if scope.unrestricted or scope.role not in (Role.OPERATOR, Role.MEDIATOR) or not scope.paths:
        return by_place
    held = Q(pk__in=scope.filter(qs, path_field="centre__path").values("pk"))
    if scope.role == Role.MEDIATOR:
        held |= Q(mediator_id=scope.user_id)
    return qs.filter(Q(pk__in=by_place.values("pk")) | held)


def _in_territory(path: str, scope: Scope) -> bool:
    return scope.unrestricted or any(path.startswith(p) for p in scope.paths)


def relation_allows(actor: User, case: MediationCase, transition_roles: frozenset[str],
                    scope: Scope | None = None) -> bool:
    """Whether the actor stands in the right relation to this dispute for an
    action open to ``transition_roles`` (the role check is the table's)."""
    if actor.is_superuser:
        return True
    role = actor.role
    if role not in transition_roles:
        return False
    if role == Role.HANDLER:
        return case.department_id is not None and case.department_id == actor.department_id
    if role == Role.MEDIATOR and case.mediator_id is not None:
        return case.mediator_id == actor.pk
    scope = scope or Scope.for_user(actor)
    if role == Role.GRID_WORKER:
        return case.grid_id is not None and scope.grid_ids is not None \
            and case.grid_id in scope.grid_ids
    if role in (Role.OPERATOR, Role.MEDIATOR):  # a centre of their territory holds it
        return _in_territory(case.centre.path, scope)
    if role == Role.CITY_ADMIN:
        return _in_territory(case.centre.path, scope) or scope.covers(case.path)
    return False


def centre_above(centre: Centre) -> Centre | None:
    """The nearest active centre of a region above this centre's, or None."""
    ancestors = [p for p in path_prefixes(centre.path) if p != centre.path]
    return Centre.objects.filter(path__in=ancestors, is_active=True).order_by("-path").first()


def path_prefixes(path: str) -> list[str]:
    """"/1/12/140/" → ["/1/", "/1/12/", "/1/12/140/"]."""
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def guard(action: str, case: MediationCase) -> str | None:
    """Why an action open by the table is still not possible now, or None."""
    if action == "refer_up" and centre_above(case.centre) is None:
        return gettext("No mediation centre above %(centre)s.") % {"centre": case.centre.name}
    if action == "reopen" and not case.terms:
        return gettext("Only a mediation case with an agreement can be reopened.")
    if action == "close" and case.holds is False:
        return gettext("The agreement does not hold: reopen the mediation case instead of "
                       "closing it.")
    return engine.extension_guard(action, case)


def assignees(case: MediationCase) -> list[int]:
    if case.mediator_id:
        return [case.mediator_id]
    return department_members(case.department_id)


def overseers(case: MediationCase) -> list[int]:
    return centre_operators([case.centre.region_id])


def responsible(case: MediationCase) -> list[int]:
    """Who must act now: the mediator or the department once assigned, else
    the holding centre's operators."""
    return assignees(case) or overseers(case)


def on_overdue(case: MediationCase, now: dt.datetime, data: dict) -> tuple[str, list[int]]:
    """A high-risk dispute overdue is supervised at once (counted; the centre
    above is told too); any other is only marked."""
    if case.risk_level != "high":
        return "marked", []
    MediationCase.objects.filter(pk=case.pk).update(supervise_count=F("supervise_count") + 1)
    data["supervised"] = True
    parent = centre_above(case.centre)
    return "supervised", overseers(case) + (
        centre_operators([parent.region_id]) if parent is not None else [])


MEDIATION_CASE = CaseType(
    name="mediation",
    workflow=wf.MEDIATION,
    model=MediationCase, stage_model=MediationStage, entry_model=MediationEntry,
    attachment_model=MediationAttachment, parent="case",
    stage_of_state=wf.STAGE_OF_STATE,
    limit=limit, relation_allows=relation_allows, visible=visible, guard=guard,
    responsible=responsible, assignees=assignees, overseers=overseers, on_overdue=on_overdue,
    page_url=lambda number: f"/mediation/cases/{number}/", api_prefix="mediation/cases",
    action_labels=ACTION_LABELS, state_labels=dict(MediationState.choices),
    stage_labels=STAGE_LABELS, field_labels=FIELD_LABELS, notices=NOTICES,
    param_labels={"route": dict(Route.choices)},
    related=("centre", "region", "grid", "mediator", "department"),
    deferred=("region__geometry", "grid__geometry"),
    messages={
        "role": gettext_lazy("Your role may not take the action “%(action)s” on a mediation "
                             "case."),
        "relation": gettext_lazy("You may not take the action “%(action)s” on this mediation "
                                 "case."),
        "state": gettext_lazy("The action “%(action)s” is not possible on a mediation case "
                              "that is %(state)s."),
        "stale": gettext_lazy("Someone else changed this mediation case first; reload and try "
                              "again."),
        "not_found": gettext_lazy("No mediation case %(id)s in your territory."),
        "key_reused": gettext_lazy("This Idempotency-Key was used for another request, "
                                   "already registered as mediation case %(number)s."),
    },
)
