"""Masking of personal data and the log of every unmasked view."""

from __future__ import annotations

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


def record_unmasked_view(*, user, obj: models.Model, fields: list[str], reason: str = "") -> None:
    """Append one row to the access log: who saw which personal fields of what."""
    from .models import AccessLog

    AccessLog.objects.create(user=user, object_type=obj._meta.label_lower,
                             object_id=str(obj.pk), fields=",".join(fields), reason=reason)
