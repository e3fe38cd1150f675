"""The field checks of the registries: identity numbers (GB 11643) and credit
codes (GB 32100) with every single mistyped character caught, phones, dates,
and ``clean`` reporting every problem at once."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shanzhi.core.errors import ValidationError
from shanzhi.core.identity import CREDIT_ALPHABET, synthetic_credit_code, synthetic_id_number
from shanzhi.registry import validators

TODAY = dt.date(2026, 12, 2)
AREAS = ["320505", "320506", "320508", "320581", "110105", "410102", "510104", "650102"]
ID_CHARS = "0123456789X"

areas = st.sampled_from(AREAS)
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
seeds = st.integers(0, 2**32)


def _id(seed: int, area: str, born: dt.date, male: bool) -> str:
    return synthetic_id_number(random.Random(seed), area=area, born=born, male=male)


@given(seeds, areas, births, st.booleans())
def test_a_valid_identity_number_is_accepted_as_typed(seed, area, born, male):
    number = _id(seed, area, born, male)
    assert validators.id_number(number, today=TODAY) == number
    # spaces and a lower-case x are forgiven
    spaced = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
    assert validators.id_number(spaced, today=TODAY) == number


@settings(max_examples=60)
@given(seeds, areas, births, st.booleans())
def test_every_single_mistyped_character_of_an_identity_number_is_refused(seed, area, born,
                                                                          male):
    number = _id(seed, area, born, male)
    for position in range(18):
        for char in ID_CHARS:
            if char == number[position]:
                continue
            typed = number[:position] + char + number[position + 1:]
            with pytest.raises(ValidationError) as refused:
                validators.id_number(typed, today=TODAY)
            assert refused.value.field == "id_number", typed
            assert refused.value.code.startswith("id_number_"), typed


@given(seeds, st.integers(0, 5))
def test_a_dropped_or_added_character_is_refused_for_its_form(seed, position):
    number = _id(seed, "320508", dt.date(1980, 5, 17), True)
    for typed in (number[:position] + number[position + 1:], number + "1"):
        with pytest.raises(ValidationError) as refused:
            validators.id_number(typed, today=TODAY)
        assert (refused.value.field, refused.value.code) == ("id_number", "id_number_form")


@given(seeds, st.integers(1, 3000))
def test_a_birth_date_in_the_future_is_refused(seed, days):
    number = _id(seed, "320508", TODAY + dt.timedelta(days=days), False)
    with pytest.raises(ValidationError) as refused:
        validators.id_number(number, today=TODAY)
    assert (refused.value.field, refused.value.code) == ("id_number", "id_number_birth_date")
    # the same number is valid once the day has come
    assert validators.id_number(number, today=TODAY + dt.timedelta(days=days)) == number


def test_the_refusals_say_which_rule_was_broken():
    good = _id(1, "320508", dt.date(1990, 1, 1), True)
    cases = {
        "": "required",
        "32050819900101": "id_number_form",
        "99" + good[2:]: "id_number_region",
        good[:10] + "13" + good[12:]: "id_number_birth_date",
        good[:17] + ("0" if good[17] != "0" else "1"): "id_number_checksum",
    }
    for typed, code in cases.items():
        with pytest.raises(ValidationError) as refused:
            validators.id_number(typed, today=TODAY)
        assert refused.value.code == code, typed
        assert refused.value.field == "id_number"
    with pytest.raises(ValidationError) as refused:
        validators.id_number("abc", field="owner_id")
    assert refused.value.field == "owner_id"
    # the standard's example
    assert validators.id_number("11010519491231002x") == "11010519491231002X"


@given(seeds, areas)
def test_a_valid_credit_code_is_accepted(seed, area):
    code = synthetic_credit_code(random.Random(seed), area=area)
    assert validators.credit_code(code) == code
    assert validators.credit_code(f" {code.lower()} ") == code


@settings(max_examples=40)
@given(seeds, areas)
def test_every_single_mistyped_character_of_a_credit_code_is_refused(seed, area):
    code = synthetic_credit_code(random.Random(seed), area=area)
    for position in range(18):
        for char in CREDIT_ALPHABET + "IOSVZ":
            if char == code[position]:
                continue
            typed = code[:position] + char + code[position + 1:]
            with pytest.raises(ValidationError) as refused:
                validators.credit_code(typed)
            assert refused.value.field == "credit_code", typed
            expected = "credit_code_form" if char in "IOSVZ" else "credit_code_checksum"
            assert refused.value.code == expected, typed


def test_a_credit_code_of_the_wrong_length_is_refused():
    for typed in ("", "91320508MA1", "91320508MA1XXXXXXXX"):
        with pytest.raises(ValidationError) as refused:
            validators.credit_code(typed, field="code")
        assert (refused.value.field, refused.value.code) == ("code", "credit_code_form")


mobiles = st.builds(lambda second, rest: f"1{second}{rest}", st.sampled_from("3456789"),
                    st.text(alphabet="0123456789", min_size=9, max_size=9))


@given(mobiles, st.sampled_from(["{n}", "+86{n}", "+86 {a} {b} {c}", "0086-{n}",
                                 "{a} {b} {c}", "（{a}）{b}{c}", "{a}\u3000{b}{c}"]))
def test_a_mobile_number_is_accepted_in_its_usual_spellings(number, form):
    typed = form.format(n=number, a=number[:3], b=number[3:7], c=number[7:])
    assert validators.phone(typed) == number


@pytest.mark.parametrize(("typed", "stored"), [
    ("0512-65221234", "0512-65221234"), ("051265221234", "051265221234"),
    ("(0512)65221234", "051265221234"), ("0512-65221234-808", "0512-65221234-808"),
    ("010-12345678", "010-12345678"), ("+86 0512 6522 1234", "051265221234"), ("", "")])
def test_a_landline_with_its_area_code_is_accepted(typed, stored):
    assert validators.phone(typed) == stored


@pytest.mark.parametrize("typed", ["12812345678", "1381234567", "138123456789", "65221234",
                                   "abc", "110", "+1 415 555 0100", "0512-652"])
def test_a_wrong_phone_number_is_refused_naming_its_field(typed):
    with pytest.raises(ValidationError) as refused:
        validators.phone(typed, field="contact_phone")
    assert (refused.value.field, refused.value.code) == ("contact_phone", "phone")


def test_a_required_phone_may_not_be_empty():
    with pytest.raises(ValidationError) as refused:
        validators.phone("  ", required=True)
    assert refused.value.field == "phone"


@pytest.mark.parametrize("typed", ["2026-12-02", "2026/12/2", "20261202", "2026.12.02",
                                   "2026年12月2日", dt.date(2026, 12, 2),
                                   dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)])
def test_a_day_is_read_in_its_usual_spellings(typed):
    assert validators.day(typed, field="since", label="Since") == dt.date(2026, 12, 2)


@pytest.mark.parametrize("typed", ["2026-02-30", "2026-13-01", "yesterday", "12/02/2026",
                                   "2026-1"])
def test_a_wrong_day_is_refused_naming_its_field(typed):
    with pytest.raises(ValidationError) as refused:
        validators.day(typed, field="since", label="Since")
    assert (refused.value.field, refused.value.code) == ("since", "date")


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_a_day_after_the_limit_is_refused_and_up_to_it_accepted(day):
    if day > TODAY:
        with pytest.raises(ValidationError) as refused:
            validators.day(day.isoformat(), field="birth_date", label="Born", not_after=TODAY)
        assert (refused.value.field, refused.value.code) == ("birth_date", "date_future")
    else:
        assert validators.day(day.isoformat(), field="birth_date", label="Born",
                              not_after=TODAY) == day


def test_an_empty_day_is_none_unless_required():
    assert validators.day("", field="since", label="Since") is None
    with pytest.raises(ValidationError) as refused:
        validators.day(None, field="since", label="Since", required=True)
    assert (refused.value.field, refused.value.code) == ("since", "required")


def test_clean_collects_every_problem_with_its_field():
    fields = {
        "name": lambda v: validators.text(v, field="name", label="Name", max_length=5,
                                          required=True),
        "id_number": lambda v: validators.id_number(v, today=TODAY),
        "phone": lambda v: validators.phone(v),
        "since": lambda v: validators.day(v, field="since", label="Since"),
        "gender": lambda v: validators.choice(v, field="gender", label="Gender",
                                              choices=[("1", "男"), ("2", "女")]),
    }
    cleaned, problems = validators.clean(fields, {
        "name": "  张   三 ", "id_number": "320508199001010000", "phone": "12345",
        "since": "2026-02-30", "gender": "女"})
    assert [p.field for p in problems] == ["id_number", "phone", "since"]
    assert cleaned == {"name": "张 三", "gender": "2"}
    cleaned, problems = validators.clean(fields, {})
    assert [p.field for p in problems] == ["name", "id_number", "gender"]
    assert cleaned == {"phone": "", "since": None}
