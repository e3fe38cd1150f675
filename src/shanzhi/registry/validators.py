"""The checks of what is typed or imported into the registries, one per
field kind: each returns the value cleaned, or raises a ``ValidationError``
that names the field and the rule broken. The services, the API and the
importer all go through ``clean`` with a registry's ``FIELDS``: one set of
rules, one wording.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.core import identity
from shanzhi.core.errors import ValidationError

#: A mainland mobile number, or a landline with its area code (an extension allowed).
MOBILE = re.compile(r"1[3-9]\d{9}\Z")
LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?\Z")
_SPACES = re.compile(r"[\s\u3000]+")
_PHONE_NOISE = re.compile(r"[\s\u3000()（）]")


def text(value, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """A line of text: trimmed, inner runs of spaces made one, at most ``max_length``."""
    value = _SPACES.sub(" ", str(value or "")).strip()
    if required and not value:
        raise ValidationError(gettext("%(label)s is required.") % {"label": label}, field=field,
                              code="required")
    if len(value) > max_length:
        raise ValidationError(gettext("%(label)s is longer than %(limit)d characters.")
                              % {"label": label, "limit": max_length}, field=field,
                              code="too_long")
    return value


def id_number(value, *, field: str = "id_number", today: dt.date | None = None) -> str:
    """A citizen identity number (GB 11643): 18 characters, a real province
    (GB/T 2260), a real birth date not in the future, the check character
    (ISO 7064 MOD 11-2). A lower-case x is read as X."""
    number = _SPACES.sub("", str(value or "")).upper()
    if not number:
        raise ValidationError(gettext("The identity number is required."), field=field,
                              code="required")
    problem = identity.id_number_problem(number, today=today)
    if problem is None:
        return number
    message = {
        identity.FORM: gettext("The identity number must be 17 digits and a check digit or X "
                               "(GB 11643)."),
        identity.REGION: gettext("The identity number's first two digits are not a province "
                                 "code (GB/T 2260)."),
        identity.BIRTH_DATE: gettext("The identity number's digits 7 to 14 are not a real "
                                     "birth date."),
        identity.CHECKSUM: gettext("The identity number's check digit is wrong (GB 11643); "
                                   "one of its digits was probably mistyped."),
    }[problem]
    raise ValidationError(message, field=field, code=f"id_number_{problem}")


def document_number(value, *, field: str = "id_number") -> str:
    """A passport's or a permit's number: 5 to 20 letters and digits."""
    number = _SPACES.sub("", str(value or "")).upper()
    if not re.fullmatch(r"[A-Z0-9]{5,20}", number):
        raise ValidationError(gettext("The document number must be 5 to 20 letters and "
                                      "digits."), field=field, code="document_number")
    return number


def phone(value, *, field: str = "phone", required: bool = False) -> str:
    """A mobile number (11 digits, 13x–19x) or a landline with its area code
    (0512-65221234, an extension allowed); +86, spaces and brackets dropped."""
    number = _PHONE_NOISE.sub("", str(value or ""))
    number = re.sub(r"^(?:\+|00)86-?", "", number)
    if not number and not required:
        return ""
    if MOBILE.match(number) or LANDLINE.match(number):
        return number
    raise ValidationError(gettext("The phone number must be a mobile number (11 digits, "
                                  "starting 13 to 19) or a landline with its area code."),
                          field=field, code="phone")


def credit_code(value, *, field: str = "credit_code") -> str:
    """A unified social credit code (GB 32100): 18 characters of its alphabet
    (no I, O, S, V, Z) and the check character."""
    code = _SPACES.sub("", str(value or "")).upper()
    problem = identity.credit_code_problem(code)
    if problem is None:
        return code
    if problem == identity.FORM:
        message = gettext("The credit code must be 18 digits and capital letters, without I, "
                          "O, S, V or Z (GB 32100).")
    else:
        message = gettext("The credit code's check character is wrong (GB 32100); one of its "
                          "characters was probably mistyped.")
    raise ValidationError(message, field=field, code=f"credit_code_{problem}")


def day(value, *, field: str, label: str, required: bool = False,
        not_after: dt.date | None = None) -> dt.date | None:
    """A date: a ``date``, or ISO ``2026-12-02``, ``2026/12/2`` or ``20261202``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        parsed = value
    else:
        raw = str(value or "").strip()
        if not raw:
            if required:
                raise ValidationError(gettext("%(label)s is required.") % {"label": label},
                                      field=field, code="required")
            return None
        match = re.fullmatch(r"(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?", raw)
        try:
            if match is None:
                raise ValueError(raw)
            parsed = dt.date(*map(int, match.groups()))
        except ValueError:
            raise ValidationError(gettext("%(label)s must be a date such as 2026-12-02.")
                                  % {"label": label}, field=field, code="date") from None
    if not_after is not None and parsed > not_after:
        raise ValidationError(gettext("%(label)s is in the future.") % {"label": label},
                              field=field, code="date_future")
    return parsed


def choice(value, *, field: str, label: str, choices, required: bool = True) -> str:
    """One of a ``TextChoices``' values, or its label as the user reads it
    (男 for 1, 流动人口 for migrant)."""
    raw = str(value or "").strip()
    if not raw and not required:
        return ""
    for code, name in choices:
        if raw in (code, str(name)):
            return code
    raise ValidationError(gettext("%(label)s must be one of: %(choices)s.")
                          % {"label": label, "choices": "、".join(str(n) for _, n in choices)},
                          field=field, code="choice")


def today() -> dt.date:
    return timezone.localdate()


Check = Callable[[object], object]


def clean(fields: Mapping[str, Check], data: Mapping) -> tuple[dict, list[ValidationError]]:
    """Every field of ``fields`` checked on ``data``: the cleaned values and
    every problem found (each names its field), not only the first."""
    cleaned: dict = {}
    problems: list[ValidationError] = []
    for name, check in fields.items():
        try:
            cleaned[name] = check(data.get(name))
        except ValidationError as error:
            problems.append(error)
    return cleaned, problems
