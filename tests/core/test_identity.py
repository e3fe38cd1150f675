"""The citizen identity number (GB 11643) and the unified social credit code
(GB 32100): what the generators make passes, one changed character fails,
an impossible or future birth date and an unknown province fail."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shanzhi.core.identity import (
    BIRTH_DATE,
    CHECKSUM,
    CREDIT_ALPHABET,
    FORM,
    PROVINCES,
    REGION,
    credit_code_problem,
    credit_code_valid,
    id_check,
    id_number_problem,
    id_number_valid,
    synthetic_credit_code,
    synthetic_id_number,
)

TODAY = dt.date(2026, 12, 2)
ID_CHARACTERS = "0123456789X"

areas = st.builds(lambda province, rest: province + rest,
                  st.sampled_from(sorted(PROVINCES)), st.from_regex(r"[0-9]{4}", fullmatch=True))
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
rngs = st.randoms(use_true_random=False)


@st.composite
def id_numbers(draw) -> str:
    return synthetic_id_number(draw(rngs), area=draw(areas), born=draw(births),
                               male=draw(st.booleans()))


@st.composite
def credit_codes(draw) -> str:
    return synthetic_credit_code(draw(rngs), area=draw(areas))


def _changed(number: str, at: int, to: str) -> str:
    return number[:at] + to + number[at + 1:]


# ---------------------------------------------------------------- identity numbers

@given(number=id_numbers())
def test_a_generated_identity_number_is_valid(number):
    assert id_number_problem(number, today=TODAY) is None
    assert id_number_valid(number, today=TODAY)


@given(born=births, male=st.booleans(), rng=rngs)
def test_the_generator_writes_the_area_the_birth_date_and_the_sex(born, male, rng):
    made = synthetic_id_number(rng, area="320508", born=born, male=male)
    assert made[:6] == "320508"
    assert made[6:14] == f"{born:%Y%m%d}"
    assert int(made[16]) % 2 == (1 if male else 0)


@given(number=id_numbers(), at=st.integers(0, 17), data=st.data())
def test_changing_any_one_character_of_an_identity_number_fails(number, at, data):
    to = data.draw(st.sampled_from([c for c in ID_CHARACTERS if c != number[at]]))
    changed = _changed(number, at, to)

    problem = id_number_problem(changed, today=TODAY)

    assert problem is not None
    if at == 17 or (at >= 2 and at not in range(6, 14)):
        # the address's tail, the sequence, the check: only the checksum can tell
        assert problem == (FORM if to == "X" and at != 17 else CHECKSUM)


@pytest.mark.parametrize("birth", ["19490230", "19491331", "19490001", "19490100", "00000101"])
def test_an_impossible_birth_date_fails(birth):
    first17 = f"110105{birth}002"  # the standard's example with another birth date

    assert id_number_problem(first17 + id_check(first17), today=TODAY) == BIRTH_DATE


@given(days=st.integers(1, 365 * 50), rng=rngs)
def test_a_birth_date_after_today_fails(days, rng):
    born = TODAY + dt.timedelta(days=days)
    number = synthetic_id_number(rng, area="320508", born=born, male=True)

    assert id_number_problem(number, today=TODAY) == BIRTH_DATE
    assert id_number_valid(number, today=born)  # born today: valid


def test_a_number_of_no_province_fails():
    for area in ("000000", "100105", "290105", "990105"):
        number = synthetic_id_number(random.Random(1), area=area, born=dt.date(1990, 1, 1),
                                     male=True)
        assert id_number_problem(number, today=TODAY) == REGION


def test_the_example_of_the_standard_passes_and_a_wrong_check_fails():
    assert id_number_valid("11010519491231002X", today=TODAY)
    assert id_number_problem("110105194912310021", today=TODAY) == CHECKSUM


@pytest.mark.parametrize("number", ["", "11010519491231002x", "11010519491231002",
                                    "11010519491231002X1", "1101051949123100 X",
                                    "11010519491231002Ｘ", "１10105194912310021"])
def test_a_number_of_the_wrong_form_fails(number):
    assert id_number_problem(number, today=TODAY) == FORM


# ---------------------------------------------------------------- credit codes

@given(code=credit_codes())
def test_a_generated_credit_code_is_valid(code):
    assert credit_code_problem(code) is None
    assert credit_code_valid(code)


@given(code=credit_codes(), at=st.integers(0, 17), data=st.data())
def test_changing_any_one_character_of_a_credit_code_fails_the_checksum(code, at, data):
    to = data.draw(st.sampled_from([c for c in CREDIT_ALPHABET if c != code[at]]))

    assert credit_code_problem(_changed(code, at, to)) == CHECKSUM


@given(code=credit_codes(), at=st.integers(0, 17), to=st.sampled_from("IOSVZa-"))
def test_a_character_outside_the_alphabet_fails(code, at, to):
    assert credit_code_problem(_changed(code, at, to)) == FORM


def test_known_credit_codes():
    assert credit_code_valid("91350100M000100Y43")
    assert credit_code_problem("91350100M000100Y44") == CHECKSUM
    assert credit_code_problem("91350100M000100Y4") == FORM
