"""The command centre's data: ``/api/v1/command/…`` (session or bearer token).

``summary`` answers the figures of one region of the territory (the user's
whole territory without ``region``): KPI tiles, the 30-day trend, the top
categories, the channels, the longest-overdue list and the counts per child
region (per grid below a community), joined to the map's GeoJSON by code on
the client. ``points`` gives the open incidents to cluster on the map, capped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from shanzhi.accounts.scope import Scope
from shanzhi.core.input import Out, errors

from . import mediation as figures
from . import selectors

router = Router(tags=["command centre"])
#: A region of the user's territory (its code); the whole territory when empty.
RegionCode = Annotated[str, Query(max_length=32)]


class FocusRegionOut(Out):
    code: str
    name: str
    level: str


class DayOut(Out):
    day: str
    reported: int
    closed: int


class CategoryCountOut(Out):
    code: str
    name: str
    reported: int


class ChannelCountOut(Out):
    channel: str
    label: str
    reported: int


class OverdueOut(Out):
    number: str
    state: str
    state_label: str
    due_at: str
    overdue_hours: float
    category: str
    region: str
    with_: str | None = Field(alias="with")


class AreaOut(Out):
    code: str
    name: str
    open: int
    overdue: int
    near_due: int
    reported: int


class AreasOut(Out):
    kind: Literal["region", "grid"]
    items: list[AreaOut]


class IntakeModelOut(Out):
    version: int | None
    trained_at: str | None
    rows: int | None
    accuracy: float | None
    macro_f1: float | None


class IntakeMatchOut(Out):
    """Of the incidents reported in the window with a suggestion and a final
    category, how many ended in the suggested one (``rate``: None without any)."""

    suggested: int
    matched: int
    rate: float | None
    window: dict[str, str]
    model: IntakeModelOut | None


class SummaryOut(Out):
    region: FocusRegionOut | None
    source: Literal["rollups", "incidents"]
    kpis: dict[str, Any]
    trend: list[DayOut]
    categories: list[CategoryCountOut]
    channels: list[ChannelCountOut]
    overdue: list[OverdueOut]
    areas: AreasOut
    #: The follow-up visits: open, overdue, near_due.
    followups: dict[str, int]
    #: Smart intake: the match rate of the category suggestions.
    intake: IntakeMatchOut


class PointOut(Out):
    number: str
    lng: float
    lat: float
    state: str
    light: str
    category: str


class PointsOut(Out):
    shown: int
    capped: bool
    items: list[PointOut]


def _focus(request: HttpRequest, region: str | None):
    scope = Scope.for_user(request.user)
    return scope, selectors.focus_for(scope=scope, region=region or None)


def _region_out(focus: selectors.Focus) -> dict | None:
    r = focus.region
    return {"code": r.code, "name": r.name, "level": r.level} if r else None


@router.get("/summary", response={200: SummaryOut, **errors(404)}, by_alias=True,
            summary="The command centre's figures for a region of my territory")
def summary(request: HttpRequest, region: RegionCode = ""):
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
        "followups": selectors.followups(scope=scope, focus=focus),
        "intake": selectors.intake_match(scope=scope, focus=focus),
    }


class MediationTypeOut(Out):
    key: str
    label: str
    count: int


class MediationOut(Out):
    region: FocusRegionOut | None
    open: int
    overdue: int
    open_by_state: dict[str, int]
    open_by_risk: dict[str, int]
    open_by_type: dict[str, int]
    types: list[MediationTypeOut]
    outcomes: dict[str, int]
    resolved: int
    days_to_resolve: dict[str, float | None]
    window: dict[str, str]


@router.get("/mediation", response={200: MediationOut, **errors(404)},
            summary="Dispute mediation figures for a region of my territory")
def mediation(request: HttpRequest, region: RegionCode = ""):
    scope, focus = _focus(request, region)
    return {"region": _region_out(focus),
            **figures.labelled(figures.mediation_figures(scope, paths=focus.paths))}


@router.get("/points", response={200: PointsOut, **errors(404)},
            summary="Open incidents of a region of my territory, for the map")
def points(request: HttpRequest, region: RegionCode = ""):
    scope, focus = _focus(request, region)
    return selectors.points(scope=scope, focus=focus)
