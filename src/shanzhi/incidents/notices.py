"""The words of incidents: what their notifications say (over the sentences
every case shares, ``cases.notices``), and the names of their actions,
states, fields and stages (the same msgids as the pages', so one translation
serves both the services' messages and the pages)."""

from __future__ import annotations

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
    "reopen": gettext_lazy("%(number)s was reopened after a dissatisfied call-back"),
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

#: State names.
STATE_LABELS = dict(State.choices)
