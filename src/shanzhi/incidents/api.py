"""The incident API: intake from every channel, the list, the contact, the
categories, the device webhook; the detail, timeline, attachments and
workflow actions come from the case engine's routes (``cases.api``). Views
parse, call a service, present."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Router, Status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.cases.api import (
    AttachmentOut,
    Filter,
    IdempotencyKey,
    Limit,
    Offset,
    StageOut,
    actor_of,
    body,
    case_parts,
    case_routes,
    multipart,
    page,
    validate,
)
from shanzhi.core.input import Day, Out, errors, longest
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Region
from shanzhi.intake.api import ResolvedPlaceOut

from . import assist as intake_assist
from . import selectors, services
from .actions import ACTION_FIELDS, PHOTO_ACTIONS, ActionIn
from .case import INCIDENT_CASE
from .models import Channel, Incident, State

router = Router(tags=["incidents"])
#: wgs84, gcj02 or bd09, in any case (geo.crs).
CRS_PATTERN = r"^(?i:wgs84|gcj02|bd09)$"
Sort = Literal[tuple(["", *(f"{sign}{name}" for name in selectors.SORTS  # type: ignore[misc]
                          for sign in ("", "-"))])]
#: An incident in a path: its number (SJ…) or its id.
IncidentKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,40}$",
                                  description="the incident's number (SJ…) or id")]


# ---------------------------------------------------------------- input

class IncidentIn(BaseModel):
    """A report from any channel. Give the place as ``lng``/``lat`` (in
    ``crs``), or as an ``address`` with the ``region`` code it lies in."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    channel: Channel
    description: str = Field(min_length=1, **longest(services.MAX_DESCRIPTION))
    category: str | None = Field(None, max_length=32)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: str = Field("wgs84", pattern=CRS_PATTERN)
    address: str = Field("", max_length=300)
    region: str | None = Field(None, max_length=32)
    contact_name: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=32)
    reported_at: dt.datetime | None = None
    urgency: str = Field("normal", max_length=16)
    extra: dict[str, Any] = Field(default_factory=dict)
    duplicate_of: str | None = Field(
        None, max_length=40, description="register the report and merge it into this "
        "incident (its number) in one step: a duplicate found at intake")


class AssistIn(BaseModel):
    """What the intake form holds so far (every field optional): the answer
    suggests categories for the description, places the address, and finds
    possible duplicates and the caller's earlier reports."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    description: str = Field("", **longest(services.MAX_DESCRIPTION))
    category: str | None = Field(None, max_length=32)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    address: str = Field("", max_length=300)
    region: str | None = Field(None, max_length=32)
    contact_phone: str = Field("", max_length=32)
    exclude: str | None = Field(None, max_length=40,
                                description="an incident (number) to leave out")


class DeviceAlertIn(BaseModel):
    """An alert of a sensor or a camera; ``event_id`` makes retries idempotent."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False,
                              coerce_numbers_to_str=True)
    event_id: str = Field(min_length=1, max_length=services.MAX_IDEMPOTENCY_KEY)
    description: str | None = Field(None, **longest(services.MAX_DESCRIPTION))
    category: str | None = Field(None, max_length=32)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: str | None = Field(None, pattern=CRS_PATTERN)
    extra: dict[str, Any] | None = None
    occurred_at: str | None = Field(None, max_length=40)
    urgency: str | None = Field(None, max_length=16)




#: What a client may do next with the incident an answer names (OpenAPI links).
INCIDENT_LINKS = {"links": {
    name: {"operationId": f"shanzhi_incidents_api_{operation}",
           "parameters": {"incident_id": "$response.body#/number"}}
    for name, operation in (("GetIncident", "incident_detail"),
                            ("GetTimeline", "incident_timeline"),
                            ("TakeAction", "incident_action"))}}


# ---------------------------------------------------------------- output models

class NodeOut(Out):
    level: str
    code: str
    name: str


class NamedOut(Out):
    code: str
    name: str


class ContactOut(Out):
    name: str
    phone: str
    masked: bool


class IncidentOut(Out):
    """An incident in a list (the detail adds what acting on it needs)."""

    model_config = ConfigDict(extra="allow")
    id: int
    number: str
    state: State
    state_label: str
    version: int
    channel: str
    category: NamedOut | None
    urgency: str
    description: str
    address: str
    lng: float | None
    lat: float | None
    grid: NamedOut | None
    region: NodeOut | None
    holder: NodeOut | None
    department: NamedOut | None
    reported_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    stage: str | None
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    light: Literal["", "green", "yellow", "red"]
    overdue: bool
    contact: ContactOut


class IncidentDetailOut(IncidentOut):
    regions: list[NodeOut]
    extra: dict[str, Any]
    satisfaction: int | None
    self_resolved: bool
    merged_into: str | None
    pending_extension: dict[str, Any] | None
    counters: dict[str, int]
    attachments: list[AttachmentOut]
    stages: list[StageOut]
    actions: list[str]
    suggested_department: dict[str, Any] | None = None


