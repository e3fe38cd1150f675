"""Writes to the territory. Every boundary change bumps the revision so each
process rebuilds its spatial index."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from django.db import transaction
from shapely.geometry.base import BaseGeometry

from .index import reset_index
from .models import Grid, Region, TerritoryRevision


@dataclass
class NewNode:
    code: str
    name: str
    geometry: BaseGeometry | None = None
    parent: Region | None = None
    valid_from: dt.date | None = None
    generated: bool = False
    source: str = ""


def to_wkb(geometry: BaseGeometry | None) -> bytes | None:
    if geometry is None:
        return None
    return shapely.to_wkb(geometry, output_dimension=2)


@transaction.atomic
def regions_add(*, level: str, nodes: Sequence[NewNode]) -> list[Region]:
    """Insert regions of one level under existing parents (or as roots)."""
    objs = [Region(code=n.code, name=n.name, level=level, parent=n.parent,
                   geometry=to_wkb(n.geometry), valid_from=n.valid_from, generated=n.generated,
                   source=n.source, path="") for n in nodes]
    Region.objects.bulk_create(objs, batch_size=500)
    for obj in objs:
        obj.path = (obj.parent.path if obj.parent else "/") + f"{obj.pk}/"
    Region.objects.bulk_update(objs, ["path"], batch_size=500)
    _territory_changed()
    return objs


@transaction.atomic
def grids_add(*, nodes: Sequence[NewNode]) -> list[Grid]:
    """Insert grids under existing communities (``NewNode.parent``)."""
    objs = []
    for n in nodes:
        assert n.parent is not None, "a grid needs its community"
        objs.append(Grid(code=n.code, name=n.name, community=n.parent, path=n.parent.path,
                         geometry=to_wkb(n.geometry), valid_from=n.valid_from,
                         generated=n.generated, source=n.source))
    Grid.objects.bulk_create(objs, batch_size=500)
    _territory_changed()
    return objs


@transaction.atomic
def region_retire(*, region: Region, valid_to: dt.date) -> Region:
    """End a region's validity (its code stops being current), keeping it for history."""
    region.valid_to = valid_to
    region.save(update_fields=["valid_to"])
    _territory_changed()
    return region


def _territory_changed() -> None:
    TerritoryRevision.bump()
    transaction.on_commit(reset_index)
