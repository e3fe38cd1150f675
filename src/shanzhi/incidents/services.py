"""Every change of an incident goes through here: intake, then one service per
workflow action, all applied by :func:`_apply` (check the table → check the
actor's relation to the incident → compare-and-set → close/open stage
deadlines → timeline row → notifications)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from shanzhi.accounts.models import Department, Role, User
from shanzhi.accounts.scope import Scope, point_check_territory
from shanzhi.accounts.staff import centre_operators, department_members
from shanzhi.analytics import rollups
from shanzhi.core.calendar import get_calendar
from shanzhi.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    TooLarge,
    ValidationError,
)
from shanzhi.core.uploads import image_clean
from shanzhi.geo.crs import check_crs, check_lng_lat, to_wgs84
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level, Region
from shanzhi.geo.selectors import current_region

from . import notices
from . import workflow as wf
from .models import (
    Attachment,
    Category,
    CategoryRules,
    Channel,
    Device,
    IdempotencyKey,
    Incident,
    IncidentStage,
    Notification,
    TimelineEntry,
)
from .routing import suggest_department
from .rulebook import rule_book

#: Limits for incidents registered without a category (classified later).
DEFAULT_LIMITS = {"accept": {"amount": 1, "unit": "working_hours"},
                  "dispatch": {"amount": 1, "unit": "working_hours"},
                  "sign": {"amount": 1, "unit": "working_hours"},
                  "handle": {"amount": 5, "unit": "working_days"},
                  "verify": {"amount": 1, "unit": "working_days"}}
#: The longest texts taken, in characters (the API's schema and the pages'
#: forms state the same numbers; the services alone refuse).
MAX_DESCRIPTION = 4000
#: … a note of an action (accept, dispatch, sign, verify, supervise, call-back …)
MAX_NOTE = 2000
#: … a reason (reject, escalate, return, verify_fail, extension, reopen)
MAX_REASON = 2000
#: … a result report (what was done): as long as a description
MAX_RESULT = 4000
#: The free-text fields of the actions, with their limits and names.
ACTION_TEXTS = {"note": (MAX_NOTE, gettext_lazy("Note")),
                "reason": (MAX_REASON, gettext_lazy("Reason")),
                "result": (MAX_RESULT, gettext_lazy("Result"))}
#: The longest Idempotency-Key (and device event_id) kept: the column's length.
MAX_IDEMPOTENCY_KEY = IdempotencyKey._meta.get_field("key").max_length
MAX_BACKDATE = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(minutes=5)
#: The largest photo taken (the request's total: settings.UPLOAD_MAX_BYTES).
MAX_PHOTO_BYTES = 10 * 1024 * 1024
SATISFACTION = {"satisfied": 3, "basically_satisfied": 2, "dissatisfied": 1}
#: Boundaries of the incident's places: never needed to act on it.
HEAVY_RELATED = ("holder__geometry", "region__geometry", "grid__geometry")

#: Who may report through each channel (devices use the webhook, not a role).
CHANNEL_ROLES = {
    Channel.GRID_PATROL: {Role.GRID_WORKER, Role.OPERATOR, Role.CITY_ADMIN},
    Channel.HOTLINE_12345: {Role.OPERATOR, Role.CITY_ADMIN},
    Channel.CITIZEN_WEB: {Role.OPERATOR, Role.CITY_ADMIN},
    Channel.OPEN311: {Role.OPERATOR, Role.CITY_ADMIN},
    Channel.DEPARTMENT: {Role.HANDLER, Role.OPERATOR, Role.CITY_ADMIN},
    Channel.IOT: set(),
    Channel.VIDEO: set(),
}
SYSTEM = "system"


def may_see_contact(actor: User) -> bool:
    """Whether the actor's work needs the reporter's contact unmasked (each
    unmasked view is logged by whoever shows it)."""
    return actor.is_superuser or actor.role in (Role.OPERATOR, Role.CITY_ADMIN)


class IdempotencyMismatch(DomainError):
    status = 422
    code = "idempotency_key_reused"


# ---------------------------------------------------------------- deadlines

@dataclass(frozen=True)
class Deadline:
    amount: float
    unit: str
    warn_at: dt.datetime
    due_at: dt.datetime
    warnings: tuple[str, ...]


def stage_deadline(*, rules: CategoryRules | None, stage: str, urgency: str,
                   start: dt.datetime) -> Deadline:
    """The deadline of ``stage`` starting at ``start`` under the category's rules."""
    limits = (rules.limits if rules else None) or DEFAULT_LIMITS
    limit = limits.get(stage) or DEFAULT_LIMITS[stage]
    factor = 1.0
    for level in (rules.urgencies if rules else []):
        if level.get("code") == urgency:
            factor = float(level.get("factor", 1.0))
    amount = float(limit["amount"]) * factor
    calendar = get_calendar()
    due = calendar.add(start, amount, limit["unit"])
    warn = calendar.warn_at(start, amount, limit["unit"])
    return Deadline(amount, limit["unit"], warn, due.at, tuple(due.warnings))


def _next_stage(incident: Incident, state: str,
                start: dt.datetime) -> tuple[dict, IncidentStage | None]:
    """The incident fields to set on entering ``state``, and its stage (if any)
    not yet saved."""
    stage = wf.STAGE_OF_STATE.get(state)
    if stage is None:
        return ({"stage": "", "warn_at": None, "due_at": None, "overdue": False,
                 "warned": False}, None)
    deadline = stage_deadline(rules=incident.rules, stage=stage, urgency=incident.urgency,
                              start=start)
    row = IncidentStage(incident=incident, stage=stage, started_at=start,
                        warn_at=deadline.warn_at, due_at=deadline.due_at,
                        amount=deadline.amount, unit=deadline.unit,
                        warnings=list(deadline.warnings))
    return ({"stage": stage, "warn_at": deadline.warn_at, "due_at": deadline.due_at,
             "overdue": False, "warned": False}, row)