class IncidentPage(Out):
    count: int
    limit: int
    offset: int
    items: list[IncidentOut]


class CategoryOut(Out):
    code: str
    name: str
    kind: str
    parent: str | None
    version: int | None
    limits: Any
    departments: Any
    urgencies: Any
    extra_fields: Any
    on_overdue: Any


class SuggestionOut(Out):
    code: str
    name: str
    class_name: str
    confidence: float


class ModelOut(Out):
    version: int | None
    trained_at: str | None
    rows: int | None
    accuracy: float | None
    macro_f1: float | None


class DuplicateOut(Out):
    number: str
    category: str | None
    category_name: str
    description: str
    state: State
    state_label: str
    reported_at: dt.datetime
    distance_m: float
    similarity: float


class RepeatOut(Out):
    number: str
    reported_at: dt.datetime
    state: State
    state_label: str
    description: str


class AssistOut(Out):
    """The city model's top categories (none before a model is trained), its
    cross-validated figures, the address's place, possible duplicates and the
    caller's reports of the last days."""

    suggestions: list[SuggestionOut]
    model: ModelOut | None
    place: ResolvedPlaceOut | None
    duplicates: list[DuplicateOut]
    repeats: list[RepeatOut]


class AlertOut(Out):
    number: str
    state: str
    grid: str | None


# ---------------------------------------------------------------- output

def _node(region: Region | None) -> dict | None:
    return None if region is None else {"level": region.level, "code": region.code,
                                        "name": region.name}


def incident_out(incident: Incident, *, actor: User, detail: bool = False) -> dict:
    """The incident as the API shows it, the reporter's contact always masked
    (``services.contact_reveal`` shows it in full, on request, with a reason)."""
    out = {
        "id": incident.pk, "number": incident.number, "state": incident.state,
        "state_label": str(State(incident.state).label), "version": incident.version,
        "channel": incident.channel,
        "category": ({"code": incident.category.code, "name": incident.category.name}
                     if incident.category else None),
        "urgency": incident.urgency, "description": incident.description,
        "address": incident.address, "lng": incident.lng, "lat": incident.lat,
        "grid": ({"code": incident.grid.code, "name": incident.grid.name}
                 if incident.grid else None),
        "region": _node(incident.region), "holder": _node(incident.holder),
        "department": ({"code": incident.department.code, "name": incident.department.name}
                       if incident.department else None),
        "reported_at": incident.reported_at, "updated_at": incident.updated_at,
        "closed_at": incident.closed_at, "stage": incident.stage or None,
        "due_at": incident.due_at, "warn_at": incident.warn_at,
        "light": selectors.light(incident), "overdue": incident.overdue,
        "contact": services.contact_masked(incident),
    }
    if not detail:
        return out
    out.update({
        "regions": [_node(r) for r in _chain(incident.region)],
        "extra": incident.extra, "satisfaction": incident.satisfaction,
        "self_resolved": incident.self_resolved,
        "merged_into": incident.merged_into.number if incident.merged_into_id else None,
        "pending_extension": incident.pending_extension,
        "counters": {name: getattr(incident, f"{name}_count") for name in (
            "return", "rework", "supervise", "extension", "escalate", "reopen")},
        **case_parts(INCIDENT_CASE, incident),
        "actions": services.available_actions(actor=actor, incident=incident),
    })
    if incident.state == State.REGISTERED:
        from .routing import suggest_department

        out["suggested_department"] = suggest_department(
            region=incident.region, category=incident.category, rules=incident.rules).as_data()
    return out


def _chain(region: Region) -> list:
    """The region and its ancestors, lowest first (from the spatial index
    unless the region is no longer current)."""
    chain = get_index().chain(region.pk)
    if chain:
        return list(chain)
    ids = [int(p) for p in region.path.strip("/").split("/") if p]
    by_id = {r.pk: r for r in Region.objects.defer("geometry").filter(pk__in=ids)}
    return [by_id[i] for i in reversed(ids) if i in by_id]


# ---------------------------------------------------------------- endpoints

@router.get("/categories", response={200: list[CategoryOut], **errors()},
            summary="The category taxonomy with codes, limits and extra fields")
def categories(request: HttpRequest):
    out = []
    for cat in selectors.categories():
        rules = max(cat.versions.all(), key=lambda v: v.number, default=None)
        out.append({
            "code": cat.code, "name": cat.name, "kind": cat.kind,
            "parent": cat.parent.code if cat.parent else None,
            "version": rules.number if rules else None,
            "limits": rules.limits if rules else None,
            "departments": rules.departments if rules else None,
            "urgencies": rules.urgencies if rules else None,
            "extra_fields": rules.extra_fields if rules else None,
            "on_overdue": rules.on_overdue if rules else None,
        })
    return out


@router.post("/incidents", summary="Report an incident (any channel)",
             response={200: IncidentDetailOut, 201: IncidentDetailOut,
                       **errors(403, 413, 422)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": IncidentIn.model_json_schema()},
                 "multipart/form-data": {"schema": multipart(IncidentIn)}}},
                 "responses": {200: INCIDENT_LINKS, 201: INCIDENT_LINKS}})
