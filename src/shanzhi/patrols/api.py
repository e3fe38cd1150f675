"""The patrol API (巡查) the phone speaks: start, points, check-ins, stop, the
day's list and one patrol with its track. Every write is idempotent by the
ids and instants the phone gives (docs/patrols.md). Views parse, call a
service or selector, present."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext
from ninja import Path, Router, Status
from pydantic import BaseModel, ConfigDict, Field

from shanzhi.accounts.scope import Scope
from shanzhi.cases.api import Filter, Limit, Offset, actor_of, body, multipart, page, validate
from shanzhi.cases.engine import MAX_NOTE
from shanzhi.core.errors import NotFound
from shanzhi.core.input import MAX_ID, AsciiInt, Day, Out, errors, longest

from . import selectors, services
from .models import CheckIn, Patrol

router = Router(tags=["patrols"])
#: wgs84, gcj02 or bd09, in any case (geo.crs).
CRS_PATTERN = r"^(?i:wgs84|gcj02|bd09)$"
PatrolKey = Annotated[uuid.UUID, Path(description="the patrol's id (a UUID the phone made)")]


# ---------------------------------------------------------------- input

class PatrolStartIn(BaseModel):
    """A patrol begins. ``id`` is made by the phone (a UUID), so that a patrol
    started offline keeps its name: the same id again answers the same patrol."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    id: uuid.UUID
    started_at: dt.datetime = Field(description="with a time zone; not in the future")
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: str = Field("wgs84", pattern=CRS_PATTERN)


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    at: dt.datetime = Field(description="with a time zone; within the patrol")
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy: float | None = Field(None, ge=0, le=1_000_000,
                                   description="metres (the phone's estimate)")


class PointsIn(BaseModel):
    """Positions of the track; a point at an instant already stored is skipped."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    points: list[PointIn] = Field(max_length=services.MAX_POINTS_PER_REQUEST)
    crs: str = Field("wgs84", pattern=CRS_PATTERN)


class CheckInIn(BaseModel):
    """A check-in (打卡): ``id`` made by the phone; photos as multipart ``photos``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    id: uuid.UUID
    at: dt.datetime = Field(description="with a time zone; within the patrol")
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: str = Field("wgs84", pattern=CRS_PATTERN)
    note: str = Field("", **longest(MAX_NOTE))


class StopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ended_at: dt.datetime = Field(description="with a time zone; not before the start")


# ---------------------------------------------------------------- output

class NamedOut(Out):
    code: str
    name: str


class WorkerOut(Out):
    username: str
    name: str


class PhotoOut(Out):
    url: str
    content_type: str
    size: int
    sha256: str


class CheckInOut(Out):
    id: uuid.UUID
    at: dt.datetime
    lng: float | None
    lat: float | None
    grid: NamedOut | None
    note: str
    photos: list[PhotoOut]


class PatrolOut(Out):
    id: uuid.UUID
    worker: WorkerOut
    grid: NamedOut | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    running: bool
    distance_m: float
    duration_s: int
    points: int
    checkins: list[CheckInOut]


class LineStringOut(Out):
    type: Literal["LineString"]
    coordinates: list[list[float]]


class PatrolDetailOut(PatrolOut):
    #: The track in WGS-84 (null with fewer than two points).
    track: LineStringOut | None
    #: The instant of each position of ``track``.
    times: list[dt.datetime]


class PatrolPage(Out):
    count: int
    limit: int
    offset: int
    items: list[PatrolOut]


def photo_url(patrol: Patrol, photo) -> str:
    return f"/api/v1/patrols/{patrol.pk}/photos/{photo.pk}"


def checkin_out(patrol: Patrol, c: CheckIn) -> dict:
    return {"id": c.id, "at": c.at, "lng": c.lng, "lat": c.lat,
            "grid": {"code": c.grid.code, "name": c.grid.name} if c.grid_id else None,
            "note": c.note,
            "photos": [{"url": photo_url(patrol, p), "content_type": p.content_type,
                        "size": p.size, "sha256": p.sha256} for p in c.photos.all()]}


def patrol_out(patrol: Patrol, *, detail: bool = False) -> dict:
    out = {
        "id": patrol.id,
        "worker": {"username": patrol.worker.username, "name": str(patrol.worker)},
        "grid": ({"code": patrol.grid.code, "name": patrol.grid.name}
                 if patrol.grid_id else None),
        "started_at": patrol.started_at, "ended_at": patrol.ended_at,
        "running": patrol.ended_at is None, "distance_m": patrol.distance_m,
        "duration_s": patrol.duration_s, "points": patrol.point_count,
        "checkins": [checkin_out(patrol, c) for c in patrol.checkins.all()],
    }
    if detail:
        track = patrol.track
        out["track"] = ({"type": "LineString", "coordinates": [[p[1], p[2]] for p in track]}
                        if len(track) >= 2 else None)
        out["times"] = [p[0] for p in track]
    return out


