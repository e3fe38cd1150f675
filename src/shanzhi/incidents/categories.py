"""Category rules: validation and the one way to change them (a new version)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext

from shanzhi.core.errors import ValidationError

from .models import Category, CategoryRules
from .workflow import STAGES

UNITS = ("working_hours", "working_days", "natural_hours")
LEVELS = ("city", "district", "town", "community")
DATATYPES = ("string", "text", "number", "datetime", "singlevaluelist", "multivaluelist")
OVERDUE_RULES = ("notify", "supervise", "escalate")


def check_rules(*, limits: Mapping, departments: Mapping, urgencies: Sequence,
                extra_fields: Sequence, on_overdue: str) -> None:
    """Raise ValidationError (naming the field) for rules the services could not apply."""
    if not isinstance(limits, Mapping):
        raise ValidationError(gettext("limits must be an object of stage → {amount, unit}."),
                              field="limits")
    for stage, limit in limits.items():
        if stage not in STAGES:
            raise ValidationError(gettext("Unknown stage %(stage)s: use %(choices)s.")
                                  % {"stage": stage, "choices": ", ".join(STAGES)},
                                  field="limits")
        if not isinstance(limit, Mapping) or limit.get("unit") not in UNITS:
            raise ValidationError(gettext("limits.%(stage)s.unit must be one of %(choices)s.")
                                  % {"stage": stage, "choices": ", ".join(UNITS)},
                                  field="limits")
        amount = limit.get("amount")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or not amount > 0:
            raise ValidationError(gettext("limits.%(stage)s.amount must be a positive number.")
                                  % {"stage": stage}, field="limits")
    if not isinstance(departments, Mapping) or any(
            level not in LEVELS or not isinstance(kind, str)
            for level, kind in departments.items()):
        raise ValidationError(gettext("departments must map a level (%(levels)s) to a "
                                      "department kind.") % {"levels": ", ".join(LEVELS)},
                              field="departments")
    codes = [u.get("code") for u in urgencies if isinstance(u, Mapping)]
    if len(codes) != len(urgencies) or "normal" not in codes or len(set(codes)) != len(codes) \
            or any(not isinstance(u.get("factor", 1), int | float) or u.get("factor", 1) <= 0
                   for u in urgencies):
        raise ValidationError(gettext("urgencies must be a list of {code, name, factor > 0} "
                                      "with unique codes, including “normal”."),
                              field="urgencies")
    seen = set()
    for spec in extra_fields:
        if not isinstance(spec, Mapping) or not spec.get("code") or spec["code"] in seen:
            raise ValidationError(gettext("Every extra field needs a unique code."),
                                  field="extra_fields")
        seen.add(spec["code"])
        if spec.get("datatype") not in DATATYPES:
            raise ValidationError(gettext("Extra field %(code)s: the datatype must be one of "
                                          "%(choices)s.")
                                  % {"code": spec["code"], "choices": ", ".join(DATATYPES)},
                                  field="extra_fields")
        if spec["datatype"].endswith("list") and not spec.get("values"):
            raise ValidationError(gettext("Extra field %(code)s: a list needs its values.")
                                  % {"code": spec["code"]}, field="extra_fields")
    if on_overdue not in OVERDUE_RULES:
        raise ValidationError(gettext("on_overdue must be one of %(choices)s.")
                              % {"choices": ", ".join(OVERDUE_RULES)}, field="on_overdue")


@transaction.atomic
def category_rules_create(*, actor, category: Category, limits: Mapping, departments: Mapping,
                          urgencies: Sequence, extra_fields: Sequence,
                          on_overdue: str = "notify") -> CategoryRules:
    """A new version of the category's rules; incidents keep the version they
    were registered under."""
    check_rules(limits=limits, departments=departments, urgencies=urgencies,
                extra_fields=extra_fields, on_overdue=on_overdue)
    Category.objects.select_for_update().filter(pk=category.pk).first()
    number = (category.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return CategoryRules.objects.create(
        category=category, number=number, limits=dict(limits), departments=dict(departments),
        urgencies=list(urgencies), extra_fields=list(extra_fields), on_overdue=on_overdue,
        created_by=actor)
