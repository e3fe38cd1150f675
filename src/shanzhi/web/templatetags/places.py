"""Where a case is, as people tell places apart: community names repeat
across districts, so a place is shown with its district. The names come from
the spatial index's memory (``geo.index``): no query per row."""

from __future__ import annotations

from django import template

from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level

register = template.Library()
SEPARATOR = " · "


def _region_id(value) -> int | None:
    """A region, or its id (``incident.region_id`` spares loading the region)."""
    if value is None or value == "":
        return None
    return int(getattr(value, "pk", value))


@register.filter
def place(value) -> str:
    """"姑苏区 · 双塔街道 · 官渎里社区": the region and every region above it
    but the city."""
    return SEPARATOR.join(n.name for n in get_index().place(_region_id(value)))


@register.filter
def place_short(value) -> str:
    """"姑苏区 · 官渎里社区": the district and the region itself, for a
    table's narrow column."""
    nodes = get_index().place(_region_id(value))
    if not nodes:
        return ""
    district = next((n for n in nodes if n.level == Level.DISTRICT), None)
    names = [n.name for n in (district, nodes[-1]) if n is not None]
    return SEPARATOR.join(dict.fromkeys(names))