def _answer(actor, patrol_id) -> dict:
    return patrol_out(selectors.patrol_detail(actor=actor, patrol_id=patrol_id))


# ---------------------------------------------------------------- endpoints

@router.post("/patrols", summary="Start a patrol (grid workers)",
             response={200: PatrolOut, 201: PatrolOut, **errors(403, 409, 413)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": PatrolStartIn.model_json_schema()}}}})
def patrol_start(request: HttpRequest):
    """201 with the new patrol; 200 with the stored one when the same ``id``
    is sent again (a retry); 409 when the id names another worker's patrol.
    A start point (``lng``, ``lat`` in ``crs``) must lie in one of your grids."""
    actor = actor_of(request)
    data, _photos = body(request)
    sent = validate(PatrolStartIn, data)
    patrol, created = services.patrol_start(actor=actor, **sent.model_dump())
    return Status(201 if created else 200, _answer(actor, patrol.pk))


@router.get("/patrols", response={200: PatrolPage, **errors()},
            summary="Patrols in my territory (a grid worker: my own)")
def patrol_list(request: HttpRequest, day: Day | None = None, worker: Filter = "",
                grid: Filter = "", limit: Limit = 50, offset: Offset = 0):
    """``day``: the local day the patrols started; ``worker``: a username;
    ``grid``: a grid code. Newest first."""
    actor = actor_of(request)
    qs = selectors.patrols_list(Scope.for_user(actor), day=day, worker=worker or None,
                                grid=grid or None)
    return page(qs, limit, offset, patrol_out)


@router.get("/patrols/{patrol_id}", response={200: PatrolDetailOut, **errors(404)},
            summary="One patrol, with its track as GeoJSON and its check-ins")
def patrol_detail(request: HttpRequest, patrol_id: PatrolKey):
    actor = actor_of(request)
    return patrol_out(selectors.patrol_detail(actor=actor, patrol_id=patrol_id), detail=True)


@router.post("/patrols/{patrol_id}/points", summary="Add positions to a patrol's track",
             response={200: PatrolOut, **errors(404, 413)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": PointsIn.model_json_schema()}}}})
def patrol_points(request: HttpRequest, patrol_id: PatrolKey):
    """At most 500 points a request and 20,000 a patrol. Points are keyed by
    their instant: one sent again is skipped. Each must lie within the patrol
    (a stopped patrol still takes the late points of an offline phone)."""
    actor = actor_of(request)
    data, _photos = body(request)
    sent = validate(PointsIn, data)
    services.patrol_points(actor=actor, patrol_id=patrol_id,
                           points=[p.model_dump() for p in sent.points], crs=sent.crs)
    return _answer(actor, patrol_id)


@router.post("/patrols/{patrol_id}/checkins", summary="Check in at a point of a patrol",
             response={200: PatrolOut, 201: PatrolOut, **errors(404, 409, 413)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CheckInIn.model_json_schema()},
                 "multipart/form-data": {"schema": multipart(CheckInIn)}}}})
def patrol_checkin(request: HttpRequest, patrol_id: PatrolKey):
    """201 with the patrol and the new check-in; 200 when the same check-in
    ``id`` is sent again; 409 when the id names another check-in."""
    actor = actor_of(request)
    data, photos = body(request)
    sent = validate(CheckInIn, data)
    _checkin, created = services.patrol_checkin(actor=actor, patrol_id=patrol_id,
                                                photos=photos, **sent.model_dump())
    return Status(201 if created else 200, _answer(actor, patrol_id))


@router.post("/patrols/{patrol_id}/stop", summary="Stop a patrol",
             response={200: PatrolOut, **errors(404, 413)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": StopIn.model_json_schema()}}}})
def patrol_stop(request: HttpRequest, patrol_id: PatrolKey):
    """Stopping a stopped patrol again, at any time, answers it as it is."""
    actor = actor_of(request)
    data, _photos = body(request)
    sent = validate(StopIn, data)
    services.patrol_stop(actor=actor, patrol_id=patrol_id, ended_at=sent.ended_at)
    return _answer(actor, patrol_id)


@router.get("/patrols/{patrol_id}/photos/{photo_id}", response={200: None, **errors(404)},
            openapi_extra={"responses": {200: {"description": "the photo", "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png")}}}},
            summary="A photo of a patrol's check-in (as scoped as the patrol)")
def patrol_photo(request: HttpRequest, patrol_id: PatrolKey,
                 photo_id: Annotated[AsciiInt, Path(ge=1, le=MAX_ID)]):
    actor = actor_of(request)
    patrol = selectors.patrol_detail(actor=actor, patrol_id=patrol_id)
    found = next((p for c in patrol.checkins.all() for p in c.photos.all() if p.pk == photo_id),
                 None)
    if found is None:
        raise NotFound(gettext("No such photo."), field="photo_id")
    response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
