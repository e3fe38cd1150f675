"""The words and forms of the workflow actions on the pages.

Which actions a user may take now comes from
``incidents.services.available_actions``; which fields each one takes from
``incidents.api.ACTION_FIELDS`` and the workflow table's ``requires``. This
module only names them in the user's language and says how to draw them."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from shanzhi.incidents import notices
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.api import ACTION_FIELDS, PHOTO_ACTIONS
from shanzhi.incidents.services import ACTION_TEXTS

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
TEXTAREAS = {"note", "reason", "result"}
#: Selects whose first choice is the service's default.
DEFAULTED = {"unit", "level"}
UNITS = tuple(notices.UNIT_LABELS.items())
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


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: str  # textarea, select, text, number, file
    required: bool
    choices: tuple = ()
    #: A select's empty first option: "choose" (required), "none" (optional) or "" (none:
    #: the first choice is the default).
    blank: str = ""
    #: A text's longest length, as the service allows it (0: none stated).
    max_length: int = 0


@dataclass(frozen=True)
class ActionSpec:
    action: str
    label: str
    tone: str  # primary, danger or plain
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)

    @property
    def multipart(self) -> bool:
        return any(f.widget == "file" for f in self.fields)


def _widget(name: str) -> str:
    if name in TEXTAREAS:
        return "textarea"
    if name == "amount":
        return "number"
    if name == "original":
        return "text"
    return "select"


def _blank(name: str, required: bool) -> str:
    if _widget(name) != "select" or name in DEFAULTED:
        return ""
    return "choose" if required else "none"


def _choices(name: str, options: dict) -> tuple:
    fixed = {"unit": UNITS, "level": LEVELS, "satisfaction": SATISFACTION}
    return tuple(fixed.get(name) or options.get(name) or ())


def action_spec(action: str, options: dict | None = None) -> ActionSpec:
    """How to draw ``action``'s form; ``options`` gives the choices that
    depend on the incident (``department``, ``region``, ``category``)."""
    options = options or {}
    requires = set(wf.INCIDENT.transition(action).requires)
    fields = [FieldSpec(name=name,
                        label=FIELD_LABELS_BY_ACTION.get((action, name), FIELD_LABELS[name]),
                        widget=_widget(name), required=name in requires,
                        choices=_choices(name, options), blank=_blank(name, name in requires),
                        max_length=ACTION_TEXTS[name][0] if name in ACTION_TEXTS else 0)
              for name in ACTION_FIELDS[action]]
    if action in PHOTO_ACTIONS:
        fields.append(FieldSpec("photos", FIELD_LABELS["photos"], "file", required=False))
    tone = "primary" if action in PRIMARY else "danger" if action in DANGER else "plain"
    return ActionSpec(action=action, label=ACTION_LABELS[action], tone=tone,
                      fields=tuple(fields))


def action_specs(actions: list[str], options: dict | None = None) -> list[ActionSpec]:
    """The forms of the actions available now, the usual next step first."""
    specs = [action_spec(a, options) for a in actions]
    return sorted(specs, key=lambda s: {"primary": 0, "plain": 1, "danger": 2}[s.tone])