def report(request: HttpRequest, idempotency_key: IdempotencyKey = None):
    """Send an ``Idempotency-Key`` header: a retry with the same key and the
    same content returns the first incident (200) instead of a new one (201);
    the same key with other content is refused (422)."""
    actor = actor_of(request)
    data, photos = body(request)
    sent = validate(IncidentIn, data)
    incident, created = services.incident_report(
        actor=actor, photos=photos, idempotency_key=idempotency_key, **sent.model_dump())
    return Status(201 if created else 200, incident_out(incident, actor=actor, detail=True))


@router.post("/incidents/assist", response={200: AssistOut, **errors(403, 404, 413)},
             summary="Intake assistance: suggested categories, place, duplicates, repeats",
             openapi_extra={"requestBody": {"required": False, "content": {
                 "application/json": {"schema": AssistIn.model_json_schema()}}}})
def incident_assist(request: HttpRequest):
    """For a report being typed (nothing is written): the city's model's top
    three subclasses with their confidence and the model's cross-validated
    accuracy; the place the ``address`` resolves to (``confident``: a report
    would be placed there); the open incidents of the chosen (else the top
    suggested) category near the point (else the confident place) reported in
    the last days, with distance and text similarity; and the reports of
    ``contact_phone`` in the last 30 days. The same roles as reporting."""
    actor = actor_of(request)
    data, _photos = body(request)
    sent = validate(AssistIn, data)
    exclude = None
    if sent.exclude:
        exclude = services.incident_for_actor(actor=actor, incident_id=sent.exclude).pk
    return intake_assist.assist(actor=actor, **sent.model_dump(exclude={"exclude"}),
                                exclude=exclude)


@router.get("/incidents", response={200: IncidentPage, **errors(404)},
            summary="Incidents in my territory")
def incident_list(request: HttpRequest, state: Filter = "", channel: Filter = "",
                  category: Filter = "", region: Filter = "",
                  light: Literal["", "green", "yellow", "red"] = "", q: Filter = "",
                  department: Filter = "", reported_from: Day | None = None,
                  reported_to: Day | None = None, sort: Sort = "",
                  limit: Limit = 50, offset: Offset = 0):
    """The same filters as the desks' lists (``incidents.selectors.incidents_list``):
    ``reported_from`` and ``reported_to`` are local days, both included; ``sort``
    a column, ``-`` first for descending (newest reported first without one)."""
    actor = actor_of(request)
    qs = selectors.incidents_list(scope=Scope.for_user(actor), state=state or None,
                                  channel=channel or None, category=category or None,
                                  region=region or None, light_filter=light or None, q=q or None,
                                  department=department or None, reported_from=reported_from,
                                  reported_to=reported_to, sort=sort or None)
    return page(qs, limit, offset, lambda i: incident_out(i, actor=actor))


class ContactRevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=200)]


@router.post("/incidents/{incident_id}/contact",
             response={200: ContactOut, **errors(403, 404, 413)},
             summary="The reporter's contact in full (operators; the view is logged)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": ContactRevealIn.model_json_schema()}}}})
def incident_contact(request: HttpRequest, incident_id: IncidentKey):
    """Send ``{"reason": "…"}`` (1–200 characters): why you need the contact.
    The detail shows it masked; this answers it unmasked and writes a row of
    the access log (who, when, from where, why). 403 for a role that sees
    contacts masked."""
    actor = actor_of(request)
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    data, _photos = body(request)
    sent = validate(ContactRevealIn, data)
    return services.contact_reveal(request=request, actor=actor, incident=incident,
                                   reason=sent.reason)


@router.post("/intake/devices/{device_id}/alerts", auth=None,
             response={200: AlertOut, 201: AlertOut, **errors(404, 413, 422)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": DeviceAlertIn.model_json_schema()},
                 "multipart/form-data": {"schema": multipart(DeviceAlertIn)}}},
                 "security": [{"BearerToken": []}]},
             summary="Webhook for IoT sensors and video analytics")
def device_alert(request: HttpRequest, device_id: Annotated[str, Path(max_length=64)]):
    """Authenticated by the device's own token (``Authorization: Bearer …``).
    The alert's ``event_id`` makes retries idempotent."""
    device = services.device_authenticate(device_id=device_id,
                                          authorization=request.headers.get("Authorization", ""))
    data, photos = body(request)
    alert = validate(DeviceAlertIn, data)
    incident, created = services.device_alert(
        device=device, data=alert.model_dump(exclude_unset=True), photos=photos)
    return Status(201 if created else 200, {
        "number": incident.number, "state": incident.state,
        "grid": incident.grid.code if incident.grid else None})


case_routes(router, INCIDENT_CASE, key="incident_id", detail_out=IncidentDetailOut,
            present=incident_out, action_in=ActionIn, action_fields=ACTION_FIELDS,
            photo_actions=PHOTO_ACTIONS, services=services.ACTIONS,
            name="incident", noun="incident")
