"""The in-memory spatial index: point → grid → community → town → district → city.

Edge rule: a point on the boundary shared by several grids belongs to the grid
with the smallest code (codes sort as strings). The same rule picks among
regions of one level. A point inside no grid is *outside*; it is still
attributed to the lowest region level whose polygon covers it.

Each process keeps one index, rebuilt when ``TerritoryRevision`` moves on
(checked at most every ``REVISION_TTL`` seconds).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike

from .models import REGION_LEVELS, Grid, Region, TerritoryRevision

REVISION_TTL = 2.0


@dataclass(frozen=True)
class Node:
    level: str
    code: str
    name: str
    id: int


@dataclass(frozen=True)
class Location:
    lng: float
    lat: float
    grid: Node | None
    #: From the lowest region found up to the city.
    regions: tuple[Node, ...]

    @property
    def inside(self) -> bool:
        return self.grid is not None

    def region(self, level: str) -> Node | None:
        return next((r for r in self.regions if r.level == level), None)

    def as_dict(self) -> dict:
        def node(n: Node | None) -> dict | None:
            return None if n is None else {"level": n.level, "code": n.code, "name": n.name}

        return {
            "lng": self.lng,
            "lat": self.lat,
            "inside": self.inside,
            "grid": node(self.grid),
            "regions": [node(r) for r in self.regions],
        }


class _Layer:
    """Polygons of one level sorted by code, with an STRtree over them."""

    def __init__(self, nodes: list[Node], parents: list[int], geoms: list) -> None:
        order = sorted(range(len(nodes)), key=lambda i: nodes[i].code)
        self.nodes = [nodes[i] for i in order]
        self.parent_ids = np.array([parents[i] for i in order], dtype=np.int64)
        self.geoms = np.array([geoms[i] for i in order], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)

    def hit(self, lng: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """For each point the index of the covering polygon with the smallest
        code, or -1."""
        result = np.full(len(lng), -1, dtype=np.int64)
        if not self.nodes or not len(lng):
            return result
        points = shapely.points(lng, lat)
        pairs = self.tree.query(points, predicate="intersects")
        if pairs.shape[1]:
            best = np.full(len(lng), len(self.nodes), dtype=np.int64)
            np.minimum.at(best, pairs[0], pairs[1])
            found = best < len(self.nodes)
            result[found] = best[found]
        return result


class SpatialIndex:
    def __init__(self, regions: list[Region], grids: list[Grid], revision: int = 0) -> None:
        self.revision = revision
        self.regions: dict[int, Node] = {}
        self.region_parent: dict[int, int | None] = {}
        by_level: dict[str, tuple[list[Node], list[int], list]] = {
            level: ([], [], []) for level in REGION_LEVELS}
        for r in regions:
            node = Node(r.level, r.code, r.name, r.id)
            self.regions[r.id] = node
            self.region_parent[r.id] = r.parent_id
            if r.geometry:
                nodes, parents, geoms = by_level[r.level]
                nodes.append(node)
                parents.append(r.parent_id or 0)
                geoms.append(shapely.from_wkb(bytes(r.geometry)))
        self.layers = {level: _Layer(*by_level[level]) for level in REGION_LEVELS}
        grid_nodes, grid_parents, grid_geoms = [], [], []
        for g in grids:
            if g.geometry:
                grid_nodes.append(Node("grid", g.code, g.name, g.id))
                grid_parents.append(g.community_id)
                grid_geoms.append(shapely.from_wkb(bytes(g.geometry)))
        self.grids = _Layer(grid_nodes, grid_parents, grid_geoms)
        self._chains: dict[int, tuple[Node, ...]] = {}

    @classmethod
    def from_database(cls) -> SpatialIndex:
        revision = TerritoryRevision.current()
        regions = list(Region.objects.current().only(
            "id", "code", "name", "level", "parent_id", "geometry"))
        grids = list(Grid.objects.current().only("id", "code", "name", "community_id", "geometry"))
        return cls(regions, grids, revision)

    def chain(self, region_id: int | None) -> tuple[Node, ...]:
        """The region and its ancestors, lowest first."""
        if region_id is None:
            return ()
        if region_id not in self._chains:
            nodes = []
            current: int | None = region_id
            while current is not None and current in self.regions:
                nodes.append(self.regions[current])
                current = self.region_parent[current]
            self._chains[region_id] = tuple(nodes)
        return self._chains[region_id]

    def locate_many(self, lng: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Bulk locate. Returns (grid index or -1, lowest region id or 0) per point."""
        lng = np.asarray(lng, dtype=float)
        lat = np.asarray(lat, dtype=float)
        grid_idx = self.grids.hit(lng, lat)
        region_ids = np.zeros(len(lng), dtype=np.int64)
        found = grid_idx >= 0
        region_ids[found] = self.grids.parent_ids[grid_idx[found]]
        missing = np.flatnonzero(~found)
        for level in reversed(REGION_LEVELS):
            if not len(missing):
                break
            layer = self.layers[level]
            hit = layer.hit(lng[missing], lat[missing])
            ok = hit >= 0
            region_ids[missing[ok]] = [layer.nodes[i].id for i in hit[ok]]
            missing = missing[~ok]
        return grid_idx, region_ids

    def locate(self, lng: float, lat: float) -> Location:
        grid_idx, region_ids = self.locate_many([lng], [lat])
        grid = self.grids.nodes[grid_idx[0]] if grid_idx[0] >= 0 else None
        region_id = int(region_ids[0]) or None
        return Location(lng=lng, lat=lat, grid=grid, regions=self.chain(region_id))


_lock = threading.Lock()
_index: SpatialIndex | None = None
_checked_at = 0.0


def get_index() -> SpatialIndex:
    """This process's index, rebuilt if the territory changed."""
    global _index, _checked_at
    now = time.monotonic()
    if _index is not None and now - _checked_at < REVISION_TTL:
        return _index
    with _lock:
        revision = TerritoryRevision.current()
        if _index is None or _index.revision != revision:
            _index = SpatialIndex.from_database()
        _checked_at = time.monotonic()
        return _index


def reset_index() -> None:
    """Forget this process's index (tests, after imports in the same process)."""
    global _index, _checked_at
    with _lock:
        _index, _checked_at = None, 0.0
