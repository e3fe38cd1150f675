"""The in-memory spatial index: point → grid → community → town → district → city.

Edge rule: a point on the boundary shared by several grids belongs to the grid
with the smallest code (codes sort as strings). The same rule picks among
regions of one level. A point inside no grid is *outside*; it is still
attributed to the lowest region level whose polygon covers it.

Each process keeps one index, rebuilt when ``TerritoryRevision`` moves on
(checked at most every ``REVISION_TTL`` seconds). Points are tested with
prepared polygons; bulk calls first look each point up in a raster of each
level, which settles most points without any polygon test (see ``_Raster``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.db.models import DEFERRED
from numpy.typing import ArrayLike

from .models import REGION_LEVELS, Grid, Level, Region, TerritoryRevision

REVISION_TTL = 2.0
#: A bulk call of at least this many points goes through the lookup rasters
#: (each built on first use: 1–3 s and ~12 MB for 10,400 grids); fewer are
#: tested directly.
RASTER_MIN_POINTS = 20_000
#: Finest raster cells across a polygon of the layer's median size.
RASTER_CELLS_ACROSS = 8
#: Bounds on a layer's raster cells. A layer spread so wide that its raster
#: would need more (two cities far apart) has none: its points are tested
#: directly, at about a fifth of the speed.
RASTER_MIN_CELLS = 1 << 16
RASTER_MAX_CELLS = 1 << 22
#: Halvings from the root cells down to the finest cells.
RASTER_LEVELS = 4
_MIXED = -2  # while building: a cell to split
_CHUNK = 50_000  # cells classified at a time


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
    """Polygons of one level sorted by code, with an STRtree over them and,
    for bulk calls, a lookup raster."""

    def __init__(self, nodes: list[Node], parents: list[int], geoms: list) -> None:
        order = sorted(range(len(nodes)), key=lambda i: nodes[i].code)
        self.nodes = [nodes[i] for i in order]
        self.ids = np.array([n.id for n in self.nodes], dtype=np.int64)
        self.position = {n.id: i for i, n in enumerate(self.nodes)}
        self.parent_ids = np.array([parents[i] for i in order], dtype=np.int64)
        self.geoms = np.array([geoms[i] for i in order], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self._raster: _Raster | None = None
        self._raster_done = False
        self._raster_lock = threading.Lock()

    def raster(self) -> _Raster | None:
        """The lookup raster, built on first use; None if the layer is too
        spread out for one."""
        with self._raster_lock:
            if not self._raster_done:
                self._raster = _Raster.fit(self.geoms, self.tree)
                self._raster_done = True
        return self._raster

    def hit(self, lng: np.ndarray, lat: np.ndarray, *, raster: bool | None = None) -> np.ndarray:
        """For each point the index of the covering polygon with the smallest
        code, or -1. ``raster`` forces (True) or avoids (False) the lookup
        raster; by default it serves calls of ``RASTER_MIN_POINTS`` or more."""
        result = np.full(len(lng), -1, dtype=np.int64)
        if not self.nodes or not len(lng):
            return result
        use_raster = len(lng) >= RASTER_MIN_POINTS if raster is None else raster
        lookup = self.raster() if use_raster else None
        if lookup is not None:
            points, candidates = lookup.lookup(lng, lat, result)
        else:
            points, candidates = self.tree.query(shapely.points(lng, lat))
        if len(points):
            covered = shapely.intersects_xy(self.geoms[candidates], lng[points], lat[points])
            best = np.full(len(lng), len(self.nodes), dtype=np.int64)
            np.minimum.at(best, points[covered], candidates[covered])
            found = best < len(self.nodes)
            result[found] = best[found]
        return result


class _Raster:
    """A uniform raster over a layer's bounding box that answers most points
    by a cell lookup.

    A cell is *resolved* when no polygon touches it (-1), or when the
    lowest-code polygon touching it covers it (that polygon's index): every
    point of the closed cell gets that answer under the edge rule. Any other
    cell keeps the polygons touching it, and its points are tested exactly
    against them. Cells are classified from coarse to fine, splitting only
    unresolved ones, so building costs in proportion to the boundaries'
    length rather than to the area. Each cell is tested slightly enlarged, so
    rounding in the point → cell arithmetic cannot put a point outside the
    cell it was classified for.
    """

    @classmethod
    def fit(cls, geoms: np.ndarray, tree: shapely.STRtree) -> _Raster | None:
        """A raster with cells small beside the layer's polygons, or None if
        that would take more than RASTER_MAX_CELLS cells."""
        bounds = shapely.total_bounds(geoms)
        area = max(bounds[2] - bounds[0], 1e-9) * max(bounds[3] - bounds[1], 1e-9)
        size = float(np.median(np.sqrt(shapely.area(geoms))))
        step = min(np.sqrt(area / RASTER_MIN_CELLS), size / RASTER_CELLS_ACROSS)
        if not step > 0 or area / step ** 2 > RASTER_MAX_CELLS:
            return None
        return cls(geoms, tree, bounds, step)

    def __init__(self, geoms: np.ndarray, tree: shapely.STRtree, bounds: np.ndarray,
                 step: float) -> None:
        self.geoms, self.tree, self.bounds = geoms, tree, bounds
        xmin, ymin, xmax, ymax = bounds
        width, height = max(xmax - xmin, 1e-9), max(ymax - ymin, 1e-9)
        step *= 2 ** RASTER_LEVELS
        ny, nx = max(1, int(np.ceil(height / step))), max(1, int(np.ceil(width / step)))
        iy, ix = np.divmod(np.arange(ny * nx), nx)
        cells_value, pairs = self._classify(ix, iy, step)
        grid = cells_value.reshape(ny, nx)
        for _ in range(RASTER_LEVELS):
            grid = grid.repeat(2, axis=0).repeat(2, axis=1)
            step /= 2
            iy, ix = np.nonzero(grid == _MIXED)
            cells_value, pairs = self._classify(ix, iy, step)
            grid[iy, ix] = cells_value
        # Unresolved cells point (as -2 - k) to their candidates
        # ``candidates[start[k]:start[k + 1]]``, in code order.
        mixed = np.flatnonzero(cells_value == _MIXED)
        grid[iy[mixed], ix[mixed]] = _MIXED - np.arange(len(mixed))
        slot = np.full(len(cells_value), -1, dtype=np.int64)
        slot[mixed] = np.arange(len(mixed))
        cell, polygon = slot[pairs[0]], pairs[1]
        keep = cell >= 0
        cell, polygon = cell[keep], polygon[keep]
        order = np.lexsort((polygon, cell))
        self.candidates = polygon[order]
        self.start = np.concatenate(([0], np.cumsum(np.bincount(cell, minlength=len(mixed)))))
        self.grid = grid.astype(np.int32)
        self.step = step

    def _classify(self, ix: np.ndarray, iy: np.ndarray,
                  step: float) -> tuple[np.ndarray, np.ndarray]:
        """(value per cell: polygon index, -1 or _MIXED; the (cell, polygon)
        pairs that touch). Cells go in chunks, to bound the memory taken by
        shapely boxes."""
        value = np.full(len(ix), -1, dtype=np.int64)
        pairs = [np.empty((2, 0), dtype=np.int64)]
        pad = max(step * 1e-6, 1e-11)  # ≫ rounding of lng - xmin (≤ 3e-14 for |lng| ≤ 180)
        x0, y0 = self.bounds[0] - pad, self.bounds[1] - pad
        for start in range(0, len(ix), _CHUNK):
            cx, cy = ix[start:start + _CHUNK], iy[start:start + _CHUNK]
            boxes = shapely.box(x0 + cx * step, y0 + cy * step,
                                x0 + (cx + 1) * step + 2 * pad, y0 + (cy + 1) * step + 2 * pad)
            cell, polygon = self.tree.query(boxes)
            touch = shapely.intersects(self.geoms[polygon], boxes[cell])
            cell, polygon = cell[touch], polygon[touch]
            lowest = np.full(len(boxes), len(self.geoms), dtype=np.int64)
            np.minimum.at(lowest, cell, polygon)
            touched = np.flatnonzero(lowest < len(self.geoms))
            covers = shapely.covers(self.geoms[lowest[touched]], boxes[touched])
            value[start + touched] = np.where(covers, lowest[touched], _MIXED)
            pairs.append(np.stack([cell + start, polygon]))
        return value, np.concatenate(pairs, axis=1)

    def lookup(self, lng: np.ndarray, lat: np.ndarray,
               result: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Write the answer of resolved cells into ``result``; return the
        (point, candidate polygon) pairs left to test."""
        xmin, ymin, xmax, ymax = self.bounds
        points = np.flatnonzero((lng >= xmin) & (lng <= xmax) & (lat >= ymin) & (lat <= ymax))
        ny, nx = self.grid.shape
        ix = np.clip(((lng[points] - xmin) / self.step).astype(np.int64), 0, nx - 1)
        iy = np.clip(((lat[points] - ymin) / self.step).astype(np.int64), 0, ny - 1)
        value = self.grid[iy, ix]
        resolved = value >= 0
        result[points[resolved]] = value[resolved]
        mixed = value <= _MIXED
        points, slot = points[mixed], _MIXED - value[mixed].astype(np.int64)
        first, count = self.start[slot], self.start[slot + 1] - self.start[slot]
        pair_points = np.repeat(points, count)
        offsets = np.arange(len(pair_points)) - np.repeat(np.cumsum(count) - count, count)
        return pair_points, self.candidates[np.repeat(first, count) + offsets]


def _instance(model, **values):
    """A model instance as if loaded with ``only(*values)``: the other fields
    are deferred, so using them loads them and saving it writes only these."""
    fields = model._meta.concrete_fields
    return model.from_db("default", list(values), [
        values.get(f.attname, DEFERRED) for f in fields])


class SpatialIndex:
    def __init__(self, regions: list[Region], grids: list[Grid], revision: str = "") -> None:
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

    def place(self, region_id: int | None) -> tuple[Node, ...]:
        """The region and its ancestors below the city, top first (district,
        town, community): what tells apart two places of one name. A city
        is its own place; an unknown region has none. No query."""
        chain = self.chain(region_id)
        below = tuple(n for n in reversed(chain) if n.level != Level.CITY)
        return below or chain[:1]

    def path(self, region_id: int) -> str:
        """The region's materialised path ("/1/12/140/")."""
        return "/" + "".join(f"{node.id}/" for node in reversed(self.chain(region_id)))

    def region(self, region_id: int) -> Region | None:
        """The current region as a model instance built from memory (its
        other fields, the boundary among them, deferred): no query."""
        node = self.regions.get(region_id)
        if node is None:
            return None
        return _instance(Region, id=node.id, code=node.code, name=node.name, level=node.level,
                         parent_id=self.region_parent[node.id], path=self.path(node.id))

    def grid(self, grid_id: int) -> Grid | None:
        """The current grid as a model instance built from memory, like :meth:`region`."""
        i = self.grids.position.get(grid_id)
        if i is None:
            return None
        node, community_id = self.grids.nodes[i], int(self.grids.parent_ids[i])
        return _instance(Grid, id=node.id, code=node.code, name=node.name,
                         community_id=community_id, path=self.path(community_id))

    def locate_many(self, lng: ArrayLike, lat: ArrayLike, *,
                    raster: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Bulk locate. Returns (grid index or -1, lowest region id or 0) per
        point. ``raster`` as in ``_Layer.hit``: the answer is the same."""
        lng = np.asarray(lng, dtype=float)
        lat = np.asarray(lat, dtype=float)
        grid_idx = self.grids.hit(lng, lat, raster=raster)
        region_ids = np.zeros(len(lng), dtype=np.int64)
        found = grid_idx >= 0
        region_ids[found] = self.grids.parent_ids[grid_idx[found]]
        missing = np.flatnonzero(~found)
        for level in reversed(REGION_LEVELS):
            if not len(missing):
                break
            layer = self.layers[level]
            hit = layer.hit(lng[missing], lat[missing], raster=raster)
            ok = hit >= 0
            region_ids[missing[ok]] = layer.ids[hit[ok]]
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
