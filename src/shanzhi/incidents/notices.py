"""What a notification says, rendered when it is read, in the reader's language.

A notification stores what happened — its ``kind`` (the workflow action, or
``new``, ``warn``, ``overdue``) and its ``params`` (the incident number, the
text excerpt, the centre, the reason, the actor …) — never a sentence built
when it was written (the saleor idea: a typed record rendered at read time).
:func:`render` turns the record into the text of the language active now
(the request's, through LocaleMiddleware; English msgids in the code).

The names of actions and states used by the services' error messages live
here too (the same msgids as the pages', so one translation serves both).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext_lazy

from .models import State

#: kind → the sentence (msgid) its params fill.
TEMPLATES = {
    "new": gettext_lazy("New incident %(number)s: %(description)s"),
    "assign_down": gettext_lazy("%(number)s was assigned down by %(holder)s"),
    "dispatch": gettext_lazy("New dispatch %(number)s: %(description)s"),
    "escalate": gettext_lazy("%(number)s was escalated to %(centre)s: %(reason)s"),
    "return": gettext_lazy("%(number)s was returned: %(reason)s"),
    "report_result": gettext_lazy("%(number)s was handled and waits for verification"),
    "verify_pass": gettext_lazy("%(number)s passed verification and is closed"),
    "verify_fail": gettext_lazy("%(number)s failed verification, back to rework: %(reason)s"),
    "request_extension": gettext_lazy("%(number)s asks for an extension of %(amount)s "
                                      "%(unit)s"),
    "approve_extension": gettext_lazy("The extension of %(number)s was approved"),
    "refuse_extension": gettext_lazy("The extension of %(number)s was refused: %(reason)s"),
    "supervise": gettext_lazy("%(number)s is supervised: %(note)s"),
    "reopen": gettext_lazy("%(number)s was reopened after a dissatisfied call-back"),
    "warn": gettext_lazy("%(number)s is nearly due (%(stage)s)"),
    "overdue": gettext_lazy("%(number)s is overdue (%(stage)s)"),
}

#: Every timeline action (the same msgids as ``web.actions.ACTION_LABELS``).
ACTION_LABELS = {
    "report": gettext_lazy("Report received"),
    "accept": gettext_lazy("Accept and register"),
    "reject": gettext_lazy("Reject the report"),
    "merge": gettext_lazy("Merge as a duplicate"),
    "self_resolve": gettext_lazy("Resolved on the spot"),
    "assign_down": gettext_lazy("Assign to a lower centre"),
    "dispatch": gettext_lazy("Dispatch"),
    "escalate": gettext_lazy("Escalate"),
    "sign": gettext_lazy("Sign for it"),
    "return": gettext_lazy("Return to the dispatcher"),
    "report_result": gettext_lazy("Report the result"),
    "verify_pass": gettext_lazy("Verified: close"),
    "verify_fail": gettext_lazy("Verification failed: rework"),
    "request_extension": gettext_lazy("Ask for an extension"),
    "approve_extension": gettext_lazy("Approve the extension"),
    "refuse_extension": gettext_lazy("Refuse the extension"),
    "supervise": gettext_lazy("Supervise"),
    "callback": gettext_lazy("Record the call-back"),
    "reopen": gettext_lazy("Reopen"),
}

#: The fields an action asks for (the same msgids as ``web.actions.FIELD_LABELS``).
FIELD_LABELS = {
    "note": gettext_lazy("Note"), "reason": gettext_lazy("Reason"),
    "result": gettext_lazy("Result"), "department": gettext_lazy("Department"),
    "region": gettext_lazy("Lower linkage centre"),
    "original": gettext_lazy("Number of the original incident"),
    "category": gettext_lazy("Category"), "amount": gettext_lazy("Extra time"),
    "unit": gettext_lazy("Unit"), "level": gettext_lazy("Supervision level"),
    "satisfaction": gettext_lazy("Satisfaction"), "photos": gettext_lazy("Photos"),
}

#: Stage names (the same msgids as ``web.timeline.STAGES``).
STAGE_LABELS = {"accept": gettext_lazy("acceptance"), "dispatch": gettext_lazy("dispatch"),
                "sign": gettext_lazy("signing"), "handle": gettext_lazy("handling"),
                "verify": gettext_lazy("verification")}

#: Units of a time limit (the same msgids as ``web.actions.UNITS``).
UNIT_LABELS = {"working_days": gettext_lazy("working days"),
               "working_hours": gettext_lazy("working hours"),
               "natural_hours": gettext_lazy("hours")}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def field_label(field: str) -> str:
    return str(FIELD_LABELS.get(field, field))


def state_label(state: str) -> str:
    try:
        return str(State(state).label)
    except ValueError:
        return state


class _Params(dict):
    """The stored params, a blank for any the sentence names but the record lacks."""

    def __missing__(self, key: str) -> str:
        return ""


def render(kind: str, params: Mapping | None, fallback: str = "") -> str:
    """The text of a notification of ``kind`` with ``params`` in the active
    language; ``fallback`` (the text of a row written before notifications
    were records) when there is no sentence for it."""
    template = TEMPLATES.get(kind)
    if template is None or not params:
        return fallback or kind
    values = _Params({key: "" if value is None else value for key, value in params.items()})
    if "unit" in values:
        values["unit"] = str(UNIT_LABELS.get(values["unit"], values["unit"]))
    if "stage" in values:
        values["stage"] = str(STAGE_LABELS.get(values["stage"], values["stage"]))
    if isinstance(values.get("amount"), int | float):
        values["amount"] = f"{values['amount']:g}"
    return str(template) % values