def _close_stage(incident: Incident, now: dt.datetime) -> None:
    """End the open stage; the incident's ``due_at`` is that stage's."""
    late = incident.due_at is not None and incident.due_at < now
    IncidentStage.objects.filter(incident_id=incident.pk, ended_at__isnull=True).update(
        ended_at=now, overdue=late)


# ---------------------------------------------------------------- notifications

def notify(*, user_ids: Iterable[int], incident: Incident | None, kind: str, params: Mapping,
           now: dt.datetime | None = None, exclude: int | None = None) -> None:
    """Tell these users what happened: a record (``kind`` + ``params``), its
    text rendered when read, in the reader's language (``incidents.notices``)."""
    ids = sorted({u for u in user_ids if u != exclude})
    Notification.objects.bulk_create([
        Notification(user_id=u, incident=incident, kind=kind, params=dict(params),
                     created_at=now or timezone.now()) for u in ids])


def _excerpt(text: str) -> str:
    """What a notification quotes of a description or a reason."""
    return (text or "")[:60]


def _actor_name(actor: User | None) -> str:
    return (actor.display_name or actor.username) if actor is not None else ""


# ---------------------------------------------------------------- intake

def _clean_extra(rules: CategoryRules | None, extra: Mapping | None) -> dict:
    extra = dict(extra or {})
    fields = {f["code"]: f for f in (rules.extra_fields if rules else [])}
    unknown = sorted(set(extra) - set(fields))
    if unknown:
        raise ValidationError(gettext("Unknown extra field %(code)s for this category.")
                              % {"code": unknown[0]}, field=f"extra.{unknown[0]}")
    cleaned = {}
    for code, spec in fields.items():
        value = extra.get(code)
        if value in (None, "", []):
            if spec.get("required"):
                raise ValidationError(gettext("%(name)s (%(code)s) is required.")
                                      % {"name": spec.get("name", code), "code": code},
                                      field=f"extra.{code}")
            continue
        cleaned[code] = _check_extra_value(code, spec, value)
    return cleaned


def _check_extra_value(code: str, spec: Mapping, value):
    datatype = spec.get("datatype", "string")
    allowed = {v["key"] for v in spec.get("values", [])}
    field = f"extra.{code}"
    if datatype == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValidationError(gettext("%(code)s must be a number.") % {"code": code},
                                  field=field) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValidationError(gettext("%(code)s must be a finite number.") % {"code": code},
                                  field=field)
        return number
    if datatype == "datetime":
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(gettext("%(code)s must be an ISO 8601 date and time.")
                                  % {"code": code}, field=field) from None
        return parsed.isoformat()
    if datatype == "singlevaluelist":
        if str(value) not in allowed:
            raise ValidationError(gettext("%(code)s must be one of %(choices)s.")
                                  % {"code": code, "choices": ", ".join(sorted(allowed))},
                                  field=field)
        return str(value)
    if datatype == "multivaluelist":
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if str(v) not in allowed]
        if bad:
            raise ValidationError(gettext("%(code)s: %(value)s is not one of %(choices)s.")
                                  % {"code": code, "value": bad[0],
                                     "choices": ", ".join(sorted(allowed))}, field=field)
        return [str(v) for v in values]
    if not isinstance(value, str | int | float):
        raise ValidationError(gettext("%(code)s must be text.") % {"code": code}, field=field)
    return str(value)[:1000]


