"""The incident API: intake from every channel, the workflow actions, the
timeline, notifications, categories. Views parse, call a service, present."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext
from ninja import Header, Path, Query, Router, Status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from shanzhi.core.input import MAX_ID, MAX_OFFSET, AsciiInt, Id, Out, errors
from shanzhi.core.privacy import mask_name, mask_phone, record_unmasked_view
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Region

from . import notices, selectors, services
from .models import Channel, Incident, State

router = Router(tags=["incidents"])
MAX_PAGE = 500
#: wgs84, gcj02 or bd09, in any case (geo.crs).
CRS_PATTERN = r"^(?i:wgs84|gcj02|bd09)$"
#: An incident in a path: its number (SJ…) or its id.
IncidentKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,40}$",
                                  description="the incident's number (SJ…) or id")]
Limit = Annotated[AsciiInt, Query(50, ge=1, le=MAX_PAGE, description="page size")]
Offset = Annotated[AsciiInt, Query(
    0, ge=0, le=MAX_OFFSET,
    description=f"rows to skip (at most {MAX_OFFSET:,}: narrow the filters instead)")]
#: Each text filter of a list is short.
Filter = Annotated[str, Query(max_length=100)]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=services.MAX_IDEMPOTENCY_KEY,
    description="a retry with the same key and content returns the first incident")]


# ---------------------------------------------------------------- input

def _longest(limit: int) -> dict:
    """A text's limit as the schema states it: the service refuses a longer
    one (in the user's language, naming the field and the limit), so the
    model does not check it first with a message of its own."""
    return {"json_schema_extra": {"maxLength": limit},
            "description": f"at most {limit:,} characters"}


class IncidentIn(BaseModel):
    """A report from any channel. Give the place as ``lng``/``lat`` (in
    ``crs``), or as an ``address`` with the ``region`` code it lies in."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    channel: Channel
    description: str = Field(min_length=1, **_longest(services.MAX_DESCRIPTION))
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


class ActionIn(BaseModel):
    """Fields of a workflow action; each action uses the ones it needs."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    note: str = Field("", **_longest(services.MAX_NOTE))
    reason: str = Field("", **_longest(services.MAX_REASON))
    result: str = Field("", **_longest(services.MAX_RESULT))
    department: str = Field("", max_length=32)
    region: str = Field("", max_length=32)
    original: str = Field("", max_length=40)
    category: str | None = Field(None, max_length=32)
    amount: float | None = Field(None, ge=0)
    unit: Literal["working_days", "working_hours", "natural_hours"] = "working_days"
    level: Literal["yellow", "red", "black"] = "yellow"
    satisfaction: Literal["", "satisfied", "basically_satisfied", "dissatisfied"] = ""


class DeviceAlertIn(BaseModel):
    """An alert of a sensor or a camera; ``event_id`` makes retries idempotent."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False,
                              coerce_numbers_to_str=True)
    event_id: str = Field(min_length=1, max_length=services.MAX_IDEMPOTENCY_KEY)
    description: str | None = Field(None, **_longest(services.MAX_DESCRIPTION))
    category: str | None = Field(None, max_length=32)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: str | None = Field(None, pattern=CRS_PATTERN)
    extra: dict[str, Any] | None = None
    occurred_at: str | None = Field(None, max_length=40)
    urgency: str | None = Field(None, max_length=16)


ACTION_FIELDS = {
    "accept": ["note", "category"], "reject": ["reason"], "merge": ["original"],
    "self_resolve": ["result"], "assign_down": ["region", "note"],
    "dispatch": ["department", "note"], "escalate": ["reason"], "sign": ["note"],
    "return": ["reason"], "report_result": ["result"], "verify_pass": ["note"],
    "verify_fail": ["reason"], "request_extension": ["reason", "amount", "unit"],
    "approve_extension": ["note"], "refuse_extension": ["reason"],
    "supervise": ["note", "level"], "callback": ["satisfaction", "note"],
    "reopen": ["reason"],
}
PHOTO_ACTIONS = {"self_resolve", "report_result", "verify_fail"}
Action = Literal[tuple(ACTION_FIELDS)]  # type: ignore[valid-type]


