"""Reads of the territory for maps, always through the actor's scope."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import numpy as np
import shapely
from django.core.cache import cache
from django.db.models import Count, Q
from django.utils.translation import gettext

from shanzhi.core.errors import ValidationError

from .index import get_index
from .models import Grid, Level, Region, TerritoryRevision

if TYPE_CHECKING:  # the actor's territory (accounts.scope) is passed in: geo sits below accounts
    from shanzhi.accounts.scope import Scope

MAX_ZOOM = 18


def current_region(code: str, *, field: str = "region") -> Region:
    """The region holding ``code`` now (unscoped: for operator commands and
    services that check their own rights), or a ValidationError on ``field``."""
    region = Region.objects.current().defer("geometry").filter(code=code).first()
    if region is None:
        raise ValidationError(gettext("no current region with code %(code)r") % {"code": code},
                              field=field)
    return region


def tolerance_for_zoom(zoom: int) -> float:
    """Half a screen pixel, in degrees, at this zoom level (256-pixel tiles)."""
    return 0.5 * 360.0 / (256 * 2 ** zoom)


def _features(nodes, level: str, zoom: int, counts: dict[int, int] | None = None) -> list[dict]:
    with_geometry = [n for n in nodes if n.geometry]
    geoms = shapely.from_wkb([bytes(n.geometry) for n in with_geometry]) if with_geometry else []
    if len(geoms):
        geoms = shapely.simplify(geoms, tolerance_for_zoom(zoom), preserve_topology=True)
        # a precision that matches the zoom keeps the JSON small
        geoms = shapely.set_precision(geoms, min(tolerance_for_zoom(zoom) / 4, 1e-3))
    features = []
    for node, geom in zip(with_geometry, geoms, strict=True):
        if shapely.is_empty(geom):
            continue
        props = {"id": node.pk, "code": node.code, "name": node.name, "level": level,
                 "generated": node.generated}
        if counts is not None:
            props["children"] = counts.get(node.pk, 0)
        features.append({"type": "Feature", "id": node.pk,
                         "geometry": json.loads(shapely.to_geojson(geom)), "properties": props})
    return features


def children_geojson(*, scope: Scope, region: Region, zoom: int) -> dict:
    """The children of ``region`` (regions, or grids below a community) as a
    GeoJSON FeatureCollection simplified for ``zoom``; cached per territory
    revision."""
    zoom = max(0, min(MAX_ZOOM, zoom))
    key = f"geo:children:{TerritoryRevision.current()}:{region.pk}:{zoom}"
    features = cache.get(key)
    if features is None:
        if region.level == Level.COMMUNITY:
            features = _features(Grid.objects.current().filter(community=region), Level.GRID, zoom)
        else:
            children = list(Region.objects.current().filter(parent=region).annotate(
                n_regions=Count("children", filter=Q(children__valid_to__isnull=True)),
                n_grids=Count("grids", filter=Q(grids__valid_to__isnull=True))))
            counts = {c.pk: c.n_regions or c.n_grids for c in children}
            features = _features(children, children[0].level if children else "", zoom, counts)
        cache.set(key, features)
    if scope.grid_ids is not None:
        features = [f for f in features
                    if f["properties"]["level"] != Level.GRID or f["id"] in scope.grid_ids]
    return {"type": "FeatureCollection", "features": features}


def grids_geojson(*, scope: Scope, region: Region, zoom: int) -> dict:
    """Every grid under ``region`` with its properties (for the grid overlay),
    simplified and cached. The mesh, which needs only codes, is ``grid_mesh``."""
    zoom = max(0, min(MAX_ZOOM, zoom))
    key = f"geo:grids:{TerritoryRevision.current()}:{region.pk}:{zoom}"
    features = cache.get(key)
    if features is None:
        grids = Grid.objects.current().filter(path__startswith=region.path).only(
            "id", "code", "name", "geometry", "generated")
        features = _features(grids, Level.GRID, zoom)
        cache.set(key, features)
    if scope.grid_ids is not None:
        features = [f for f in features if f["id"] in scope.grid_ids]
    return {"type": "FeatureCollection", "features": features}


def mesh_decimals(zoom: int) -> int:
    """Decimals of the mesh's coordinates at ``zoom``: steps of at most a
    quarter pixel (4 at a city's zoom 9, 6 at zoom 16)."""
    return max(1, min(7, math.ceil(-math.log10(tolerance_for_zoom(zoom) / 2))))


def _mesh_features(codes: list[str], geoms: np.ndarray, decimals: int) -> list[str]:
    """One GeoJSON Feature text per grid: its outline as a (Multi)Polygon with
    coordinates rounded to ``decimals`` (repeated points dropped), its code as
    the only property. A ring left with fewer than three distinct points is
    dropped; a grid left with no polygon (smaller than a rounding step) becomes
    a square of one step at a point inside it, so that it is still drawn: the
    mesh shows every grid. Vectorised over all rings; Python only joins text."""
    parts, part_grid = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    xy = np.round(coords, decimals)
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = (xy[1:] != xy[:-1]).any(axis=1) | (coord_ring[1:] != coord_ring[:-1])
    xy, coord_ring = xy[keep], coord_ring[keep]
    ends = np.cumsum(np.bincount(coord_ring, minlength=len(rings)))
    starts = np.concatenate(([0], ends[:-1]))
    points = [f"[{x!r},{y!r}]" for x, y in xy.tolist()]
    shell = np.ones(len(rings), dtype=bool)
    shell[1:] = ring_part[1:] != ring_part[:-1]  # each part's first ring is its exterior
    polygons: list[list[str]] = [[] for _ in range(len(codes))]
    current: list[str] | None = None
    for a, b, part, is_shell in zip(starts.tolist(), ends.tolist(), ring_part.tolist(),
                                    shell.tolist(), strict=True):
        text = "[" + ",".join(points[a:b]) + "]" if b - a >= 4 else None
        if is_shell:
            current = [text] if text else None
            if current is not None:
                polygons[int(part_grid[part])].append(current)
        elif current is not None and text:
            current.append(text)
    features = []
    for code, geom, found in zip(codes, geoms, polygons, strict=True):
        if not found:
            x, y = (round(float(v), decimals) for v in
                    shapely.get_coordinates(shapely.point_on_surface(geom))[0])
            x2, y2 = round(x + 10.0 ** -decimals, decimals), round(y + 10.0 ** -decimals,
                                                                   decimals)
            found = [[f"[[{x!r},{y!r}],[{x2!r},{y!r}],[{x2!r},{y2!r}],[{x!r},{y2!r}],"
                      f"[{x!r},{y!r}]]"]]
        rings_text = ["[" + ",".join(polygon) + "]" for polygon in found]
        geometry = ('{"type":"Polygon","coordinates":' + rings_text[0] + "}"
                    if len(rings_text) == 1 else
                    '{"type":"MultiPolygon","coordinates":[' + ",".join(rings_text) + "]}")
        features.append('{"type":"Feature","properties":{"code":' + json.dumps(code)
                        + '},"geometry":' + geometry + "}")
    return features


def _mesh_pieces(region: Region, zoom: int) -> tuple[list[int], list[str]]:
    """(grid ids, one GeoJSON Feature text each) of every grid under
    ``region``, from the spatial index's shapes (no query), simplified to half
    a pixel at ``zoom``, rounded to a quarter pixel, with only the code as
    property. Cached per (territory revision, region, zoom)."""
    index = get_index()
    key = f"geo:mesh:{index.revision}:{region.pk}:{zoom}"
    pieces = cache.get(key)
    if pieces is not None:
        return pieces
    layer = index.grids
    positions = [i for i, community in enumerate(layer.parent_ids.tolist())
                 if index.path(community).startswith(region.path)]
    geoms = shapely.simplify(layer.geoms[positions], tolerance_for_zoom(zoom),
                             preserve_topology=True)
    nodes = [layer.nodes[i] for i in positions]
    features = _mesh_features([n.code for n in nodes], geoms, mesh_decimals(zoom))
    pieces = ([n.id for n in nodes], features)
    cache.set(key, pieces)
    return pieces


def grid_mesh(*, scope: Scope, region: Region, zoom: int) -> str:
    """Every grid of ``scope`` under ``region`` as the text of a GeoJSON
    FeatureCollection for the grid mesh: each grid once (a grid too small to
    see at ``zoom`` still as a speck), its code as the only property,
    coordinates rounded to the zoom's precision. The pieces are cached per
    territory revision, region and zoom; the scope only picks among them."""
    zoom = max(0, min(MAX_ZOOM, zoom))
    ids, features = _mesh_pieces(region, zoom)
    if scope.grid_ids is not None:
        features = [f for grid_id, f in zip(ids, features, strict=True)
                    if grid_id in scope.grid_ids]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


def bbox(node) -> list[float] | None:
    if not node.geometry:
        return None
    return [round(float(v), 6) for v in shapely.bounds(shapely.from_wkb(bytes(node.geometry)))]


def territory_bbox(nodes) -> list[float] | None:
    boxes = [b for b in (bbox(n) for n in nodes) if b]
    if not boxes:
        return None
    arr = np.array(boxes)
    return [float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()),
            float(arr[:, 3].max())]


def ancestors(scope: Scope, node) -> list[Region]:
    """The node's ancestors inside the scope, top first (for breadcrumbs)."""
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    if isinstance(node, Region):
        ids = ids[:-1]
    found = {r.pk: r for r in scope.regions().filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def search(*, scope: Scope, q: str, limit: int = 20) -> list[Region | Grid]:
    """Regions and grids whose code starts with ``q`` or whose name contains it."""
    q = q.strip()
    if not q:
        return []
    match = Q(code__startswith=q) | Q(name__contains=q)
    regions = list(scope.regions().filter(match).order_by("path")[:limit])
    grids = list(scope.grids().filter(match).order_by("code")[: max(0, limit - len(regions))])
    return [*regions, *grids]