def _check_photos(photos: Sequence[UploadedFile]) -> list[tuple[ContentFile, str, str, str]]:
    """Each photo decoded and encoded again (``core.uploads.image_clean``: no
    EXIF, no trailing bytes, at most 40 megapixels read, 4096 px kept) with the
    sha256 of what will be stored: (file, content_type, ext, sha256). The same
    upload gives the same bytes, so an idempotent retry hashes the same."""
    photos = list(photos)
    if len(photos) > settings.UPLOAD_MAX_FILES:
        raise TooLarge(gettext("At most %(n)s photos may be sent at once.")
                       % {"n": settings.UPLOAD_MAX_FILES}, field="photos")
    if sum(photo.size or 0 for photo in photos) > settings.UPLOAD_MAX_BYTES:
        raise TooLarge(gettext("The photos are larger than %(mb)s MB in all.")
                       % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}, field="photos")
    checked = []
    for i, photo in enumerate(photos):
        field = f"photos[{i}]"
        if photo.size is None or photo.size > MAX_PHOTO_BYTES:
            raise ValidationError(gettext("%(name)s: larger than %(mb)s MB")
                                  % {"name": photo.name, "mb": MAX_PHOTO_BYTES // (1024 * 1024)},
                                  field=field)
        clean, content_type, ext = image_clean(photo, field=field)
        clean.name = photo.name or ""
        checked.append((clean, content_type, ext,
                        hashlib.sha256(clean.file.getvalue()).hexdigest()))
    return checked


def _save_photos(incident: Incident, entry: TimelineEntry | None,
                 photos) -> list[Attachment]:
    saved = []
    for photo, content_type, ext, sha in photos:
        att = Attachment(incident=incident, entry=entry, content_type=content_type,
                         size=photo.size, sha256=sha, name=(photo.name or "")[:200])
        att.file.save(f"{sha[:32]}.{ext}", photo, save=False)
        att.save()
        saved.append(att)
    return saved


def _request_hash(fields: Mapping, photos) -> str:
    body = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(body.encode())
    for _photo, _ct, _ext, sha in photos:
        digest.update(sha.encode())
    return digest.hexdigest()


def _locate(*, lng, lat, crs: str, region_code: str | None, actor: User | None):
    """(lng, lat, grid, region) for a point, or for an address in a region.
    The grid and regions come from the spatial index's memory: no query. A
    grid worker reports only a point inside one of their own grids."""
    index = get_index()
    scope = Scope.for_user(actor) if actor is not None else None
    if lng is not None or lat is not None:
        if lng is None or lat is None:
            raise ValidationError(gettext("Give both lng and lat."),
                                  field="lat" if lat is None else "lng")
        lng_f, lat_f = check_lng_lat(lng, lat)
        lng_f, lat_f = to_wgs84(lng_f, lat_f, check_crs(crs))
        grid, region = point_check_territory(location=index.locate(lng_f, lat_f), scope=scope)
        return lng_f, lat_f, grid, region
    region = current_region(region_code) if region_code else None
    if scope is not None and scope.grid_ids is not None:
        raise ValidationError(gettext("A grid worker reports the point where the case is (lng "
                                      "and lat): an address alone is not placed in a grid."),
                              field="location")
    if region is not None:
        if scope is not None and not scope.covers(region.path):
            raise ValidationError(gettext("The region %(code)s lies outside your territory.")
                                  % {"code": region_code}, field="region")
        return None, None, None, region
    if actor is not None and actor.region_id:
        return None, None, None, index.region(actor.region_id) or actor.region
    raise ValidationError(gettext("Give the location as lng/lat, or an address with its "
                                  "region."), field="location")


def _category_and_rules(code: str) -> tuple[Category | None, CategoryRules | None]:
    """The active category with this code and its current rules (the latest
    version); (category, None) for a class; (None, None) for no such category."""
    return rule_book().categories.get(code, (None, None))


def centre_above(region: Region) -> Region | None:
    """The linkage centre above this one (without its boundary), or None at the top."""
    if region.parent_id is None:
        return None
    return (get_index().region(region.parent_id)
            or Region.objects.defer("geometry").get(pk=region.parent_id))


def _holder_for(region: Region) -> Region:
    """The linkage centre that receives a new incident: its town's sub-centre,
    or the lowest region above the community when there is no town."""
    index = get_index()
    chain = {node.level: node.id for node in index.chain(region.pk)}
    for level in (Level.TOWN, Level.DISTRICT, Level.CITY):
        if level in chain:
            return index.region(chain[level]) or region
    return region


def incident_report(*, actor: User | None, channel: str, description: str,
                    category: str | None = None, lng=None, lat=None, crs: str = "wgs84",
                    address: str = "", region: str | None = None, contact_name: str = "",
                    contact_phone: str = "", reported_at: dt.datetime | None = None,
                    urgency: str = "normal", extra: Mapping | None = None,
                    photos: Sequence[UploadedFile] = (), device: Device | None = None,
                    idempotency_key: str | None = None, now: dt.datetime | None = None,
                    system_backdate: bool = False) -> tuple[Incident, bool]:
    """Take in a report from any channel. Returns (incident, created); a retry
    with the same idempotency key returns the first incident and False."""
    now = now or timezone.now()
    if channel not in Channel.values:
        raise ValidationError(gettext("Unknown channel %(channel)s: use one of %(choices)s.")
                              % {"channel": channel, "choices": ", ".join(Channel.values)},
                              field="channel")
    allowed = CHANNEL_ROLES[channel]
    if device is None and (actor is None or not (actor.is_superuser or actor.role in allowed)):
        raise PermissionDenied(gettext("Your role may not report through the %(channel)s "
                                       "channel.") % {"channel": channel}, field="channel")
    if idempotency_key and len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise ValidationError(gettext("The Idempotency-Key is longer than %(max)d characters.")
                              % {"max": MAX_IDEMPOTENCY_KEY}, field="Idempotency-Key")
    description = (description or "").strip()
    if not description:
        raise ValidationError(gettext("The description is empty."), field="description")
    check_length("description", description, MAX_DESCRIPTION, gettext("Description"))
    cat, rules = None, None
    if category:
        cat, rules = _category_and_rules(category)
        if cat is None:
            raise ValidationError(gettext("Unknown category %(code)s.") % {"code": category},
                                  field="category")
        if rules is None:
            raise ValidationError(gettext("%(code)s is a class: choose one of its subclasses.")
                                  % {"code": category}, field="category")
    elif extra:
        raise ValidationError(gettext("Extra fields need a category."), field="extra")
    urgencies = {u["code"] for u in (rules.urgencies if rules else [])} or {"normal"}
    if urgency not in urgencies:
        raise ValidationError(gettext("Unknown urgency %(urgency)s: use one of %(choices)s.")
                              % {"urgency": urgency, "choices": ", ".join(sorted(urgencies))},
                              field="urgency")
    cleaned_extra = _clean_extra(rules, extra)
    if reported_at is None:
        reported_at = now
    else:
        if timezone.is_naive(reported_at):
            raise ValidationError(gettext("The time of the call needs a time zone offset."),
                                  field="reported_at")
        if reported_at > now + CLOCK_SKEW:
            raise ValidationError(gettext("The time of the call lies in the future."),
                                  field="reported_at")
        if reported_at < now - CLOCK_SKEW and not system_backdate:
            if actor is None or actor.role not in (Role.OPERATOR, Role.CITY_ADMIN):
                raise ValidationError(gettext("Only an operator may enter an earlier time of "
                                              "the call."), field="reported_at")
            if reported_at < now - MAX_BACKDATE:
                raise ValidationError(gettext("The time of the call is more than 30 days ago."),
                                      field="reported_at")
    checked_photos = _check_photos(photos)
    lng_f, lat_f, grid, located = _locate(lng=lng, lat=lat, crs=crs, region_code=region,
                                          actor=actor)
    owner = f"device:{device.pk}" if device else f"user:{actor.pk}" if actor else "anonymous"
    request_hash = _request_hash({
        "channel": channel, "description": description, "category": category, "lng": lng,
        "lat": lat, "crs": crs, "address": address, "region": region,
        "contact_name": contact_name, "contact_phone": contact_phone,
        "reported_at": reported_at.isoformat() if reported_at != now else None,
        "urgency": urgency, "extra": cleaned_extra}, checked_photos)
    if idempotency_key:
        replay = _replay(owner, idempotency_key, request_hash)
        if replay is not None:
            return replay, False
    try:
        with transaction.atomic():
            incident = _create(
                actor=actor, channel=channel, description=description, cat=cat, rules=rules,
                lng=lng_f, lat=lat_f, grid=grid, located=located, address=address,
                contact_name=contact_name, contact_phone=contact_phone,
                reported_at=reported_at, urgency=urgency, extra=cleaned_extra, device=device,
                photos=checked_photos, now=now)
            if idempotency_key:
                IdempotencyKey.objects.create(owner=owner, key=idempotency_key,
                                              request_hash=request_hash, incident=incident)
    except IntegrityError:
        # the same key won a race in another request: answer as a replay
        replay = _replay(owner, idempotency_key, request_hash) if idempotency_key else None
        if replay is None:
            raise
        return replay, False
    return incident, True


def _replay(owner: str, key: str, request_hash: str) -> Incident | None:
    record = IdempotencyKey.objects.select_related("incident").filter(owner=owner,
                                                                      key=key).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyMismatch(gettext("This Idempotency-Key was used for another report, "
                                          "already registered as %(number)s.")
                                  % {"number": record.incident.number}, field="Idempotency-Key",
                                  details={"incident": record.incident.number})
    return record.incident


def _number(reported_at: dt.datetime, pk: int) -> str:
    """The number people read out on the phone: SJ, the day reported, the id."""
    return f"SJ{timezone.localtime(reported_at):%Y%m%d}{pk:08d}"


def _next_incident_id() -> int | None:
    """On PostgreSQL the next id from the table's sequence (so the row is
    written once, with its number); None elsewhere (the row gets its id when
    written, its number by a second statement)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))",
                       [Incident._meta.db_table])
        return cursor.fetchone()[0]


def _create(*, actor, channel, description, cat, rules, lng, lat, grid, located, address,
            contact_name, contact_phone, reported_at, urgency, extra, device, photos,
            now) -> Incident:
    holder = _holder_for(located)
    route = suggest_department(region=located, category=cat, rules=rules)
    incident = Incident(
        number=uuid.uuid4().hex[:32], channel=channel, category=cat, rules=rules,
        urgency=urgency, description=description, address=address[:300], lng=lng, lat=lat,
        grid=grid, region=located, path=located.path, holder=holder, reporter=actor,
        device=device, contact_name=contact_name[:100], contact_phone=contact_phone[:32],
        reported_at=reported_at, created_at=now, updated_at=now, extra=extra)
    fields, stage = _next_stage(incident, wf.REPORTED, reported_at)
    for name, value in fields.items():
        setattr(incident, name, value)
    pk = _next_incident_id()
    if pk is not None:  # the number is known before the row is written
        incident.pk, incident.number = pk, _number(reported_at, pk)
    incident.save(force_insert=True)
    if pk is None:
        incident.number = _number(reported_at, incident.pk)
        Incident.objects.filter(pk=incident.pk).update(number=incident.number)
    assert stage is not None  # a reported incident waits for acceptance
    stage.save(force_insert=True)
    entry = TimelineEntry.objects.create(
        incident=incident, action="report", actor=actor, at=now, from_state="",
        to_state=wf.REPORTED, data={
            "channel": channel,
            "category": cat.code if cat else None,
            "located": {"grid": grid.code if grid else None, "region": located.code,
                        "lng": lng, "lat": lat},
            "holder": holder.code,
            "route": route.as_data(),
            "device": device.device_id if device else None,
            "reported_at": reported_at.isoformat(),
        })
    rollups.incident_reported(incident)  # counted in this transaction
    attachments = _save_photos(incident, entry, photos)
    # what a fresh incident holds is known: answering with it needs no query
    incident._prefetched_objects_cache = {"stages": [stage], "attachments": attachments}
    notify(user_ids=centre_operators([holder.pk]), incident=incident, kind="new",
           params={"number": incident.number, "description": _excerpt(description),
                   "actor": _actor_name(actor)}, now=now,
           exclude=actor.pk if actor else None)
    return incident


# ---------------------------------------------------------------- actions

def incident_for_actor(*, actor: User, incident_id: int | str) -> Incident:
    """The incident if the actor's scope reaches it; otherwise NotFound."""
    from .selectors import incidents_visible

    qs = incidents_visible(Scope.for_user(actor)).select_related(
        "holder", "department", "rules", "category", "grid", "region").defer(*HEAVY_RELATED)
    key = str(incident_id)
    incident = (qs.filter(number=key).first() if not key.isdigit()
                else qs.filter(pk=int(key)).first())
    if incident is None:
        raise NotFound(gettext("No incident %(id)s in your territory.") % {"id": incident_id},
                       field="id")
    return incident


def relation_allows(actor: User, incident: Incident, transition_roles: frozenset[str],
                    scope: Scope | None = None) -> bool:
    """Whether the actor stands in the right relation to this incident for an
    action open to ``transition_roles`` (the role check is the table's).
    ``scope`` saves its queries when the caller has it already."""
    if actor.is_superuser:
        return True
    role = actor.role
    if role not in transition_roles:
        return False
    if role == Role.HANDLER:
        return incident.department_id is not None and incident.department_id == actor.department_id
    if role == Role.GRID_WORKER and incident.grid_id is None:
        return False
    scope = scope or Scope.for_user(actor)
    if not scope.covers(incident.path, incident.grid_id):
        return False
    if role == Role.OPERATOR:  # held by the operator's centre or one below it
        return any(incident.holder.path.startswith(p) for p in scope.paths)
    return role in (Role.CITY_ADMIN, Role.GRID_WORKER)


def _roles(actor: User) -> list[str]:
    return [Role.CITY_ADMIN, Role.OPERATOR] if actor.is_superuser else [actor.role]


def _check_role(actor: User | None, action: str) -> None:
    """The table's role check alone, for a service that looks up its fields
    before ``_apply``: whether a role may act must not depend on them."""
    if actor is not None and not wf.INCIDENT.transition(action).roles & set(_roles(actor)):
        raise PermissionDenied(gettext("Your role may not take the action “%(action)s” on an "
                                       "incident.")
                               % {"action": notices.action_label(action)}, field="action")


def _guard(action: str, incident: Incident) -> str | None:
    """Why an action open by the table is still not possible now, or None."""
    if action == "request_extension" and incident.pending_extension:
        return gettext("An extension request is already waiting for a decision.")
    if action in ("approve_extension", "refuse_extension") and not incident.pending_extension:
        return gettext("No extension request is waiting.")
    if action == "reopen" and incident.satisfaction != SATISFACTION["dissatisfied"]:
        return gettext("Only an incident whose call-back was dissatisfied can be reopened.")
    if action == "assign_down" and (incident.path == incident.holder.path
                                    or not incident.path.startswith(incident.holder.path)):
        return gettext("No lower linkage centre covers the incident's place.")
    if action == "escalate" and incident.holder.parent_id is None:
        return gettext("The incident is already at the top level.")
    return None


def available_actions(*, actor: User, incident: Incident) -> list[str]:
    scope = Scope.for_user(actor)
    return [t.action for t in wf.INCIDENT.available(incident.state, _roles(actor))
            if relation_allows(actor, incident, t.roles, scope)
            and _guard(t.action, incident) is None]


def _apply(*, actor: User | None, incident: Incident, action: str, payload: Mapping,
           changes: Mapping | None = None, data: Mapping | None = None,
           notify_ids: Iterable[int] = (), notice: Mapping | None = None, photos=(),
           expected_version: int | None = None, now: dt.datetime | None = None,
           restart_stage: bool = False) -> Incident:
    """Check, compare-and-set, record. ``actor`` None is the system (the sweep)."""
    action_texts_check(payload)
    now = now or timezone.now()
    current = {"state": incident.state, "version": incident.version}  # what every 409 carries
    if actor is not None:
        try:
            t = wf.INCIDENT.check(action, state=incident.state, roles=_roles(actor),
                                  payload=payload)
        except DomainError as exc:
            raise _refusal(exc, action=action, state=incident.state, current=current) from None
        if not relation_allows(actor, incident, t.roles):
            raise PermissionDenied(gettext("You may not take the action “%(action)s” on this "
                                           "incident.")
                                   % {"action": notices.action_label(action)}, field="action")
    else:
        t = wf.INCIDENT.transition(action)
        if incident.state not in t.sources:
            raise Conflict(gettext("The action “%(action)s” is not possible on an incident that "
                                   "is %(state)s.")
                           % {"action": notices.action_label(action),
                              "state": notices.state_label(incident.state)},
                           code="invalid_state", details=current)
    why_not = _guard(action, incident)
    if why_not:
        raise Conflict(why_not, code="invalid_state", details=current)
    if expected_version is not None and expected_version != incident.version:
        raise _stale(incident)
    before = incident.state
    target = t.leads_to(before)
    updates: dict = {"state": target, "version": F("version") + 1, "updated_at": now,
                     **(changes or {})}
    if t.counter:
        updates[t.counter] = F(t.counter) + 1
    new_stage = None
    if target != before or restart_stage:
        # the next stage's deadline is set by the compare-and-set update itself
        stage_fields, new_stage = _next_stage(incident, target, now)
        updates.update(stage_fields)
    with transaction.atomic():
        rollups.incident_changing(incident, updates)  # rolled back with a lost race
        rows = Incident.objects.filter(pk=incident.pk, version=incident.version).update(**updates)
        if rows != 1:
            raise _stale(incident)
        if target != before or restart_stage:
            _close_stage(incident, now)
            if new_stage is not None:
                new_stage.save(force_insert=True)
        entry = TimelineEntry.objects.create(
            incident=incident, action=action, actor=actor, at=now, from_state=before,
            to_state=target,
            data={k: v for k, v in {**_plain(payload), **(data or {})}.items() if v is not None})
        if photos:
            _save_photos(incident, entry, photos)
        if notice is not None:
            notify(user_ids=notify_ids, incident=incident, kind=action,
                   params={"number": incident.number, "actor": _actor_name(actor), **notice},
                   now=now, exclude=actor.pk if actor else None)
    _refresh(incident, updates)
    return incident


def _refusal(exc: DomainError, *, action: str, state: str, current: dict) -> DomainError:
    """The workflow table's refusal (``core.workflow``, in English: it knows no
    incident words) told in the reader's language, with the same class, code
    and field; a conflict carries the incident's state and version."""
    names = {"action": notices.action_label(action), "state": notices.state_label(state),
             "field": notices.field_label(exc.field or "")}
    if isinstance(exc, PermissionDenied):
        message = gettext("Your role may not take the action “%(action)s” on an incident.")
    elif isinstance(exc, Conflict):
        message = gettext("The action “%(action)s” is not possible on an incident that "
                          "is %(state)s.")
        exc.details = {**current, **exc.details}
    elif exc.field == "action":
        message, names = gettext("Unknown action %(action)s."), {"action": action}
    else:
        message = gettext("“%(action)s” needs: %(field)s.")
    return type(exc)(message % names, field=exc.field, code=exc.code, details=exc.details)


#: What the sweep changes without bumping the version (see ``sla``).
SWEPT_FIELDS = ("warned", "overdue", "supervise_count")


def _refresh(incident: Incident, updates: Mapping) -> None:
    """Bring the incident in memory to the row the compare-and-set wrote:
    the values it set, the counters it moved, and the fields the sweep may
    have changed meanwhile (read again)."""
    for name, value in updates.items():
        if name == "version" or name.endswith("_count"):
            continue
        setattr(incident, name, value)  # a model instance also keeps its relation cached
    incident.version += 1
    counters = [name for name in updates if name.endswith("_count")]
    for name in counters:
        setattr(incident, name, getattr(incident, name) + 1)
    swept = Incident.objects.filter(pk=incident.pk).values_list(*SWEPT_FIELDS).first()
    if swept is not None:
        for name, value in zip(SWEPT_FIELDS, swept, strict=True):
            setattr(incident, name, value)


def action_texts_check(texts: Mapping) -> None:
    """Refuse a note, reason or result over its limit (the API checks every
    one it was sent, even one the action does not use)."""
    for name, (limit, label) in ACTION_TEXTS.items():
        check_length(name, texts.get(name), limit, label)


def check_length(field: str, text: str | None, limit: int, label: object) -> None:
    """Refuse a text longer than ``limit`` characters, naming the field, the
    limit and how many too many (never cut it short in silence). A line break
    counts once, as the browser's counter counts it (a form sends CR LF)."""
    n = len(text.replace("\r\n", "\n")) if text else 0
    if n > limit:
        raise ValidationError(
            gettext("“%(field)s” may be at most %(max)d characters long: it has %(n)d, "
                    "%(over)d too many.")
            % {"field": label, "max": limit, "n": n, "over": n - limit}, field=field)


def _plain(payload: Mapping) -> dict:
    out = {}
    for key, value in payload.items():
        if isinstance(value, Department | Region):
            out[key] = value.code
        elif isinstance(value, Incident):
            out[key] = value.number
        elif isinstance(value, dt.datetime):
            out[key] = value.isoformat()
        elif isinstance(value, str | int | float | bool | list | dict) or value is None:
            out[key] = value
    return out


def _stale(incident: Incident) -> Conflict:
    current = Incident.objects.filter(pk=incident.pk).values("state", "version").first() or {}
    return Conflict(gettext("Someone else changed this incident first; reload and try again."),
                    code="conflict", details={"state": current.get("state"),
                                              "version": current.get("version")})


# ---------------------------------------------------------------- one service per action

def incident_accept(*, actor: User, incident: Incident, note: str = "",
                    category: str | None = None, **kw) -> Incident:
    """Register (立案); an incident reported without a category gets one now."""
    _check_role(actor, "accept")
    changes, data = {}, {}
    if category:
        cat, rules = _category_and_rules(category)
        if cat is None or rules is None:
            raise ValidationError(gettext("Unknown category %(code)s.") % {"code": category},
                                  field="category")
        changes = {"category": cat, "rules": rules}
        incident.category, incident.rules = cat, rules
        route = suggest_department(region=incident.region, category=cat, rules=rules)
        data["route"] = route.as_data()
    elif incident.category_id is None:
        raise ValidationError(gettext("Classify the incident: give its category."),
                              field="category")
    return _apply(actor=actor, incident=incident, action="accept",
                  payload={"note": note, "category": category}, changes=changes, data=data, **kw)


def incident_reject(*, actor: User, incident: Incident, reason: str, **kw) -> Incident:
    return _apply(actor=actor, incident=incident, action="reject", payload={"reason": reason},
                  changes={"closed_at": kw.get("now") or timezone.now()}, **kw)


def incident_merge(*, actor: User, incident: Incident, original: str, **kw) -> Incident:
    """Reject as a duplicate of ``original`` (an incident number), linked to it."""
    _check_role(actor, "merge")
    try:
        target = incident_for_actor(actor=actor, incident_id=original) if original else None
    except NotFound:
        raise ValidationError(gettext("No incident %(id)s in your territory.") % {"id": original},
                              field="original") from None
    if target is not None and target.pk == incident.pk:
        raise ValidationError(gettext("An incident cannot duplicate itself."), field="original")
    if target is not None and target.merged_into_id:
        raise ValidationError(gettext("%(number)s is itself a duplicate of another incident.")
                              % {"number": target.number}, field="original")
    return _apply(actor=actor, incident=incident, action="merge",
                  payload={"original": target.number if target else ""},
                  changes={"merged_into": target, "closed_at": kw.get("now") or timezone.now()},
                  **kw)


def incident_self_resolve(*, actor: User, incident: Incident, result: str, photos=(),
                          **kw) -> Incident:
    """A grid worker resolved it on the spot (自处置), with evidence."""
    checked = _check_photos(photos)
    return _apply(actor=actor, incident=incident, action="self_resolve",
                  payload={"result": result}, photos=checked,
                  changes={"self_resolved": True,
                           "closed_at": kw.get("now") or timezone.now()}, **kw)


def incident_assign_down(*, actor: User, incident: Incident, region: str, note: str = "",
                         **kw) -> Incident:
    """Hand the incident to a lower linkage centre on its own chain."""
    _check_role(actor, "assign_down")
    child = Region.objects.current().filter(code=region).first()
    if (child is None or child.pk == incident.holder_id
            or not child.path.startswith(incident.holder.path)
            or not incident.path.startswith(child.path)):
        raise ValidationError(gettext("%(code)s is not a linkage centre below %(holder)s that "
                                      "covers the incident.")
                              % {"code": region, "holder": incident.holder.name}, field="region")
    return _apply(actor=actor, incident=incident, action="assign_down",
                  payload={"region": child, "note": note}, changes={"holder": child},
                  notify_ids=centre_operators([child.pk]),
                  notice={"holder": incident.holder.name}, **kw)


def incident_dispatch(*, actor: User, incident: Incident, department: str, note: str = "",
                      **kw) -> Incident:
    """Send to a department responsible for the incident's place (at any level
    of its chain). The routing suggestion is recorded beside the choice."""
    _check_role(actor, "dispatch")
    dept = Department.objects.select_related("region").filter(code=department).first()
    if dept is None or not incident.path.startswith(dept.region.path):
        raise ValidationError(gettext("No department %(code)s is responsible for this place.")
                              % {"code": department}, field="department")
    route = suggest_department(region=incident.region, category=incident.category,
                               rules=incident.rules)
    return _apply(actor=actor, incident=incident, action="dispatch",
                  payload={"department": dept, "note": note}, changes={"department": dept},
                  data={"suggested": route.as_data(),
                        "followed_suggestion": route.department == dept},
                  notify_ids=department_members(dept.pk),
                  notice={"description": _excerpt(incident.description)}, **kw)


def incident_escalate(*, actor: User, incident: Incident, reason: str, **kw) -> Incident:
    """Pass up one level (上报): to the linkage centre above the holder,
    registered again, without a department."""
    parent = centre_above(incident.holder)  # None at the top: _apply's guard refuses it
    return _apply(actor=actor, incident=incident, action="escalate",
                  payload={"reason": reason}, data={"to": parent.code if parent else None},
                  changes={"holder": parent, "department": None, "pending_extension": None},
                  restart_stage=True, notify_ids=centre_operators([parent.pk] if parent else []),
                  notice={"centre": parent.name if parent else "", "reason": _excerpt(reason)},
                  **kw)


def incident_sign(*, actor: User, incident: Incident, note: str = "", **kw) -> Incident:
    return _apply(actor=actor, incident=incident, action="sign", payload={"note": note}, **kw)


def incident_return(*, actor: User, incident: Incident, reason: str, **kw) -> Incident:
    """退单: back to the dispatching centre, with the reason."""
    return _apply(actor=actor, incident=incident, action="return", payload={"reason": reason},
                  changes={"department": None, "pending_extension": None},
                  notify_ids=centre_operators([incident.holder_id]),
                  notice={"reason": _excerpt(reason)}, **kw)


def incident_report_result(*, actor: User, incident: Incident, result: str, photos=(),
                           **kw) -> Incident:
    checked = _check_photos(photos)
    verifiers = centre_operators([incident.holder_id])
    if incident.grid_id:
        verifiers += list(User.objects.filter(grid_worker__grids=incident.grid_id,
                                              is_active=True).values_list("id", flat=True))
    return _apply(actor=actor, incident=incident, action="report_result",
                  payload={"result": result}, photos=checked,
                  changes={"pending_extension": None}, notify_ids=verifiers,
                  notice={}, **kw)


def incident_verify_pass(*, actor: User, incident: Incident, note: str = "", **kw) -> Incident:
    return _apply(actor=actor, incident=incident, action="verify_pass", payload={"note": note},
                  changes={"closed_at": kw.get("now") or timezone.now()},
                  notify_ids=department_members(incident.department_id),
                  notice={}, **kw)


def incident_verify_fail(*, actor: User, incident: Incident, reason: str, photos=(),
                         **kw) -> Incident:
    checked = _check_photos(photos)
    return _apply(actor=actor, incident=incident, action="verify_fail",
                  payload={"reason": reason}, photos=checked,
                  notify_ids=department_members(incident.department_id),
                  notice={"reason": _excerpt(reason)}, **kw)


def incident_request_extension(*, actor: User, incident: Incident, reason: str, amount: float,
                               unit: str = "working_days", **kw) -> Incident:
    _check_role(actor, "request_extension")
    try:
        amount = float(amount)
    except (TypeError, ValueError):
        raise ValidationError(gettext("The amount must be a number."), field="amount") from None
    if not 0 < amount <= 100:
        raise ValidationError(gettext("The amount must be more than 0 and at most 100."),
                              field="amount")
    if unit not in ("working_days", "working_hours", "natural_hours"):
        raise ValidationError(gettext("Unknown unit %(unit)s.") % {"unit": unit}, field="unit")
    request = {"amount": amount, "unit": unit, "reason": reason,
               "by": actor.username, "at": (kw.get("now") or timezone.now()).isoformat()}
    return _apply(actor=actor, incident=incident, action="request_extension",
                  payload={"reason": reason, "amount": amount, "unit": unit},
                  changes={"pending_extension": request},
                  notify_ids=centre_operators([incident.holder_id]),
                  notice={"amount": amount, "unit": unit}, **kw)


@transaction.atomic  # a refused approval must leave the stage's deadline alone
def incident_approve_extension(*, actor: User, incident: Incident, note: str = "",
                               **kw) -> Incident:
    """Extend the handling deadline by what was asked, counted from the old deadline."""
    request = incident.pending_extension or {}
    changes: dict = {"pending_extension": None}
    data: dict = {}
    stage = IncidentStage.objects.filter(incident=incident, ended_at__isnull=True).first()
    if request and stage is not None:
        calendar = get_calendar()
        if request["unit"] == stage.unit:  # one longer limit, counted from the stage's start
            amount = stage.amount + float(request["amount"])
            due = calendar.add(stage.started_at, amount, stage.unit)
            warn = calendar.warn_at(stage.started_at, amount, stage.unit)
        else:  # a limit in another unit: added to the old deadline
            amount = stage.amount
            due = calendar.add(stage.due_at, request["amount"], request["unit"])
            warn = due.at
        IncidentStage.objects.filter(pk=stage.pk).update(due_at=due.at, warn_at=warn,
                                                         amount=amount)
        changes.update(due_at=due.at, warn_at=warn, overdue=False, warned=False)
        data = {"due_at": due.at.isoformat(), "extension": request,
                "warnings": list(due.warnings)}
    return _apply(actor=actor, incident=incident, action="approve_extension",
                  payload={"note": note}, changes=changes, data=data,
                  notify_ids=department_members(incident.department_id),
                  notice={}, **kw)


def incident_refuse_extension(*, actor: User, incident: Incident, reason: str,
                              **kw) -> Incident:
    return _apply(actor=actor, incident=incident, action="refuse_extension",
                  payload={"reason": reason}, changes={"pending_extension": None},
                  notify_ids=department_members(incident.department_id),
                  notice={"reason": _excerpt(reason)}, **kw)


def incident_supervise(*, actor: User | None, incident: Incident, note: str,
                       level: str = "yellow", **kw) -> Incident:
    """督办: flag and urge (counted); tells the department and the holding centre."""
    _check_role(actor, "supervise")
    if level not in ("yellow", "red", "black"):
        raise ValidationError(gettext("The level must be yellow, red or black."), field="level")
    return _apply(actor=actor, incident=incident, action="supervise",
                  payload={"note": note, "level": level},
                  notify_ids=department_members(incident.department_id)
                  + centre_operators([incident.holder_id]),
                  notice={"note": _excerpt(note)}, **kw)


def incident_callback(*, actor: User, incident: Incident, satisfaction: str, note: str = "",
                      **kw) -> Incident:
    """Record the citizen's call-back (回访)."""
    _check_role(actor, "callback")
    if satisfaction not in SATISFACTION:
        raise ValidationError(gettext("Satisfaction must be one of %(choices)s.")
                              % {"choices": ", ".join(SATISFACTION)}, field="satisfaction")
    return _apply(actor=actor, incident=incident, action="callback",
                  payload={"satisfaction": satisfaction, "note": note},
                  changes={"satisfaction": SATISFACTION[satisfaction]}, **kw)


def incident_reopen(*, actor: User, incident: Incident, reason: str, **kw) -> Incident:
    return _apply(actor=actor, incident=incident, action="reopen", payload={"reason": reason},
                  changes={"closed_at": None, "department": None, "self_resolved": False,
                           "satisfaction": None},
                  notify_ids=centre_operators([incident.holder_id]),
                  notice={}, **kw)


ACTIONS = {
    "accept": incident_accept,
    "reject": incident_reject,
    "merge": incident_merge,
    "self_resolve": incident_self_resolve,
    "assign_down": incident_assign_down,
    "dispatch": incident_dispatch,
    "escalate": incident_escalate,
    "sign": incident_sign,
    "return": incident_return,
    "report_result": incident_report_result,
    "verify_pass": incident_verify_pass,
    "verify_fail": incident_verify_fail,
    "request_extension": incident_request_extension,
    "approve_extension": incident_approve_extension,
    "refuse_extension": incident_refuse_extension,
    "supervise": incident_supervise,
    "callback": incident_callback,
    "reopen": incident_reopen,
}


# ---------------------------------------------------------------- notifications, devices

def notifications_read(*, user: User, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


def device_create(*, device_id: str, name: str, channel: str, category: str | None = None,
                  lng: float | None = None, lat: float | None = None) -> tuple[Device, str]:
    """Register a sensor or camera; returns it and its token (shown once)."""
    import secrets

    if channel not in (Channel.IOT, Channel.VIDEO):
        raise ValidationError(gettext("A device's channel is iot or video."), field="channel")
    if Device.objects.filter(device_id=device_id).exists():
        raise ValidationError(gettext("A device %(id)s exists.") % {"id": device_id},
                              field="device_id")
    cat = None
    if category:
        cat = Category.objects.filter(code=category).first()
        if cat is None:
            raise ValidationError(gettext("Unknown category %(code)s.") % {"code": category},
                                  field="category")
    if (lng is None) != (lat is None):
        raise ValidationError(gettext("Give both lng and lat."), field="lng")
    if lng is not None:
        lng, lat = check_lng_lat(lng, lat)
    token = "dv_" + secrets.token_urlsafe(32)
    device = Device.objects.create(device_id=device_id, name=name, channel=channel,
                                   category=cat, lng=lng, lat=lat,
                                   token_hash=hashlib.sha256(token.encode()).hexdigest())
    return device, token


def device_authenticate(*, device_id: str, authorization: str) -> Device:
    from shanzhi.core.errors import NotAuthenticated

    scheme, _, token = authorization.partition(" ")
    device = Device.objects.filter(device_id=device_id, is_active=True).first()
    if (scheme.lower() != "bearer" or device is None
            or hashlib.sha256(token.strip().encode()).hexdigest() != device.token_hash):
        raise NotAuthenticated(gettext("Unknown device or wrong device token."))
    return device


def device_alert(*, device: Device, data: Mapping, photos=()) -> tuple[Incident, bool]:
    """An alert from a device: its fixed place unless the alert gives one; its
    ``event_id`` is the idempotency key."""
    allowed = {"event_id", "description", "category", "lng", "lat", "crs", "extra",
               "occurred_at", "urgency"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(gettext("%(field)s: unknown field.") % {"field": unknown[0]},
                              field=unknown[0])
    event_id = str(data.get("event_id") or "").strip()
    if not event_id:
        raise ValidationError(gettext("event_id is required."), field="event_id")
    if len(event_id) > MAX_IDEMPOTENCY_KEY:
        raise ValidationError(gettext("event_id is longer than %(max)d characters.")
                              % {"max": MAX_IDEMPOTENCY_KEY}, field="event_id")
    occurred = data.get("occurred_at")
    if occurred:
        try:
            occurred = dt.datetime.fromisoformat(str(occurred))
        except ValueError:
            raise ValidationError(gettext("occurred_at must be ISO 8601."),
                                  field="occurred_at") from None
        if timezone.is_naive(occurred):
            raise ValidationError(gettext("occurred_at needs a time zone offset."),
                                  field="occurred_at")
    lng, lat = data.get("lng", device.lng), data.get("lat", device.lat)
    category = data.get("category") or (device.category.code if device.category else None)
    now = timezone.now()
    if occurred and occurred < now - MAX_BACKDATE:
        raise ValidationError(gettext("occurred_at is more than 30 days ago."),
                              field="occurred_at")
    return incident_report(
        actor=None, device=device, channel=device.channel,
        description=str(data.get("description") or f"{device.name} 告警"),
        category=category, lng=lng, lat=lat, crs=str(data.get("crs") or "wgs84"),
        extra=data.get("extra") or None, urgency=str(data.get("urgency") or "normal"),
        photos=photos, idempotency_key=event_id, now=now,
        reported_at=occurred if occurred and occurred < now else None, system_backdate=True)
