"""Topology checks between sibling polygons: overlaps and gaps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from .models import Grid, Region

#: Metres per degree of latitude (and of longitude at the equator).
M_PER_DEG = 111_320.0


def area_m2(geom) -> float:
    """Approximate area in square metres of a small lon/lat geometry."""
    if geom.is_empty:
        return 0.0
    lat = geom.centroid.y
    return geom.area * M_PER_DEG * M_PER_DEG * math.cos(math.radians(lat))


@dataclass(frozen=True)
class TopologyProblem:
    kind: str  # "overlap" or "gap"
    parent: str
    codes: tuple[str, ...]
    area_m2: float
    where: tuple[float, float]

    def __str__(self) -> str:
        lng, lat = self.where
        if self.kind == "overlap":
            return (f"overlap of {self.area_m2:,.0f} m² between {self.codes[0]} and "
                    f"{self.codes[1]} (in {self.parent}) near {lng:.6f},{lat:.6f}")
        return (f"gap of {self.area_m2:,.0f} m² inside {self.parent} not covered by any child "
                f"near {lng:.6f},{lat:.6f}")


def check_children(parent: Region | None, children: list, *, min_area_m2: float = 1.0
                   ) -> list[TopologyProblem]:
    """Overlaps between the children and gaps between them and their parent."""
    label = f"{parent.code} {parent.name}" if parent else "the top level"
    codes = [c.code for c in children if c.geometry]
    geoms = np.array([c.shape for c in children if c.geometry], dtype=object)
    problems: list[TopologyProblem] = []
    if len(geoms) > 1:
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        for i, j in zip(left, right, strict=True):
            if i >= j:
                continue
            inter = shapely.intersection(geoms[i], geoms[j])
            size = area_m2(inter)
            if size >= min_area_m2:
                point = inter.representative_point()
                problems.append(TopologyProblem("overlap", label, (codes[i], codes[j]), size,
                                                (point.x, point.y)))
    if parent is not None and parent.geometry and len(geoms):
        rest = shapely.difference(parent.shape, shapely.union_all(geoms))
        for piece in getattr(rest, "geoms", [rest]):
            size = area_m2(piece)
            if size >= min_area_m2:
                point = piece.representative_point()
                problems.append(TopologyProblem("gap", label, (), size, (point.x, point.y)))
    return problems


def check_territory(*, root: Region | None = None, min_area_m2: float = 1.0, progress=None
                    ) -> list[TopologyProblem]:
    """Check every family of siblings under ``root`` (or everywhere)."""
    regions = Region.objects.current()
    if root is not None:
        regions = regions.filter(path__startswith=root.path)
    problems: list[TopologyProblem] = []
    tops = list(Region.objects.current().filter(parent__isnull=True)) if root is None else []
    if len(tops) > 1:
        problems += check_children(None, tops, min_area_m2=min_area_m2)
    parents = list(regions.order_by("path"))
    for n, parent in enumerate(parents, start=1):
        children = list(Region.objects.current().filter(parent=parent)) or list(
            Grid.objects.current().filter(community=parent))
        problems += check_children(parent, children, min_area_m2=min_area_m2)
        if progress and n % 200 == 0:
            progress(f"checked {n}/{len(parents)} regions")
    return problems