def _body(request: HttpRequest) -> tuple[dict, list]:
    """The request's fields and uploaded photos: JSON, or a multipart form whose
    ``extra`` field (if any) is JSON."""
    content_type = request.content_type or ""
    if content_type.startswith(("multipart/", "application/x-www-form-urlencoded")):
        data: dict[str, Any] = {k: v for k, v in request.POST.items() if v != ""}
        if "extra" in data:
            try:
                data["extra"] = json.loads(data["extra"])
            except ValueError:
                raise ValidationError(gettext("extra must be a JSON object."),
                                      field="extra") from None
        return data, request.FILES.getlist("photos")
    if not request.body:
        return {}, []
    try:
        data = json.loads(request.body)
    except ValueError:
        raise ValidationError(gettext("The body is not valid JSON."), field="body") from None
    if not isinstance(data, dict):
        raise ValidationError(gettext("The body must be a JSON object."), field="body")
    return data, []


def _multipart(model: type[BaseModel]) -> dict:
    """The multipart form of a JSON body: the same fields as text (``extra``
    as JSON text), and ``photos``."""
    schema = model.model_json_schema()
    properties = {name: {"type": "string"} for name in schema["properties"]}
    properties["photos"] = {"type": "array", "items": {"type": "string", "format": "binary"}}
    return {"type": "object", "properties": properties, "required": schema.get("required", []),
            "additionalProperties": False}


#: What a client may do next with the incident an answer names (OpenAPI links).
INCIDENT_LINKS = {"links": {
    name: {"operationId": f"shanzhi_incidents_api_{operation}",
           "parameters": {"incident_id": "$response.body#/number"}}
    for name, operation in (("GetIncident", "incident_detail"),
                            ("GetTimeline", "incident_timeline"),
                            ("TakeAction", "incident_action"))}}


