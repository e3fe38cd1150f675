"""Address to place over the API: the type-ahead of the intake form and the
resolver (docs/intake.md, "Address to place"). Houses' addresses are those
the asking user's territory holds; the gazetteer's and regions' names are
everyone's."""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Query, Router

from shanzhi.accounts.scope import Scope
from shanzhi.cases.api import actor_of
from shanzhi.core.errors import ValidationError
from shanzhi.core.input import AsciiInt, Out, errors
from shanzhi.geo.index import get_index

from . import places

router = Router(tags=["intake"])
#: What was typed: an address, a road, a landmark, a region's name.
Typed = Annotated[str, Query(max_length=200, description="the address as typed")]


class OptionOut(Out):
    label: str
    kind: str
    lng: float | None
    lat: float | None


class NamedOut(Out):
    code: str
    name: str


class ResolvedPlaceOut(Out):
    label: str
    kind: str
    lng: float | None
    lat: float | None
    grid: NamedOut | None
    region: NamedOut | None
    confidence: float
    #: Whether a report may be placed here without the operator.
    confident: bool


class ResolveOut(Out):
    q: str
    place: ResolvedPlaceOut | None


def _typed(q: str) -> str:
    if not q.strip():
        raise ValidationError(gettext("Type an address."), field="q", code="required")
    return q


def present(place: places.Place | None) -> dict | None:
    """The place as the API answers it (grid and region by code and name)."""
    if place is None:
        return None
    index = get_index()
    grid = index.grid(place.grid_id) if place.grid_id else None
    region = index.region(place.region_id) if place.region_id else None
    return {"label": place.label, "kind": place.kind, "lng": place.lng, "lat": place.lat,
            "grid": {"code": grid.code, "name": grid.name} if grid else None,
            "region": {"code": region.code, "name": region.name} if region else None,
            "confidence": place.confidence, "confident": place.confident}


@router.get("/places/complete", response={200: list[OptionOut], **errors()},
            summary="Type-ahead over known addresses and names")
def complete(request: HttpRequest, q: Typed = "",
             limit: Annotated[AsciiInt, Query(10, ge=1, le=50)] = 10):
    """Names of roads, landmarks and areas (and their aliases) and regions
    starting with, then containing, ``q``; with a road and a door number
    typed, the standard addresses of the buildings (or, with a room, the
    houses) there that your territory holds."""
    scope = Scope.for_user(actor_of(request))
    return places.complete(_typed(q), scope=scope, limit=limit)


@router.get("/places/resolve", response={200: ResolveOut, **errors()},
            summary="Resolve a typed address to a point, a grid and a confidence")
def resolve(request: HttpRequest, q: Typed = ""):
    """``place`` is null when nothing in the text is known. ``confident``
    false (a whole road, an area, a region, or a weak match): a report placed
    by this address alone is flagged for the operator."""
    scope = Scope.for_user(actor_of(request))
    return {"q": q, "place": present(places.resolve(_typed(q), scope=scope))}
