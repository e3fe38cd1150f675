"""The generic workflow machinery: a pure transition table (no ORM).

A case type (incidents first; disputes, follow-up visits … later) declares its
states and its transitions — which action moves which states to which, which
roles may take it, what it requires — as data. Services check an action
against the table before they compare-and-set the new state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import Conflict, PermissionDenied, ValidationError


@dataclass(frozen=True)
class Transition:
    action: str
    #: States the action may start from.
    sources: frozenset[str]
    #: The state it leads to; None keeps the current state (supervise, extension …).
    target: str | None
    #: Roles allowed to take it.
    roles: frozenset[str]
    #: Payload fields that must be present and non-empty.
    requires: tuple[str, ...] = ()
    #: The counter it increments on the case, if any.
    counter: str | None = None
    #: A short English description (the UI translates it).
    label: str = ""

    def leads_to(self, state: str) -> str:
        return self.target or state


def step(action: str, sources, target: str | None, roles, requires=(), counter: str | None = None,
         label: str = "") -> Transition:
    """One row of a table, written short: ``step("sign", [DISPATCHED],
    IN_PROGRESS, [HANDLER], label="Sign for it")``."""
    return Transition(action=action, sources=frozenset(sources), target=target,
                      roles=frozenset(roles), requires=tuple(requires), counter=counter,
                      label=label)


@dataclass(frozen=True)
class Workflow:
    name: str
    states: tuple[str, ...]
    transitions: tuple[Transition, ...]
    initial: str
    final: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        actions = [t.action for t in self.transitions]
        if len(actions) != len(set(actions)):
            raise ValueError(f"{self.name}: duplicate actions in the table")
        known = set(self.states)
        for t in self.transitions:
            unknown = (t.sources | ({t.target} if t.target else set())) - known
            if unknown:
                raise ValueError(f"{self.name}.{t.action}: unknown states {sorted(unknown)}")
        if self.initial not in known or not self.final <= known:
            raise ValueError(f"{self.name}: initial/final states must be among the states")

    @property
    def by_action(self) -> Mapping[str, Transition]:
        return {t.action: t for t in self.transitions}

    def transition(self, action: str) -> Transition:
        try:
            return self.by_action[action]
        except KeyError:
            raise ValidationError(f"unknown action {action!r}", field="action") from None

    def available(self, state: str, roles: Iterable[str]) -> list[Transition]:
        """The transitions open from ``state`` to someone holding any of ``roles``."""
        held = set(roles)
        return [t for t in self.transitions if state in t.sources and t.roles & held]

    def check(self, action: str, *, state: str, roles: Iterable[str],
              payload: Mapping[str, object] | None = None) -> Transition:
        """The transition, if ``roles`` may take ``action`` from ``state`` with
        this payload; otherwise the error that says why."""
        t = self.transition(action)
        if not t.roles & set(roles):
            raise PermissionDenied(f"your role may not {action} a {self.name}", field="action")
        if state not in t.sources:
            raise Conflict(f"cannot {action} a {self.name} that is {state}",
                           code="invalid_state", details={"state": state})
        payload = payload or {}
        for name in t.requires:
            value = payload.get(name)
            if value is None or (isinstance(value, str | list | tuple | dict) and not value):
                raise ValidationError(f"{action} needs {name}", field=name)
        return t

    def markdown_table(self) -> str:
        """The table as Markdown, for docs/workflows/ (a test keeps them equal)."""
        lines = ["| action | from | to | who | requires | counts |",
                 "|---|---|---|---|---|---|"]
        for t in self.transitions:
            lines.append("| `{}` | {} | {} | {} | {} | {} |".format(
                t.action,
                ", ".join(f"`{s}`" for s in self.states if s in t.sources),
                f"`{t.target}`" if t.target else "(same)",
                ", ".join(sorted(t.roles)),
                ", ".join(t.requires) or "—",
                t.counter or "—"))
        return "\n".join(lines)
