"""Routing: category × region → department. The most specific region wins,
falling back up the tree; then the category's default department kind per
level. Every suggestion says which rule made it."""

from __future__ import annotations

from dataclasses import dataclass

from shanzhi.accounts.models import Department
from shanzhi.geo.models import Region

from .models import Category, CategoryRules, RoutingRule


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
    chain = region_chain_ids(region)
    depth = {rid: i for i, rid in enumerate(chain)}
    categories = [None]
    if category is not None:
        categories = [category.pk, category.parent_id, None]
    specificity = {c: i for i, c in enumerate(categories)}
    candidates = [r for r in RoutingRule.objects.filter(region_id__in=chain).select_related(
        "department", "category") if r.category_id in specificity and r.department_id]
    if candidates:
        best = min(candidates, key=lambda r: (depth[r.region_id], specificity[r.category_id]))
        return Route(best.department, f"routing rule #{best.pk}: {best}")
    if rules is not None and rules.departments:
        levels = dict(Region.objects.filter(pk__in=chain).values_list("pk", "level"))
        wanted = [(rid, rules.departments.get(levels.get(rid))) for rid in chain]
        wanted = [(rid, kind) for rid, kind in wanted if kind]
        found = {(d.region_id, d.kind): d for d in Department.objects.filter(
            region_id__in=[rid for rid, _ in wanted], kind__in=[k for _, k in wanted])}
        for rid, kind in wanted:
            if (rid, kind) in found:
                dept = found[(rid, kind)]
                return Route(dept, f"category default for level {levels[rid]}: {kind}")
    return Route(None, "no routing rule and no default department matches")
