"""Territory endpoints: locate a point, and GeoJSON for maps."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from ninja import Path, Query, Router

from shanzhi.accounts.scope import Scope, point_check_territory
from shanzhi.core.errors import ValidationError
from shanzhi.core.input import AsciiInt, Out, errors

from . import selectors
from .crs import check_crs, check_lng_lat, to_wgs84
from .index import get_index
from .models import Grid, Level, Region, TerritoryRevision

router = Router(tags=["territory"])
#: A region's or a grid's code in a path.
Code = Annotated[str, Path(max_length=32)]
#: wgs84, gcj02 or bd09, in any case.
CRS_PATTERN = r"^(?i:wgs84|gcj02|bd09)$"
#: The map's zoom level.
Zoom = Annotated[AsciiInt, Query(10, ge=0, le=24)]
#: A coordinate as text (it is parsed and range-checked by geo.crs).
Coordinate = Annotated[str, Query(max_length=40)]
GEOJSON = {"responses": {
    200: {"description": "a GeoJSON FeatureCollection", "content": {
        "application/geo+json": {"schema": {"type": "object"}}}},
    304: {"description": "not modified since the ETag sent in If-None-Match"}}}


class NodeOut(Out):
    level: str
    code: str
    name: str


class LocationOut(Out):
    lng: float
    lat: float
    inside: bool
    grid: NodeOut | None
    regions: list[NodeOut]
    #: Whether the asking user may report an incident at this point (the
    #: intake's rule: a grid worker inside their own grids, anyone else inside
    #: their territory); if not, ``territory_message`` says why.
    in_territory: bool
    territory_message: str | None


class RegionOut(Out):
    level: str
    code: str
    name: str
    generated: bool
    valid_from: str | None
    valid_to: str | None
    bbox: list[float] | None
    ancestors: list[NodeOut]
    children: int


class SearchHit(Out):
    level: str
    code: str
    name: str
    bbox: list[float] | None
    path: list[str]


class TerritoryOut(Out):
    roots: list[RegionOut]
    bbox: list[float] | None
    grid_ids: list[int] | None


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


@router.get("/locate", response={200: LocationOut, **errors()},
            summary="Find the grid and regions of a point")
def locate(request: HttpRequest, lat: Coordinate = "", lng: Coordinate = "",
           crs: Annotated[str, Query(pattern=CRS_PATTERN)] = "wgs84"):
    """The point may be given in WGS-84, GCJ-02 or BD-09; the answer's
    coordinates are WGS-84. ``inside`` is false when no grid covers the point;
    ``regions`` still lists the lowest region that does, up to the city.
    ``in_territory`` says whether the asking user may report there (the rule
    of ``accounts.scope.point_check_territory``), ``territory_message``
    why not."""
    crs = check_crs(crs)
    if not lat or not lng:
        raise ValidationError(gettext("lat and lng are required."),
                              field="lat" if not lat else "lng")
    lng_f, lat_f = check_lng_lat(lng, lat)
    lng_f, lat_f = to_wgs84(lng_f, lat_f, crs)
    location = get_index().locate(lng_f, lat_f)
    try:
        point_check_territory(location=location, scope=_scope(request))
    except ValidationError as exc:
        return {**location.as_dict(), "in_territory": False, "territory_message": exc.message}
    return {**location.as_dict(), "in_territory": True, "territory_message": None}


def _region_out(scope: Scope, region: Region) -> dict:
    return {
        "level": region.level, "code": region.code, "name": region.name,
        "generated": region.generated,
        "valid_from": region.valid_from.isoformat() if region.valid_from else None,
        "valid_to": region.valid_to.isoformat() if region.valid_to else None,
        "bbox": selectors.bbox(region),
        "ancestors": [{"level": a.level, "code": a.code, "name": a.name}
                      for a in selectors.ancestors(scope, region)],
        "children": (scope.grids().filter(community=region).count()
                     if region.level == Level.COMMUNITY
                     else region.children.filter(valid_to__isnull=True).count()),
    }


@router.get("/territory", response={200: TerritoryOut, **errors()},
            summary="The regions where my map starts")
def territory(request: HttpRequest):
    scope = _scope(request)
    roots = list(scope.roots())
    return {"roots": [_region_out(scope, r) for r in roots],
            "bbox": selectors.territory_bbox(roots),
            "grid_ids": sorted(scope.grid_ids) if scope.grid_ids is not None else None}


@router.get("/regions/{code}", response={200: RegionOut, **errors(404)},
            summary="One region of my territory")
def region_detail(request: HttpRequest, code: Code):
    scope = _scope(request)
    return _region_out(scope, scope.region(code))


def _geojson_response(request: HttpRequest, payload_fn, *key_parts) -> HttpResponse:
    etag = '"' + hashlib.sha256(":".join(map(str, key_parts)).encode()).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponse(status=304, headers={"ETag": etag})
    payload = payload_fn()
    body = (payload if isinstance(payload, str)
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
    return HttpResponse(body, content_type="application/geo+json; charset=utf-8",
                        headers={"ETag": etag, "Cache-Control": "private, max-age=300"})


@router.get("/regions/{code}/children.geojson", response={200: None, 304: None, **errors(404)},
            openapi_extra=GEOJSON, summary="Children of a region, for maps")
def region_children(request: HttpRequest, code: Code, zoom: Zoom = 10):
    """Regions one level down (grids below a community) as a FeatureCollection,
    simplified to half a pixel at ``zoom`` and cached."""
    scope = _scope(request)
    region = scope.region(code)
    return _geojson_response(
        request, lambda: selectors.children_geojson(scope=scope, region=region, zoom=zoom),
        "children", TerritoryRevision.current(), region.pk, zoom, scope)


@router.get("/regions/{code}/grids.geojson", response={200: None, 304: None, **errors(404)},
            openapi_extra=GEOJSON, summary="Every grid under a region, for maps")
def region_grids(request: HttpRequest, code: Code, zoom: Zoom = 10, slim: bool = False):
    """``slim=true`` is the grid mesh: only each grid's code, outlines rounded
    to the zoom's precision, every grid drawn (see ``selectors.grid_mesh``)."""
    scope = _scope(request)
    region = scope.region(code)
    if slim:
        return _geojson_response(
            request, lambda: selectors.grid_mesh(scope=scope, region=region, zoom=zoom),
            "mesh", get_index().revision, region.pk, zoom, scope)  # the shapes served
    return _geojson_response(
        request, lambda: selectors.grids_geojson(scope=scope, region=region, zoom=zoom),
        "grids", TerritoryRevision.current(), region.pk, zoom, scope)


class GridDetailOut(Out):
    level: str
    code: str
    name: str
    generated: bool
    bbox: list[float] | None
    ancestors: list[NodeOut]


@router.get("/grids/{code}", response={200: GridDetailOut, **errors(404)},
            summary="One grid of my territory")
def grid_detail(request: HttpRequest, code: Code):
    scope = _scope(request)
    grid = scope.grid(code)
    return {"level": Level.GRID, "code": grid.code, "name": grid.name,
            "generated": grid.generated, "bbox": selectors.bbox(grid),
            "ancestors": [{"level": a.level, "code": a.code, "name": a.name}
                          for a in selectors.ancestors(scope, grid)]}


@router.get("/search", response={200: list[SearchHit], **errors()},
            summary="Find regions and grids by code or name")
def search(request: HttpRequest, q: Annotated[str, Query(max_length=100)] = ""):
    scope = _scope(request)
    hits = []
    for node in selectors.search(scope=scope, q=q):
        level = Level.GRID if isinstance(node, Grid) else node.level
        chain = [a.code for a in selectors.ancestors(scope, node)]
        hits.append({"level": level, "code": node.code, "name": node.name,
                     "bbox": selectors.bbox(node), "path": chain})
    return hits