def _validate(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = (gettext("unknown field") if first["type"] == "extra_forbidden"
                   else first["msg"])
        raise ValidationError(f"{field}: {message}" if field else message, field=field) from None


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


class AttachmentOut(Out):
    url: str
    content_type: str
    size: int
    sha256: str


class StageOut(Out):
    stage: str
    started_at: dt.datetime
    due_at: dt.datetime | None
    ended_at: dt.datetime | None
    overdue: bool
    amount: float | None
    unit: str
    warnings: Any


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


class ActorOut(Out):
    username: str | None
    name: str


class TimelineEntryOut(Out):
    action: str
    at: dt.datetime
    from_state: str | None
    to_state: str | None
    actor: ActorOut
    data: dict[str, Any]
    attachments: list[str]


class NotificationOut(Out):
    id: int
    #: What happened: a workflow action, or ``new``, ``warn``, ``overdue``.
    kind: str
    #: The text, in the request's language (``Accept-Language``).
    message: str
    #: The particulars the text is rendered from (incident number, reason …).
    params: dict[str, Any]
    created_at: dt.datetime
    read_at: dt.datetime | None
    incident: str | None


class NotificationPage(Out):
    count: int
    limit: int
    offset: int
    items: list[NotificationOut]


class MarkedOut(Out):
    marked: int


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Id] | None = Field(None, max_length=MAX_PAGE)


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
    (:func:`contact_reveal` shows it in full, on request, with a reason)."""
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
        "contact": {"name": mask_name(incident.contact_name),
                    "phone": mask_phone(incident.contact_phone), "masked": True},
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
        "attachments": [{"url": _attachment_url(incident, a), "content_type": a.content_type,
                         "size": a.size,
                         "sha256": a.sha256} for a in incident.attachments.all()],
        "stages": [{"stage": s.stage, "started_at": s.started_at, "due_at": s.due_at,
                    "ended_at": s.ended_at, "overdue": s.overdue, "amount": s.amount,
                    "unit": s.unit, "warnings": s.warnings} for s in incident.stages.all()],
        "actions": services.available_actions(actor=actor, incident=incident),
    })
    if incident.state == State.REGISTERED:
        from .routing import suggest_department

        out["suggested_department"] = suggest_department(
            region=incident.region, category=incident.category, rules=incident.rules).as_data()
    return out


def _attachment_url(incident: Incident, attachment) -> str:
    return f"/api/v1/incidents/{incident.number}/attachments/{attachment.pk}"


def _chain(region: Region) -> list:
    """The region and its ancestors, lowest first (from the spatial index
    unless the region is no longer current)."""
    chain = get_index().chain(region.pk)
    if chain:
        return list(chain)
    ids = [int(p) for p in region.path.strip("/").split("/") if p]
    by_id = {r.pk: r for r in Region.objects.defer("geometry").filter(pk__in=ids)}
    return [by_id[i] for i in reversed(ids) if i in by_id]


def _actor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated(gettext("Log in, or send Authorization: Bearer <token>."))
    return user


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
                 "multipart/form-data": {"schema": _multipart(IncidentIn)}}},
                 "responses": {200: INCIDENT_LINKS, 201: INCIDENT_LINKS}})
def report(request: HttpRequest, idempotency_key: IdempotencyKey = None):
    """Send an ``Idempotency-Key`` header: a retry with the same key and the
    same content returns the first incident (200) instead of a new one (201);
    the same key with other content is refused (422)."""
    actor = _actor(request)
    data, photos = _body(request)
    body = _validate(IncidentIn, data)
    incident, created = services.incident_report(
        actor=actor, photos=photos, idempotency_key=idempotency_key, **body.model_dump())
    return Status(201 if created else 200, incident_out(incident, actor=actor, detail=True))


def _page(qs, limit: int, offset: int, present) -> dict:
    """One page of a list (``limit`` and ``offset`` are checked by their types)."""
    return {"count": qs.count(), "limit": limit, "offset": offset,
            "items": [present(item) for item in qs[offset:offset + limit]]}


@router.get("/incidents", response={200: IncidentPage, **errors(404)},
            summary="Incidents in my territory")
def incident_list(request: HttpRequest, state: Filter = "", channel: Filter = "",
                  category: Filter = "", region: Filter = "",
                  light: Literal["", "green", "yellow", "red"] = "", q: Filter = "",
                  limit: Limit = 50, offset: Offset = 0):
    actor = _actor(request)
    qs = selectors.incidents_list(scope=Scope.for_user(actor), state=state or None,
                                  channel=channel or None, category=category or None,
                                  region=region or None, light_filter=light or None, q=q or None)
    return _page(qs, limit, offset, lambda i: incident_out(i, actor=actor))


@router.get("/incidents/{incident_id}", response={200: IncidentDetailOut, **errors(404)},
            summary="One incident, with the actions I may take now")
def incident_detail(request: HttpRequest, incident_id: IncidentKey):
    actor = _actor(request)
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    return incident_out(incident, actor=actor, detail=True)


class ContactRevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=200)]


def contact_reveal(*, request: HttpRequest, actor: User, incident: Incident,
                   reason: str) -> dict:
    """The reporter's contact in full, for a role whose work needs it
    (``services.may_see_contact``); the view is logged with its reason and
    the client's address."""
    if not services.may_see_contact(actor):
        raise PermissionDenied(gettext("Your role sees contacts masked."), field="incident")
    if incident.contact_name or incident.contact_phone:
        record_unmasked_view(request=request, user=actor, obj=incident,
                             fields=["contact_name", "contact_phone"], reason=reason)
    return {"name": incident.contact_name, "phone": incident.contact_phone, "masked": False}


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
    actor = _actor(request)
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    data, _photos = _body(request)
    body = _validate(ContactRevealIn, data)
    return contact_reveal(request=request, actor=actor, incident=incident, reason=body.reason)


@router.get("/incidents/{incident_id}/timeline",
            response={200: list[TimelineEntryOut], **errors(404)},
            summary="Every action taken on an incident")
def incident_timeline(request: HttpRequest, incident_id: IncidentKey):
    actor = _actor(request)
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    return [{"action": e.action, "at": e.at, "from_state": e.from_state or None,
             "to_state": e.to_state or None,
             "actor": ({"username": e.actor.username, "name": str(e.actor)}
                       if e.actor else {"username": None, "name": "system"}),
             "data": e.data,
             "attachments": [_attachment_url(incident, a) for a in e.attachments.all()]}
            for e in selectors.timeline(incident=incident)]


