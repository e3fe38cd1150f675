"""Masking of personal data and the log of every unmasked view."""

from __future__ import annotations

import re

from django.db import models


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678; short numbers keep only their last two digits."""
    digits = phone.strip()
    if not digits:
        return ""
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***; Latin names keep their first letter."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_id_number(number: str) -> str:
    """A GB 11643 number keeps its region code and check digit: 320508********123X."""
    number = number.strip()
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


# -- personal data inside free text (mask_text) --------------------------------
#: Not inside a longer number, nor the decimals of one (31.0151234567).
_NO_DIGIT_BEFORE = r"(?<!\d)(?<!\d\.)"
_ID_NUMBER = re.compile(_NO_DIGIT_BEFORE + r"(?:\d{17}[\dXx](?!\d)|\d{15}(?![\dXx]))")
_LANDLINE = re.compile(_NO_DIGIT_BEFORE
                       + r"(?P<area>\(0\d{2,3}\)|0\d{2,3}[-\s]?)(?P<local>\d{7,8})(?!\d)")
_MOBILE = re.compile(_NO_DIGIT_BEFORE + r"(?P<prefix>(?:\+|00)?86[-\s]?)?"
                     r"(?P<number>1[3-9]\d[-\s]?\d{4}[-\s]?\d{4})(?!\d)")
_PHONE_LABELS = "电话|手机|座机|联系方式|联系号码|tel|TEL|Tel"
_LOCAL_NUMBER = re.compile(rf"(?P<label>(?:{_PHONE_LABELS})\s*[:：]?\s*)"
                           r"(?P<local>\d{7,8})(?!\d)")
_NAME_LABELS = ("姓名|联系人|联系电话|当事人|报告人|报案人|举报人|投诉人|反映人|申请人|求助人|"
                "户主|监护人|家属")
_NOT_A_LABEL = rf"(?!{_NAME_LABELS}|{_PHONE_LABELS})"
#: A Chinese name: 2 to 4 characters, none starting a label (联系人张三电话… → 张三).
_CJK_NAME = rf"{_NOT_A_LABEL}[\u4e00-\u9fff](?:{_NOT_A_LABEL}[\u4e00-\u9fff·]){{1,3}}"
_LATIN_NAME = rf"{_NOT_A_LABEL}[A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+)?"
_NAME = rf"(?:{_CJK_NAME}|{_LATIN_NAME})"
_LABELLED_NAMES = re.compile(rf"(?P<label>(?:{_NAME_LABELS})\s*[:：]?\s*)"
                             rf"(?P<names>{_NAME}(?:[、/]{_NAME})*)")
_ONE_NAME = re.compile(_NAME)


def _masked_mobile(match: re.Match) -> str:
    return (match.group("prefix") or "") + mask_phone(re.sub(r"\D", "", match.group("number")))


def _masked_names(match: re.Match) -> str:
    return match.group("label") + _ONE_NAME.sub(lambda name: mask_name(name.group()),
                                                 match.group("names"))


def mask_text(text: str) -> str:
    """Free text with the personal data found in it masked: GB 11643 identity
    numbers (18 characters, the last may be X, or the old 15 digits) as
    :func:`mask_id_number`, mobile numbers as :func:`mask_phone` (also with
    +86 and separators), landline numbers (with an area code, or after a
    label such as 电话) to their last four digits, and the names following a
    label such as 姓名：, 联系人: or 投诉人 as :func:`mask_name`. Everything
    else is left as it is; masking masked text changes nothing. A name
    written without a label cannot be told from other words and stays."""
    if not text:
        return text or ""
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    text = _LANDLINE.sub(lambda m: f"{m.group('area')}****{m.group('local')[-4:]}", text)
    text = _MOBILE.sub(_masked_mobile, text)
    text = _LOCAL_NUMBER.sub(lambda m: f"{m.group('label')}****{m.group('local')[-4:]}", text)
    return _LABELLED_NAMES.sub(_masked_names, text)


def record_unmasked_view(*, request, user, obj: models.Model, fields: list[str],
                         reason: str = "") -> None:
    """Append one row to the access log: who saw which personal fields of what,
    from which address (the request's) and why."""
    from .models import AccessAction, AccessLog

    AccessLog.record(action=AccessAction.VIEW, request=request, user=user, obj=obj,
                     fields=fields, reason=reason)
