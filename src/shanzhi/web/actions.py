"""The words and forms of the workflow actions on the pages.

Which actions a user may take now comes from
``incidents.services.available_actions``; which fields each one takes from
``incidents.actions.ACTION_FIELDS`` and the workflow table's ``requires``. This
module only names them in the user's language and says how to draw them
(their forms are ``web/case.py``'s, as any case type's)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shanzhi.cases import notices as case_notices
from shanzhi.incidents import notices
from shanzhi.incidents.actions import ACTION_FIELDS, PHOTO_ACTIONS
from shanzhi.incidents.case import INCIDENT_CASE

from . import case as case_page

#: Every timeline action, including intake and the overdue sweep's.
ACTION_LABELS = notices.ACTION_LABELS

FIELD_LABELS = notices.FIELD_LABELS
#: Where one action names a field more precisely.
FIELD_LABELS_BY_ACTION = {
    ("reject", "reason"): _("Why the report is rejected"),
    ("escalate", "reason"): _("Why it goes up a level"),
    ("return", "reason"): _("Why it is returned"),
    ("verify_fail", "reason"): _("What is still wrong"),
    ("refuse_extension", "reason"): _("Why the extension is refused"),
    ("reopen", "reason"): _("Why it is reopened"),
    ("request_extension", "reason"): _("Why more time is needed"),
    ("report_result", "result"): _("What was done"),
    ("self_resolve", "result"): _("What was done"),
    ("supervise", "note"): _("Instruction"),
    ("callback", "note"): _("What the citizen said"),
}
#: Selects whose first choice is the service's default.
DEFAULTED = {"unit", "level"}
UNITS = tuple(case_notices.UNIT_LABELS.items())
LEVELS = (("yellow", _("Yellow card")), ("red", _("Red card")), ("black", _("Black card")))
#: The urgency levels of the seed taxonomy (a category's rules may name others).
URGENCIES = {"normal": _("Normal"), "urgent": _("Urgent"), "critical": _("Critical")}
#: The stored satisfaction score → its words.
SATISFACTION_SCORES = {3: _("Satisfied"), 2: _("Basically satisfied"), 1: _("Dissatisfied")}
SATISFACTION = (("satisfied", _("Satisfied")), ("basically_satisfied", _("Basically satisfied")),
                ("dissatisfied", _("Dissatisfied")))
#: The incident's counters (``<name>_count``), named.
COUNTERS = {"return": _("returned"), "rework": _("reworked"), "supervise": _("supervised"),
            "extension": _("extended"), "escalate": _("escalated"), "reopen": _("reopened")}
#: The usual next step of each state: drawn first and open.
PRIMARY = {"accept", "dispatch", "sign", "report_result", "verify_pass", "approve_extension",
           "callback", "self_resolve"}
DANGER = {"reject", "return", "verify_fail", "refuse_extension", "reopen"}
SUCCESS = {
    "accept": _("Accepted and registered."),
    "reject": _("The report was rejected."),
    "merge": _("Merged as a duplicate."),
    "self_resolve": _("Closed as resolved on the spot."),
    "assign_down": _("Assigned to the lower centre."),
    "dispatch": _("Dispatched."),
    "escalate": _("Escalated to the level above."),
    "sign": _("Signed for: the incident is now in progress."),
    "return": _("Returned to the dispatcher."),
    "report_result": _("The result was reported; it now waits for verification."),
    "verify_pass": _("Verified and closed."),
    "verify_fail": _("Sent back for rework."),
    "request_extension": _("The extension was asked for."),
    "approve_extension": _("The extension was approved."),
    "refuse_extension": _("The extension was refused."),
    "supervise": _("Supervision recorded: the department and the centre were told."),
    "callback": _("The call-back was recorded."),
    "reopen": _("Reopened: the incident is registered again."),
}


#: How each field is drawn (web/case.py's kinds); ``photos`` on the actions
#: that take evidence.
WIDGETS = {"note": case_page.TEXTAREA, "reason": case_page.TEXTAREA,
           "result": case_page.TEXTAREA, "amount": case_page.NUMBER, "original": case_page.TEXT,
           "department": case_page.SELECT, "region": case_page.SELECT,
           "category": case_page.SELECT, "unit": case_page.SELECT, "level": case_page.SELECT,
           "satisfaction": case_page.SELECT, "photos": case_page.FILE}
PLACEHOLDERS = {"original": "SJ…"}


def tone(action: str) -> str:
    return "primary" if action in PRIMARY else "danger" if action in DANGER else "plain"


def action_form_class(action: str, choices: dict | None = None) -> type[case_page.ActionForm]:
    """The form of ``action``; ``choices`` gives the choices that depend on the
    incident (``department``, ``region``, ``category``)."""
    fields = [*ACTION_FIELDS[action], *(["photos"] if action in PHOTO_ACTIONS else [])]
    return case_page.action_form_class(
        INCIDENT_CASE, action, fields, widgets=WIDGETS,
        choices={"unit": UNITS, "level": LEVELS, "satisfaction": SATISFACTION,
                 **(choices or {})},
        labels={**FIELD_LABELS, **FIELD_LABELS_BY_ACTION}, tone=tone(action),
        defaulted=DEFAULTED, placeholders=PLACEHOLDERS)
