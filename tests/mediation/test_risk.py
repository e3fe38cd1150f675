"""The risk rules of a dispute (mediation/risk.py): each threshold at its
edge, the factors together, bad input refused, and the level never falling
when any input grows."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.functional import Promise
from hypothesis import given
from hypothesis import strategies as st

from shanzhi.mediation import risk
from shanzhi.mediation.risk import Risk, assess

CALM = {"people": 2, "visits": 0, "threat": False, "vulnerable": False, "amount": None}
RANK = {"low": 0, "medium": 1, "high": 2}


def level_of(**changes) -> Risk:
    return assess(**{**CALM, **changes})


def test_a_calm_dispute_is_low_and_calls_for_nothing():
    assert level_of() == Risk(level="low", reasons=(), escalation=False)


def test_the_thresholds_are_the_rules():
    assert (risk.MANY_PEOPLE_MEDIUM, risk.MANY_PEOPLE_HIGH) == (5, 30)
    assert (risk.REPEAT_VISITS_MEDIUM, risk.REPEAT_VISITS_HIGH) == (3, 5)
    assert Decimal(500_000) == risk.LARGE_AMOUNT


@pytest.mark.parametrize(("people", "level", "reasons"), [
    (0, "low", ()), (4, "low", ()), (5, "medium", ("many_people",)),
    (29, "medium", ("many_people",)), (30, "high", ("many_people",)),
    (1000, "high", ("many_people",)),
])
def test_many_people_at_each_edge(people, level, reasons):
    found = level_of(people=people)
    assert (found.level, found.reasons, found.escalation) == (level, reasons, level == "high")


@pytest.mark.parametrize(("visits", "level", "reasons"), [
    (0, "low", ()), (2, "low", ()), (3, "medium", ("repeat_visits",)),
    (4, "medium", ("repeat_visits",)), (5, "high", ("repeat_visits",)),
    (12, "high", ("repeat_visits",)),
])
def test_repeat_visits_at_each_edge(visits, level, reasons):
    found = level_of(visits=visits)
    assert (found.level, found.reasons, found.escalation) == (level, reasons, level == "high")


@pytest.mark.parametrize(("amount", "level"), [
    (None, "low"), (0, "low"), (Decimal("499999.99"), "low"), (499_999.99, "low"),
    (Decimal("500000"), "medium"), (Decimal("500000.00"), "medium"), (500_000, "medium"),
    (500_000.0, "medium"), (Decimal("12000000"), "medium"),
])
def test_a_large_amount_at_its_edge(amount, level):
    found = level_of(amount=amount)
    assert found.level == level
    assert found.reasons == (("large_amount",) if level == "medium" else ())
    assert found.escalation is False


def test_a_threat_of_extreme_action_is_high_on_its_own():
    assert level_of(threat=True) == Risk(level="high", reasons=("threat",), escalation=True)


def test_vulnerable_people_make_it_medium_but_never_high_on_their_own():
    assert level_of(vulnerable=True) == Risk(level="medium", reasons=("vulnerable",),
                                             escalation=False)


def test_medium_factors_together_stay_medium_and_name_every_reason():
    found = level_of(people=5, visits=3, vulnerable=True, amount=Decimal("800000"))
    assert found == Risk(level="medium",
                         reasons=("many_people", "repeat_visits", "vulnerable", "large_amount"),
                         escalation=False)


def test_one_high_factor_makes_the_whole_high_and_the_others_stay_named():
    found = level_of(people=6, visits=5, vulnerable=True)
    assert found == Risk(level="high", reasons=("many_people", "repeat_visits", "vulnerable"),
                         escalation=True)


def test_every_factor_at_once():
    found = assess(people=40, visits=9, threat=True, vulnerable=True, amount=1_000_000)
    assert found == Risk(level="high", reasons=risk.REASONS, escalation=True)


def test_the_risk_cannot_be_changed_after_the_assessment():
    found = level_of(threat=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.level = "low"  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value"), [
    ("people", -1), ("visits", -1), ("amount", -0.01), ("amount", Decimal("-1")),
    ("amount", -500_000),
])
def test_a_negative_input_is_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        level_of(**{field: value})


@pytest.mark.parametrize(("field", "value"), [
    ("people", 2.5), ("people", "5"), ("people", True), ("visits", None),
    ("amount", "500000"), ("amount", float("nan")), ("amount", float("inf")),
    ("amount", Decimal("NaN")),
])
def test_a_value_that_is_not_a_count_or_an_amount_is_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        level_of(**{field: value})


def test_the_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        assess(5, 0, False, False, None)  # type: ignore[misc]


def test_every_reason_and_level_has_a_lazy_label():
    assert set(risk.REASON_LABELS) == set(risk.REASONS)
    assert set(risk.LEVEL_LABELS) == {"low", "medium", "high"}
    for label in [*risk.REASON_LABELS.values(), *risk.LEVEL_LABELS.values()]:
        assert isinstance(label, Promise)
    with translation.override("en"):
        assert [str(risk.LEVEL_LABELS[k]) for k in ("low", "medium", "high")] == [
            "Low", "Medium", "High"]
    with translation.override("zh-hans"):
        assert [str(risk.LEVEL_LABELS[k]) for k in ("low", "medium", "high")] == [
            "一般", "较大", "重大"]


# ---------------------------------------------------------------- monotonic

inputs = st.fixed_dictionaries({
    "people": st.integers(0, 100),
    "visits": st.integers(0, 20),
    "threat": st.booleans(),
    "vulnerable": st.booleans(),
    "amount": st.one_of(st.none(), st.decimals(0, 2_000_000, places=2),
                        st.floats(0, 2_000_000)),
})


def grown(before: dict, field: str, more) -> dict:
    after = dict(before)
    if field in ("threat", "vulnerable"):
        after[field] = True
    elif field == "amount":
        after[field] = Decimal(before[field] or 0) + more
    else:
        after[field] = before[field] + int(more)
    return after


@given(before=inputs,
       field=st.sampled_from(["people", "visits", "threat", "vulnerable", "amount"]),
       more=st.decimals(0, 1_000_000, places=2))
def test_the_level_never_falls_when_an_input_grows(before, field, more):
    after = grown(before, field, more)
    was, now = assess(**before), assess(**after)
    assert RANK[now.level] >= RANK[was.level]
    assert set(was.reasons) <= set(now.reasons)
    assert now.escalation == (now.level == "high")


@given(first=inputs, second=inputs)
def test_the_level_never_falls_when_every_input_grows_at_once(first, second):
    low, high = first, {
        "people": max(first["people"], second["people"]),
        "visits": max(first["visits"], second["visits"]),
        "threat": first["threat"] or second["threat"],
        "vulnerable": first["vulnerable"] or second["vulnerable"],
        "amount": None if first["amount"] is None and second["amount"] is None else
        max(Decimal(a) for a in (first["amount"], second["amount"]) if a is not None),
    }
    assert RANK[assess(**high).level] >= RANK[assess(**low).level]
