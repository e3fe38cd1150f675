"""The command centre's data: ``/api/v1/command/…`` (session or bearer token).

``summary`` answers the figures of one region of the territory (the user's
whole territory without ``region``): KPI tiles, the 30-day trend, the top
categories, the channels, the longest-overdue list and the counts per child
region (per grid below a community), joined to the map's GeoJSON by code on
the client. ``points`` gives the open incidents to cluster on the map, capped.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from shanzhi.accounts.scope import Scope

from . import selectors

router = Router(tags=["command centre"])


def _focus(request: HttpRequest, region: str | None):
    scope = Scope.for_user(request.user)
    return scope, selectors.focus_for(scope=scope, region=region or None)


def _region_out(focus: selectors.Focus) -> dict | None:
    r = focus.region
    return {"code": r.code, "name": r.name, "level": r.level} if r else None


@router.get("/summary", summary="The command centre's figures for a region of my territory")
def summary(request: HttpRequest, region: str = ""):
    scope, focus = _focus(request, region)
    return {
        "region": _region_out(focus),
        "source": "rollups" if selectors.uses_rollups(scope) else "incidents",
        "kpis": selectors.kpis(scope=scope, focus=focus),
        "trend": selectors.trend(scope=scope, focus=focus),
        "categories": selectors.top_categories(scope=scope, focus=focus),
        "channels": selectors.channels(scope=scope, focus=focus),
        "overdue": selectors.longest_overdue(scope=scope, focus=focus),
        "areas": selectors.areas(scope=scope, focus=focus),
    }


@router.get("/points", summary="Open incidents of a region of my territory, for the map")
def points(request: HttpRequest, region: str = ""):
    scope, focus = _focus(request, region)
    return selectors.points(scope=scope, focus=focus)
