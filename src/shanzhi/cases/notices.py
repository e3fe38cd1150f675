"""What a notification says, rendered when it is read, in the reader's language.

A notification stores what happened — its ``kind`` (the workflow action, or
``new``, ``warn``, ``overdue``) and its ``params`` (the case number, the
text excerpt, the centre, the reason, the actor …) — never a sentence built
when it was written. :func:`render` turns the record into the text of the
language active now, with the sentences of the case's type
(``CaseType.notices``) over the ones every case shares (``TEMPLATES``).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext_lazy

from .registry import case_types

#: The sentences of what happens to every case (the engine's actions and the sweep).
TEMPLATES = {
    "request_extension": gettext_lazy("%(number)s asks for an extension of %(amount)s "
                                      "%(unit)s"),
    "approve_extension": gettext_lazy("The extension of %(number)s was approved"),
    "refuse_extension": gettext_lazy("The extension of %(number)s was refused: %(reason)s"),
    "supervise": gettext_lazy("%(number)s is supervised: %(note)s"),
    "warn": gettext_lazy("%(number)s is nearly due (%(stage)s)"),
    "overdue": gettext_lazy("%(number)s is overdue (%(stage)s)"),
}

#: Units of a time limit.
UNIT_LABELS = {"working_days": gettext_lazy("working days"),
               "working_hours": gettext_lazy("working hours"),
               "natural_hours": gettext_lazy("hours")}


class _Params(dict):
    """The stored params, a blank for any the sentence names but the record lacks."""

    def __missing__(self, key: str) -> str:
        return ""


def render(case_type: str, kind: str, params: Mapping | None, fallback: str = "") -> str:
    """The text of a notification of ``kind`` with ``params`` in the active
    language; ``fallback`` (the text of a row written before notifications
    were records) when there is no sentence for it."""
    registered = case_types().get(case_type)
    own = registered.notices if registered else {}
    template = own.get(kind) or TEMPLATES.get(kind)
    if template is None or not params:
        return fallback or kind
    values = _Params({key: "" if value is None else value for key, value in params.items()})
    if "unit" in values:
        values["unit"] = str(UNIT_LABELS.get(values["unit"], values["unit"]))
    if registered:
        for name, labels in {"stage": registered.stage_labels,
                             **registered.param_labels}.items():
            if name in values:
                values[name] = str(labels.get(values[name], values[name]))
    if isinstance(values.get("amount"), int | float):
        values["amount"] = f"{values['amount']:g}"
    return str(template) % values
