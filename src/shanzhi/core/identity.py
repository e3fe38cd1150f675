"""Identifiers of people and organisations under the national standards: the
citizen identity number (GB 11643) and the unified social credit code
(GB 32100). Checks for what a user types, and generators of valid synthetic
numbers for the demo and the tests: one implementation for every app.

The checks return the problem found (a code, not a message: the caller says
it in the user's words) or ``None``; ``*_valid`` are their yes/no forms.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from django.utils import timezone

#: GB 11643: weights of the 17 digits; the check character is ID_CHECK[Σ mod 11]
#: (ISO 7064 MOD 11-2).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
#: GB/T 2260 province-level codes: the first two digits of an address code.
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82"})
#: GB 32100: the alphabet (no I, O, S, V, Z) and the weights of the 17 characters.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: GB 11714 (the organisation code inside a credit code): weights of its 8 characters.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_ID_FORM = re.compile(r"[0-9]{17}[0-9X]\Z")

# What a check found wrong.
FORM = "form"  # length or characters
REGION = "region"  # the address code's province
BIRTH_DATE = "birth_date"  # not a date, or in the future
CHECKSUM = "checksum"


def id_check(first17: str) -> str:
    """The GB 11643 check character of 17 digits."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_number_problem(number: str, *, today: dt.date | None = None) -> str | None:
    """What is wrong with an 18-character citizen identity number (upper-case
    X), or ``None``: 6-digit address code of a real province, birth date
    (YYYYMMDD) a real day not after ``today``, sequence, check character."""
    if not _ID_FORM.match(number):
        return FORM
    if number[:2] not in PROVINCES:
        return REGION
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return BIRTH_DATE
    if born > (today or timezone.localdate()):
        return BIRTH_DATE
    return None if id_check(number[:17]) == number[17] else CHECKSUM


def id_number_valid(number: str, *, today: dt.date | None = None) -> bool:
    return id_number_problem(number, today=today) is None


def credit_check(first17: str) -> str:
    """The GB 32100 check character of 17 characters of the alphabet."""
    total = sum(CREDIT_ALPHABET.index(c) * w
                for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """What is wrong with an 18-character unified social credit code, or ``None``."""
    if len(code) != 18 or any(c not in CREDIT_ALPHABET for c in code):
        return FORM
    return None if credit_check(code[:17]) == code[17] else CHECKSUM


def credit_code_valid(code: str) -> bool:
    return credit_code_problem(code) is None


# ---------------------------------------------------------------- synthetic numbers

def synthetic_id_number(rng: random.Random, *, area: str, born: dt.date, male: bool) -> str:
    """A valid citizen identity number: the area code, the birth date, a
    sequence (odd for a man), the check character."""
    sequence = rng.randrange(0, 500) * 2 + (1 if male else 0)
    first17 = f"{area[:6]}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check(first17)


def synthetic_credit_code(rng: random.Random, *, area: str) -> str:
    """A valid unified social credit code: 9 (工商) 1 (company), the area, an
    organisation code with its GB 11714 check, the check character."""
    org = "".join(rng.choice("0123456789") for _ in range(8))
    c9 = 11 - sum(int(c) * w for c, w in zip(org, ORG_WEIGHTS, strict=True)) % 11
    org += {10: "X", 11: "0"}.get(c9, str(c9))
    first17 = f"91{area[:6]}{org}"
    return first17 + credit_check(first17)
