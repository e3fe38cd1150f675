"""The case types the engine knows. Each type registers itself in its app's
``ready()``: its workflow table, its tables, and the few rules that are its
own (who stands in which relation to a case, who is told, what an overdue
case triggers). Everything else — deadlines, the apply pipeline, the
timeline, attachments, idempotency, the inbox, the sweep, the lights — is
the engine's (docs/cases.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy

from shanzhi.core.workflow import Workflow

#: The roles a superuser acts with.
SUPERUSER_ROLES = ("city_admin", "operator")


#: The engine's refusals (msgids with %(action)s, %(state)s, %(id)s, %(number)s);
#: a type may word them with its own noun ("an incident").
MESSAGES = {
    "role": gettext_lazy("Your role may not take the action “%(action)s” on this case."),
    "relation": gettext_lazy("You may not take the action “%(action)s” on this case."),
    "state": gettext_lazy("The action “%(action)s” is not possible on a case that is "
                          "%(state)s."),
    "stale": gettext_lazy("Someone else changed this case first; reload and try again."),
    "not_found": gettext_lazy("No case %(id)s in your territory."),
    "key_reused": gettext_lazy("This Idempotency-Key was used for another request, already "
                               "registered as %(number)s."),
}


def _no_guard(action: str, case: Any) -> str | None:
    return None


def _nobody(case: Any) -> list[int]:
    return []


def _nothing_more(case: Any, now: Any, data: dict) -> tuple[str, list[int]]:
    return "marked", []


@dataclass(frozen=True, eq=False)
class CaseType:
    #: ``incident``, ``mediation`` …: stored with notifications and idempotency keys.
    name: str
    workflow: Workflow
    model: type[Model]
    stage_model: type[Model]
    entry_model: type[Model]
    attachment_model: type[Model]
    #: The name of the foreign key from the stage, entry and attachment tables to the case.
    parent: str
    #: state → the stage (and so the time limit) that runs in it.
    stage_of_state: Mapping[str, str]
    #: The limit of a stage for a case: {"amount": 2, "unit": "working_days"}.
    limit: Callable[[Any, str], Mapping]
    #: Whether the actor stands in the right relation to the case for an
    #: action open to these roles (the role check itself is the table's).
    relation_allows: Callable[..., bool]
    #: Every case the scope reaches (``accounts.scope.Scope``).
    visible: Callable[[Any], QuerySet]
    #: The case's page, from its number.
    page_url: Callable[[str], str]
    #: Names, in the user's language: actions, states, stages, fields.
    action_labels: Mapping[str, Any]
    state_labels: Mapping[str, Any]
    stage_labels: Mapping[str, Any] = field(default_factory=dict)
    field_labels: Mapping[str, Any] = field(default_factory=dict)
    #: kind → the sentence of a notification (msgid with %(number)s …).
    notices: Mapping[str, Any] = field(default_factory=dict)
    #: A notification's param → its codes' names (``{"route": {"arbitration": …}}``):
    #: a code is stored, its name rendered when read.
    param_labels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Why an action open by the table is not possible now, or None.
    guard: Callable[[str, Any], str | None] = _no_guard
    #: Who must act on the case now (the sweep tells them).
    responsible: Callable[[Any], list[int]] = _nobody
    #: Who was given the case to work on (told of supervision and of decisions
    #: on their extension requests), whatever its state.
    assignees: Callable[[Any], list[int]] = _nobody
    #: Who oversees the case (decides extensions, is told of supervision).
    overseers: Callable[[Any], list[int]] = _nobody
    #: What an overdue case triggers besides being marked (in the sweep's
    #: transaction): what was done ("marked", "supervised", or "escalated" when
    #: the case moved on to a new stage) and whom else to tell; it may add to
    #: the timeline row's ``data``.
    on_overdue: Callable[[Any, Any, dict], tuple[str, list[int]]] = _nothing_more
    #: The actor's roles (a superuser acts as city admin and operator).
    roles: Callable[[Any], Iterable[str]] = (
        lambda actor: SUPERUSER_ROLES if actor.is_superuser else (actor.role,))
    #: Where its API lives under /api/v1/ (``incidents``, ``mediation/cases``).
    api_prefix: str = ""
    #: The case's number as people read it (the field holding it).
    number_field: str = "number"
    #: What acting on a case reads with it (select_related), and the heavy
    #: columns of those it leaves out (defer).
    related: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    #: The engine's refusals in this type's words (see ``MESSAGES``).
    messages: Mapping[str, Any] = field(default_factory=dict)

    @property
    def open_states(self) -> frozenset[str]:
        return frozenset(self.workflow.states) - self.workflow.final

    def number(self, case: Any) -> str:
        return getattr(case, self.number_field)

    def action_label(self, action: str) -> str:
        return str(self.action_labels.get(action, action))

    def state_label(self, state: str) -> str:
        return str(self.state_labels.get(state, state))

    def field_label(self, name: str) -> str:
        return str(self.field_labels.get(name, name))

    def attachment_url(self, case: Any, attachment: Any) -> str:
        """A photo or document through the API's scoped attachment endpoint."""
        return f"/api/v1/{self.api_prefix}/{self.number(case)}/attachments/{attachment.pk}"

    def message(self, key: str) -> str:
        return str(self.messages.get(key) or MESSAGES[key])


_TYPES: dict[str, CaseType] = {}


def register(kind: CaseType) -> CaseType:
    """Make a case type known to the engine (the sweep, the inbox, the pages)."""
    _TYPES[kind.name] = kind
    return kind


def case_types() -> Mapping[str, CaseType]:
    return _TYPES


def case_type(name: str) -> CaseType:
    return _TYPES[name]
