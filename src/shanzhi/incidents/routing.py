"""Routing: category × region → department. The most specific region wins,
falling back up the tree; then the category's default department kind per
level. Every suggestion says which rule made it."""

from __future__ import annotations

from dataclasses import dataclass

from shanzhi.accounts.models import Department
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Region

from .models import Category, CategoryRules
from .rulebook import rule_book


@dataclass(frozen=True)
class Route:
    department: Department | None
    reason: str

    def as_data(self) -> dict:
        if self.department is None:
            return {"department": None, "reason": self.reason}
        return {"department": self.department.code, "department_name": self.department.name,
                "reason": self.reason}


def region_chain_ids(region: Region) -> list[int]:
    """The region and its ancestors, lowest first."""
    return [int(p) for p in reversed(region.path.strip("/").split("/")) if p]


def suggest_department(*, region: Region, category: Category | None,
                       rules: CategoryRules | None) -> Route:
    book = rule_book()
    chain = region_chain_ids(region)
    categories = [None] if category is None else [category.pk, category.parent_id, None]
    for rid in chain:  # the most specific region first, then the most specific category
        here = book.routing.get(rid, ())
        for category_id in categories:
            for rule in here:
                if rule.category_id == category_id:
                    return Route(rule.department, f"routing rule #{rule.pk}: {rule}")
    if rules is not None and rules.departments:
        levels = _levels(chain)
        for rid in chain:
            kind = rules.departments.get(levels.get(rid))
            dept = book.departments.get((rid, kind)) if kind else None
            if dept is not None:
                return Route(dept, f"category default for level {levels[rid]}: {kind}")
    return Route(None, "no routing rule and no default department matches")


def _levels(region_ids: list[int]) -> dict[int, str]:
    """Each region's level: from the spatial index, or the database for a
    region no longer current."""
    nodes = get_index().regions
    levels = {rid: nodes[rid].level for rid in region_ids if rid in nodes}
    missing = [rid for rid in region_ids if rid not in levels]
    if missing:
        levels.update(Region.objects.filter(pk__in=missing).values_list("pk", "level"))
    return levels
