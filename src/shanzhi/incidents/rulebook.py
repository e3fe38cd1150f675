"""What every report and dispatch reads and an administrator rarely changes:
the active categories with their current rules, the routing rules and the
departments — kept in memory per process (``core.memo``), rebuilt when
``incident_rules`` moves on. Any save or delete of those four models through
the ORM (the admin, the services) moves it on; a bulk write must call
:func:`changed` itself.

The model instances here are shared by every request of the process: read
them, assign them to foreign keys, never change them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models.signals import post_delete, post_save

from shanzhi.accounts.models import Department
from shanzhi.core.memo import Memo, bump, revision_stamp

from .models import Category, CategoryRules, RoutingRule

REVISION = "incident_rules"
#: Other processes see a change within this many seconds.
TTL = 5.0


@dataclass(frozen=True)
class RuleBook:
    #: Active category by code → (category, its latest rules or None for a class).
    categories: dict[str, tuple[Category, CategoryRules | None]] = field(default_factory=dict)
    #: Active category by id (the same objects).
    by_id: dict[int, Category] = field(default_factory=dict)
    #: Region id → its routing rules that name a department.
    routing: dict[int, list[RoutingRule]] = field(default_factory=dict)
    #: (region id, kind) → the department of that kind at that region.
    departments: dict[tuple[int, str], Department] = field(default_factory=dict)


def _build() -> RuleBook:
    book = RuleBook()
    latest: dict[int, CategoryRules] = {}
    for rules in CategoryRules.objects.order_by("category_id", "number"):
        latest[rules.category_id] = rules
    for cat in Category.objects.filter(is_active=True):
        rules = latest.get(cat.pk)
        if rules is not None:
            rules.category = cat
        book.categories[cat.code] = (cat, rules)
        book.by_id[cat.pk] = cat
    for rule in RoutingRule.objects.filter(department__isnull=False).select_related(
            "department__region", "category", "region").defer(
            "region__geometry", "department__region__geometry").order_by("pk"):
        book.routing.setdefault(rule.region_id, []).append(rule)
    for dept in Department.objects.exclude(kind="").select_related("region").defer(
            "region__geometry").order_by("code"):
        book.departments.setdefault((dept.region_id, dept.kind), dept)
    return book


_memo = Memo(_build, stamp=revision_stamp(REVISION), ttl=TTL, revision=REVISION)


def rule_book() -> RuleBook:
    return _memo.get()


def changed() -> None:
    """Tell every process (a bulk write sends no signal)."""
    bump(REVISION)


def _changed(sender, **kwargs) -> None:
    changed()


def connect() -> None:
    """Called once from the app's ``ready()``."""
    for model in (Category, CategoryRules, RoutingRule, Department):
        post_save.connect(_changed, sender=model, dispatch_uid=f"rulebook-save-{model.__name__}")
        post_delete.connect(_changed, sender=model,
                            dispatch_uid=f"rulebook-delete-{model.__name__}")
