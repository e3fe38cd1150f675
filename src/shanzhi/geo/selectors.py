"""Reads of the territory for maps, always through the actor's scope."""

from __future__ import annotations

import json

import numpy as np
import shapely
from django.core.cache import cache
from django.db.models import Count, Q

from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import ValidationError

from .models import Grid, Level, Region, TerritoryRevision

MAX_ZOOM = 18


def current_region(code: str, *, field: str = "region") -> Region:
    """The region holding ``code`` now (unscoped: for operator commands and
    services that check their own rights), or a ValidationError on ``field``."""
    region = Region.objects.current().defer("geometry").filter(code=code).first()
    if region is None:
        raise ValidationError(f"no current region with code {code!r}", field=field)
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


def grids_geojson(*, scope: Scope, region: Region, zoom: int, slim: bool = False) -> dict:
    """Every grid under ``region`` (for the grid overlay), simplified and cached.
    ``slim`` keeps only each grid's code (a mesh of 10,000 grids stays small)."""
    zoom = max(0, min(MAX_ZOOM, zoom))
    key = f"geo:grids:{TerritoryRevision.current()}:{region.pk}:{zoom}:{int(slim)}"
    features = cache.get(key)
    if features is None:
        grids = Grid.objects.current().filter(path__startswith=region.path).only(
            "id", "code", "name", "geometry", "generated")
        features = _features(grids, Level.GRID, zoom)
        if slim:
            for feature in features:
                feature["properties"] = {"code": feature["properties"]["code"]}
        cache.set(key, features)
    if scope.grid_ids is not None:
        features = [f for f in features if f["id"] in scope.grid_ids]
    return {"type": "FeatureCollection", "features": features}


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
