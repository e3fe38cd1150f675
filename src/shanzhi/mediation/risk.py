"""The risk rules of a dispute (风险等级): pure, no ORM.

A dispute's level is the highest any one factor gives it:

- ``many_people``: 5 or more people involved → at least medium; 30 or more
  (群体性) → high;
- ``repeat_visits``: 3 or more visits (重复访) → at least medium; 5 or more → high;
- ``threat``: threats of extreme action (极端行为) → high;
- ``vulnerable``: elderly people, minors, disabled or pregnant people … → at
  least medium;
- ``large_amount``: 500,000 yuan or more at stake → at least medium.

A high level calls for escalation (the centre above is told, and the stage
limits are halved: ``workflow.RISK_FACTOR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

LOW = "low"
MEDIUM = "medium"
HIGH = "high"
LEVELS = (LOW, MEDIUM, HIGH)  # in rising order

Level = Literal["low", "medium", "high"]

MANY_PEOPLE_MEDIUM = 5
MANY_PEOPLE_HIGH = 30  # 群体性纠纷
REPEAT_VISITS_MEDIUM = 3
REPEAT_VISITS_HIGH = 5
LARGE_AMOUNT = Decimal(500_000)  # yuan

#: The reason codes, in the order ``assess`` gives them.
REASONS = ("many_people", "repeat_visits", "threat", "vulnerable", "large_amount")

REASON_LABELS = {
    "many_people": _("Many people involved"),
    "repeat_visits": _("Repeated visits"),
    "threat": _("Threats of extreme action"),
    "vulnerable": _("Vulnerable people involved"),
    "large_amount": _("Large amount at stake"),
}

# with a context: "Low"/"Medium"/"High" mean 一般/较大/重大 here, not 低/中/高
LEVEL_LABELS = {
    LOW: pgettext_lazy("risk level", "Low"),
    MEDIUM: pgettext_lazy("risk level", "Medium"),
    HIGH: pgettext_lazy("risk level", "High"),
}


@dataclass(frozen=True)
class Risk:
    level: Level
    reasons: tuple[str, ...]
    escalation: bool


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value}")
    return value


def _amount(value: Decimal | float | int | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | float | int):
        raise ValueError(f"amount must be a number, not {value!r}")
    amount = Decimal(value)  # exact, for a float too
    if not amount.is_finite():
        raise ValueError(f"amount must be a finite number, not {value}")
    if amount < 0:
        raise ValueError(f"amount must not be negative, not {value}")
    return amount


def assess(*, people: int, visits: int, threat: bool, vulnerable: bool,
           amount: Decimal | float | None) -> Risk:
    """The risk level of a dispute, why, and whether it calls for escalation.

    Raises ValueError (naming the field) for a negative or non-numeric input."""
    people = _count("people", people)
    visits = _count("visits", visits)
    money = _amount(amount)
    found: dict[str, str] = {}
    if people >= MANY_PEOPLE_HIGH:
        found["many_people"] = HIGH
    elif people >= MANY_PEOPLE_MEDIUM:
        found["many_people"] = MEDIUM
    if visits >= REPEAT_VISITS_HIGH:
        found["repeat_visits"] = HIGH
    elif visits >= REPEAT_VISITS_MEDIUM:
        found["repeat_visits"] = MEDIUM
    if threat:
        found["threat"] = HIGH
    if vulnerable:
        found["vulnerable"] = MEDIUM
    if money is not None and money >= LARGE_AMOUNT:
        found["large_amount"] = MEDIUM
    level = max(found.values(), key=LEVELS.index, default=LOW)
    return Risk(level=level,  # type: ignore[arg-type]
                reasons=tuple(r for r in REASONS if r in found),
                escalation=level == HIGH)