@router.get("/incidents/{incident_id}/attachments/{attachment_id}",
            response={200: None, **errors(404)},
            openapi_extra={"responses": {200: {"description": "the photo", "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "image/gif")}}}},
            summary="A photo of an incident (as scoped as the incident)")
def incident_attachment(request: HttpRequest, incident_id: IncidentKey,
                        attachment_id: Annotated[AsciiInt, Path(ge=1, le=MAX_ID)]):
    actor = _actor(request)
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    attachment = incident.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound(gettext("No such attachment."), field="attachment_id")
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@router.post("/incidents/{incident_id}/{action}",
             response={200: IncidentDetailOut, **errors(403, 404, 409, 413)},
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": ActionIn.model_json_schema()},
                 "multipart/form-data": {"schema": _multipart(ActionIn)}}}},
             summary="Take a workflow action")
def incident_action(request: HttpRequest, incident_id: IncidentKey, action: Action):
    """Send ``version`` (from the incident) to act only on what you saw: if
    someone else acted first the answer is 409 with the current state."""
    actor = _actor(request)
    service = services.ACTIONS.get(action)
    if service is None:
        raise ValidationError(gettext("Unknown action %(action)s.") % {"action": action},
                              field="action")
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    data, photos = _body(request)
    body = _validate(ActionIn, data)
    services.action_texts_check(body.model_dump())  # also the texts the action ignores
    fields = {name: getattr(body, name) for name in ACTION_FIELDS[action]}
    if action in PHOTO_ACTIONS:
        fields["photos"] = photos
    elif photos:
        raise ValidationError(gettext("The action “%(action)s” takes no photos.")
                              % {"action": notices.action_label(action)}, field="photos")
    incident = service(actor=actor, incident=incident, expected_version=body.version, **fields)
    return incident_out(incident, actor=actor, detail=True)


@router.get("/me/notifications", response={200: NotificationPage, **errors()},
            summary="My notification inbox")
def my_notifications(request: HttpRequest, unread: bool = False, limit: Limit = 50,
                     offset: Offset = 0):
    """Newest first. ``kind`` and ``params`` say what happened (the incident
    number, the reason …); ``message`` is its text in the request's language
    (``Accept-Language``; Chinese without one)."""
    actor = _actor(request)
    return _page(selectors.notifications(user=actor, unread_only=unread), limit, offset,
                 lambda n: {"id": n.pk, "kind": n.kind, "message": n.text, "params": n.params,
                            "created_at": n.created_at, "read_at": n.read_at,
                            "incident": n.incident.number if n.incident else None})


@router.post("/me/notifications/read", response={200: MarkedOut, **errors(413)},
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": ReadIn.model_json_schema()}}}},
             summary="Mark my notifications read (all of them without ids)")
def read_notifications(request: HttpRequest):
    actor = _actor(request)
    data, _ = _body(request)
    body = _validate(ReadIn, data)
    return {"marked": services.notifications_read(user=actor, ids=body.ids)}


@router.post("/intake/devices/{device_id}/alerts", auth=None,
             response={200: AlertOut, 201: AlertOut, **errors(404, 413, 422)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": DeviceAlertIn.model_json_schema()},
                 "multipart/form-data": {"schema": _multipart(DeviceAlertIn)}}},
                 "security": [{"BearerToken": []}]},
             summary="Webhook for IoT sensors and video analytics")
def device_alert(request: HttpRequest, device_id: Annotated[str, Path(max_length=64)]):
    """Authenticated by the device's own token (``Authorization: Bearer …``).
    The alert's ``event_id`` makes retries idempotent."""
    device = services.device_authenticate(device_id=device_id,
                                          authorization=request.headers.get("Authorization", ""))
    data, photos = _body(request)
    alert = _validate(DeviceAlertIn, data)
    incident, created = services.device_alert(
        device=device, data=alert.model_dump(exclude_unset=True), photos=photos)
    return Status(201 if created else 200, {
        "number": incident.number, "state": incident.state,
        "grid": incident.grid.code if incident.grid else None})



