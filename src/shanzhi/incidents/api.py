"""The incident API: intake from every channel, the workflow actions, the
timeline, notifications, categories. Views parse, call a service, present."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Router, Status
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import NotAuthenticated, NotFound, ValidationError
from shanzhi.core.privacy import mask_name, mask_phone, record_unmasked_view
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Region

from . import selectors, services
from .models import Incident, State

router = Router(tags=["incidents"])
MAX_PAGE = 500


# ---------------------------------------------------------------- input

class IncidentIn(BaseModel):
    """A report from any channel. Give the place as ``lng``/``lat`` (in
    ``crs``), or as an ``address`` with the ``region`` code it lies in."""

    model_config = ConfigDict(extra="forbid")
    channel: str
    description: str
    category: str | None = None
    lng: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    address: str = ""
    region: str | None = None
    contact_name: str = ""
    contact_phone: str = ""
    reported_at: dt.datetime | None = None
    urgency: str = "normal"
    extra: dict[str, Any] = Field(default_factory=dict)


class ActionIn(BaseModel):
    """Fields of a workflow action; each action uses the ones it needs."""

    model_config = ConfigDict(extra="forbid")
    version: int | None = None
    note: str = ""
    reason: str = ""
    result: str = ""
    department: str = ""
    region: str = ""
    original: str = ""
    category: str | None = None
    amount: float | None = None
    unit: str = "working_days"
    level: str = "yellow"
    satisfaction: str = ""


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
                raise ValidationError("extra must be a JSON object", field="extra") from None
        return data, request.FILES.getlist("photos")
    if not request.body:
        return {}, []
    try:
        data = json.loads(request.body)
    except ValueError:
        raise ValidationError("the body is not valid JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return data, []


def _validate(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = ("unknown field" if first["type"] == "extra_forbidden" else first["msg"])
        raise ValidationError(f"{field}: {message}" if field else message, field=field) from None


# ---------------------------------------------------------------- output

def _node(region: Region | None) -> dict | None:
    return None if region is None else {"level": region.level, "code": region.code,
                                        "name": region.name}


def incident_out(incident: Incident, *, actor: User, detail: bool = False,
                 reveal_contact: bool = False) -> dict:
    """The incident as the API shows it. The contact is unmasked (and the view
    logged) only when ``reveal_contact`` is asked for by a role that needs it."""
    sees_contact = services.may_see_contact(actor)
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
    if reveal_contact and sees_contact and (incident.contact_name or incident.contact_phone):
        out["contact"] = {"name": incident.contact_name, "phone": incident.contact_phone,
                          "masked": False}
        record_unmasked_view(user=actor, obj=incident, fields=["contact_name", "contact_phone"])
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
        raise NotAuthenticated("log in, or send Authorization: Bearer <token>")
    return user


# ---------------------------------------------------------------- endpoints

@router.get("/categories", summary="The category taxonomy with codes, limits and extra fields")
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
             response={200: dict, 201: dict},
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": IncidentIn.model_json_schema()},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "photos": {"type": "array", "items": {"type": "string",
                                                           "format": "binary"}}}}}}}})
def report(request: HttpRequest):
    """Send an ``Idempotency-Key`` header: a retry with the same key and the
    same content returns the first incident (200) instead of a new one (201);
    the same key with other content is refused (422)."""
    actor = _actor(request)
    data, photos = _body(request)
    body = _validate(IncidentIn, data)
    incident, created = services.incident_report(
        actor=actor, photos=photos, idempotency_key=request.headers.get("Idempotency-Key"),
        **body.model_dump())
    return Status(201 if created else 200, incident_out(incident, actor=actor, detail=True))


def _page(qs, limit: int, offset: int, present) -> dict:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    if offset < 0:
        raise ValidationError("offset must not be negative", field="offset")
    return {"count": qs.count(), "limit": limit, "offset": offset,
            "items": [present(item) for item in qs[offset:offset + limit]]}


@router.get("/incidents", summary="Incidents in my territory")
def incident_list(request: HttpRequest, state: str = "", channel: str = "", category: str = "",
                  region: str = "", light: str = "", q: str = "", limit: int = 50,
                  offset: int = 0):
    actor = _actor(request)
    qs = selectors.incidents_list(scope=Scope.for_user(actor), state=state or None,
                                  channel=channel or None, category=category or None,
                                  region=region or None, light_filter=light or None, q=q or None)
    return _page(qs, limit, offset, lambda i: incident_out(i, actor=actor))


@router.get("/incidents/{incident_id}", summary="One incident, with the actions I may take now")
def incident_detail(request: HttpRequest, incident_id: str):
    actor = _actor(request)
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    return incident_out(incident, actor=actor, detail=True, reveal_contact=True)


@router.get("/incidents/{incident_id}/timeline", summary="Every action taken on an incident")
def incident_timeline(request: HttpRequest, incident_id: str):
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
            summary="A photo of an incident (as scoped as the incident)")
def incident_attachment(request: HttpRequest, incident_id: str, attachment_id: int):
    actor = _actor(request)
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    attachment = incident.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound("no such attachment", field="attachment_id")
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@router.post("/incidents/{incident_id}/{action}", summary="Take a workflow action")
def incident_action(request: HttpRequest, incident_id: str, action: str):
    """Send ``version`` (from the incident) to act only on what you saw: if
    someone else acted first the answer is 409 with the current state."""
    actor = _actor(request)
    service = services.ACTIONS.get(action)
    if service is None:
        raise ValidationError(f"unknown action {action!r}", field="action")
    incident = services.incident_for_actor(actor=actor, incident_id=incident_id)
    data, photos = _body(request)
    body = _validate(ActionIn, data)
    fields = {name: getattr(body, name) for name in ACTION_FIELDS[action]}
    if action in PHOTO_ACTIONS:
        fields["photos"] = photos
    elif photos:
        raise ValidationError(f"{action} takes no photos", field="photos")
    incident = service(actor=actor, incident=incident, expected_version=body.version, **fields)
    return incident_out(incident, actor=actor, detail=True)


@router.get("/me/notifications", summary="My notification inbox")
def my_notifications(request: HttpRequest, unread: bool = False, limit: int = 50,
                     offset: int = 0):
    actor = _actor(request)
    return _page(selectors.notifications(user=actor, unread_only=unread), limit, offset,
                 lambda n: {"id": n.pk, "kind": n.kind, "message": n.message,
                            "created_at": n.created_at, "read_at": n.read_at,
                            "incident": n.incident.number if n.incident else None})


@router.post("/me/notifications/read", summary="Mark my notifications read")
def read_notifications(request: HttpRequest):
    actor = _actor(request)
    data, _ = _body(request)
    ids = data.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        raise ValidationError("ids must be a list of notification ids", field="ids")
    return {"marked": services.notifications_read(user=actor, ids=ids)}


@router.post("/intake/devices/{device_id}/alerts", auth=None, response={200: dict, 201: dict},
             summary="Webhook for IoT sensors and video analytics")
def device_alert(request: HttpRequest, device_id: str):
    """Authenticated by the device's own token (``Authorization: Bearer …``).
    The alert's ``event_id`` makes retries idempotent."""
    device = services.device_authenticate(device_id=device_id,
                                          authorization=request.headers.get("Authorization", ""))
    data, photos = _body(request)
    incident, created = services.device_alert(device=device, data=data, photos=photos)
    return Status(201 if created else 200, {
        "number": incident.number, "state": incident.state,
        "grid": incident.grid.code if incident.grid else None})



