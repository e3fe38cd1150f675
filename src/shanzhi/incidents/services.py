"""Every change of an incident goes through here: intake, then one service per
workflow action, each applied by the case engine's pipeline
(``cases.engine.apply``: the table → the actor's relation → compare-and-set
→ stage deadlines → timeline row → notifications → hooks). What is here is
the incident's own: where a report lies, who holds it, which department
handles it, what each action changes and whom it tells."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence

from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.models import Department, Role, User
from shanzhi.accounts.scope import Scope, locate_point
from shanzhi.accounts.staff import centre_operators, department_members
from shanzhi.cases import engine, hooks
from shanzhi.cases.engine import (  # noqa: F401  (the incident API's limits are the engine's)
    ACTION_TEXTS,
    MAX_IDEMPOTENCY_KEY,
    MAX_NOTE,
    MAX_PHOTO_BYTES,
    MAX_REASON,
    MAX_RESULT,
    IdempotencyMismatch,
    action_texts_check,
    check_length,
)
from shanzhi.core.errors import NotFound, PermissionDenied, ValidationError
from shanzhi.core.privacy import mask_name, mask_phone, record_unmasked_view
from shanzhi.geo.crs import check_lng_lat
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level, Region
from shanzhi.geo.selectors import current_region
from shanzhi.intake import places

from . import assist, duplicates
from . import workflow as wf
from .assist import category_suggestions, model_label, model_summary, place_usable
from .case import INCIDENT_CASE, SATISFACTION, centre_above
from .models import Category, CategoryRules, Channel, Device, Incident, TimelineEntry
from .routing import suggest_department
from .rulebook import rule_book

log = logging.getLogger(__name__)
MAX_DESCRIPTION = assist.MAX_DESCRIPTION
MAX_BACKDATE = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(minutes=5)

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


def contact_masked(incident: Incident) -> dict:
    """The reporter's contact as everyone sees it first."""
    return {"name": mask_name(incident.contact_name),
            "phone": mask_phone(incident.contact_phone), "masked": True}


def contact_reveal(*, request, actor: User, incident: Incident, reason: str) -> dict:
    """The reporter's contact in full, for a role whose work needs it
    (:func:`may_see_contact`); the view is logged with its reason and the
    client's address."""
    if not may_see_contact(actor):
        raise PermissionDenied(gettext("Your role sees contacts masked."), field="incident")
    if incident.contact_name or incident.contact_phone:
        record_unmasked_view(request=request, user=actor, obj=incident,
                             fields=["contact_name", "contact_phone"], reason=reason)
    return {"name": incident.contact_name, "phone": incident.contact_phone, "masked": False}


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


def _locate(*, lng, lat, crs: str, region_code: str | None, actor: User | None):
    """(lng, lat, grid, region) for a point, or for an address in a region.
    The grid and regions come from the spatial index's memory: no query. A
    grid worker reports a point inside one of their own grids, or — for a
    place outside them, seen on their way — an address in their own community:
    it goes to the community's centre, which decides who handles it."""
    scope = Scope.for_user(actor) if actor is not None else None
    if lng is not None or lat is not None:
        return locate_point(lng=lng, lat=lat, crs=crs, scope=scope)
    region = current_region(region_code) if region_code else None
    if scope is not None and scope.grid_ids is not None and region is None:
        raise ValidationError(gettext("A grid worker reports the point where the case is (lng "
                                      "and lat), or an address with the code of their own "
                                      "community."), field="location")
    if region is not None:
        if scope is not None and not scope.covers(region.path):
            raise ValidationError(gettext("The region %(code)s lies outside your territory.")
                                  % {"code": region_code}, field="region")
        return None, None, None, region
    if actor is not None and actor.region_id:
        return None, None, None, get_index().region(actor.region_id) or actor.region
    raise ValidationError(gettext("Give the location as lng/lat, or an address with its "
                                  "region."), field="location")


def _category_and_rules(code: str) -> tuple[Category | None, CategoryRules | None]:
    """The active category with this code and its current rules (the latest
    version); (category, None) for a class; (None, None) for no such category."""
    return rule_book().categories.get(code, (None, None))


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
                    system_backdate: bool = False,
                    duplicate_of: str | None = None) -> tuple[Incident, bool]:
    """Take in a report from any channel. Returns (incident, created); a retry
    with the same idempotency key returns the first incident and False.

    Smart intake (docs/intake.md): the city's model's suggestion is kept on
    the incident and its timeline, the caller's phone is stored normalised
    and an earlier report of theirs noted, an address given without a point
    is placed when the resolver is confident (else flagged). With
    ``duplicate_of`` (an incident number) the report is registered and merged
    into that one in the same transaction: the one-step merge at intake."""
    now = now or timezone.now()
    if channel not in Channel.values:
        raise ValidationError(gettext("Unknown channel %(channel)s: use one of %(choices)s.")
                              % {"channel": channel, "choices": ", ".join(Channel.values)},
                              field="channel")
    allowed = CHANNEL_ROLES[channel]
    if device is None and (actor is None or not (actor.is_superuser or actor.role in allowed)):
        raise PermissionDenied(gettext("Your role may not report through the %(channel)s "
                                       "channel.") % {"channel": channel}, field="channel")
    engine.check_idempotency_key(idempotency_key)
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
    checked_photos = engine.check_photos(photos)
    duplicate_of = (duplicate_of or "").strip() or None
    if duplicate_of is not None and (actor is None or device is not None):
        raise ValidationError(gettext("Only a person merges a report into another incident."),
                              field="duplicate_of")
    placed, place_data = None, None
    if lng is None and lat is None and address.strip():
        placed, place_data = _place_address(address=address, region_code=region, actor=actor)
    if placed is not None:
        lng_f, lat_f, grid, located = placed
    else:
        lng_f, lat_f, grid, located = _locate(lng=lng, lat=lat, crs=crs, region_code=region,
                                              actor=actor)
    intake = _intake_data(description=description, cat=cat, device=device, actor=actor,
                          contact_phone=contact_phone, reported_at=reported_at)
    if place_data is not None:
        intake["data"]["place"] = place_data
    owner = f"device:{device.pk}" if device else f"user:{actor.pk}" if actor else "anonymous"
    fingerprint = engine.request_hash({
        "channel": channel, "description": description, "category": category, "lng": lng,
        "lat": lat, "crs": crs, "address": address, "region": region,
        "contact_name": contact_name, "contact_phone": contact_phone,
        "reported_at": reported_at.isoformat() if reported_at != now else None,
        "urgency": urgency, "extra": cleaned_extra,
        **({"duplicate_of": duplicate_of} if duplicate_of is not None else {})}, checked_photos)

    def create() -> Incident:
        incident = _create(
            actor=actor, channel=channel, description=description, cat=cat, rules=rules,
            lng=lng_f, lat=lat_f, grid=grid, located=located, address=address,
            contact_name=contact_name, contact_phone=intake["phone"], reported_at=reported_at,
            urgency=urgency, extra=cleaned_extra, device=device, photos=checked_photos,
            now=now, suggested=intake["suggested"], intake_data=intake["data"])
        if duplicate_of is not None:
            incident_merge(actor=actor, incident=incident, original=duplicate_of, now=now,
                           data={"at_intake": True})
        return incident

    return engine.create_once(INCIDENT_CASE, owner=owner, key=idempotency_key,
                              fingerprint=fingerprint, create=create)


def _place_address(*, address: str, region_code: str | None, actor: User | None):
    """(the located point or None, the timeline's ``place`` record) for a
    report given by address only. The resolver's point is used when it is
    confident, lies where the actor may report and inside the region given
    with the address; otherwise the report is located as before (by its
    region) and flagged ``placed: false`` for the operator. The resolver
    failing never refuses a report (it is logged)."""
    scope = Scope.for_user(actor) if actor is not None else None
    try:
        place = places.resolve(address.strip(), scope=scope)
    except Exception:  # intake goes on unplaced
        log.exception("resolving the address %r failed", address)
        place = None
    data = {"label": place.label if place else "",
            "confidence": round(float(place.confidence), 3) if place else 0.0,
            "placed": False}
    if place is None or not place.confident or not place_usable(place, scope=scope):
        return None, data
    located = locate_point(lng=place.lng, lat=place.lat, crs="wgs84", scope=scope)
    if region_code:
        named = current_region(region_code)
        if named is None or not located[3].path.startswith(named.path):
            return None, data
    return located, {**data, "placed": True}


def _intake_data(*, description: str, cat: Category | None, device: Device | None,
                 actor: User | None, contact_phone: str, reported_at: dt.datetime) -> dict:
    """What smart intake adds to a report: the model's suggestion (not for
    a device that names its own category), the caller's phone normalised and
    their reports of the last INTAKE_REPEAT_DAYS in the reporter's territory
    (the same the intake form showed them: the timeline names no incident
    the reporter could not see)."""
    data: dict = {}
    suggested = [] if device is not None and cat is not None else \
        category_suggestions(description)
    if suggested:
        data["suggestion"] = {
            "model": model_label(model_summary()),
            "top": [[c.code, confidence] for c, confidence in suggested],
            "chosen": cat.code if cat else None,
            "matched": (cat.pk == suggested[0][0].pk) if cat else None}
    phone = contact_phone.strip()
    if phone:
        phone = duplicates.normalize_phone(phone) or phone
        earlier = duplicates.repeats(phone=phone, now=reported_at,
                                     scope=Scope.for_user(actor) if actor else None)
        if earlier:
            data["repeat_of"] = [i.number for i in earlier]
    return {"data": data, "phone": phone, "suggested": suggested[0] if suggested else None}


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
            now, suggested=None, intake_data=None) -> Incident:
    holder = _holder_for(located)
    route = suggest_department(region=located, category=cat, rules=rules)
    incident = Incident(
        number=uuid.uuid4().hex[:32], channel=channel, category=cat, rules=rules,
        urgency=urgency, description=description, address=address[:300], lng=lng, lat=lat,
        grid=grid, region=located, path=located.path, holder=holder, reporter=actor,
        device=device, contact_name=contact_name[:100], contact_phone=contact_phone[:32],
        reported_at=reported_at, created_at=now, updated_at=now, extra=extra,
        suggested=suggested[0] if suggested else None,
        suggested_confidence=suggested[1] if suggested else None)
    fields, stage = engine.next_stage(INCIDENT_CASE, incident, wf.REPORTED, reported_at)
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
            **(intake_data or {}),
        })
    hooks.created.send(Incident, case=incident)  # the rollups count it in this transaction
    attachments = engine.save_files(INCIDENT_CASE, incident, entry, photos)
    # what a fresh incident holds is known: answering with it needs no query
    incident._prefetched_objects_cache = {"stages": [stage], "attachments": attachments}
    engine.notify(INCIDENT_CASE, user_ids=centre_operators([holder.pk]), case=incident,
                  what="new", params={"number": incident.number,
                                      "description": engine.excerpt(description),
                                      "actor": engine.actor_name(actor)},
                  now=now, exclude=actor.pk if actor else None)
    return incident


# ---------------------------------------------------------------- actions

def incident_for_actor(*, actor: User, incident_id: int | str) -> Incident:
    """The incident if the actor's scope reaches it; otherwise NotFound."""
    return engine.case_for_actor(INCIDENT_CASE, actor=actor, key=incident_id)


def available_actions(*, actor: User, incident: Incident) -> list[str]:
    return engine.available_actions(INCIDENT_CASE, actor=actor, case=incident)


def _apply(**kw) -> Incident:
    return engine.apply(INCIDENT_CASE, case=kw.pop("incident"), **kw)


def _check_role(actor: User | None, action: str) -> None:
    engine.check_role(INCIDENT_CASE, actor, action)


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
    if incident.suggested_id is not None:
        suggested = _category_code(incident.suggested_id)
        data["suggestion"] = {"suggested": suggested, "chosen": incident.category.code,
                              "matched": incident.suggested_id == incident.category_id}
    return _apply(actor=actor, incident=incident, action="accept",
                  payload={"note": note, "category": category}, changes=changes, data=data, **kw)


def _category_code(category_id: int) -> str | None:
    cat = rule_book().by_id.get(category_id)
    if cat is not None:
        return cat.code
    return Category.objects.filter(pk=category_id).values_list("code", flat=True).first()


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
    checked = engine.check_photos(photos)
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
                  notice={"description": engine.excerpt(incident.description)}, **kw)


def incident_escalate(*, actor: User, incident: Incident, reason: str, **kw) -> Incident:
    """Pass up one level (上报): to the linkage centre above the holder,
    registered again, without a department."""
    parent = centre_above(incident.holder)  # None at the top: _apply's guard refuses it
    return _apply(actor=actor, incident=incident, action="escalate",
                  payload={"reason": reason}, data={"to": parent.code if parent else None},
                  changes={"holder": parent, "department": None, "pending_extension": None},
                  restart_stage=True, notify_ids=centre_operators([parent.pk] if parent else []),
                  notice={"centre": parent.name if parent else "",
                          "reason": engine.excerpt(reason)},
                  **kw)


def incident_sign(*, actor: User, incident: Incident, note: str = "", **kw) -> Incident:
    return _apply(actor=actor, incident=incident, action="sign", payload={"note": note}, **kw)


def incident_return(*, actor: User, incident: Incident, reason: str, **kw) -> Incident:
    """退单: back to the dispatching centre, with the reason."""
    return _apply(actor=actor, incident=incident, action="return", payload={"reason": reason},
                  changes={"department": None, "pending_extension": None},
                  notify_ids=centre_operators([incident.holder_id]),
                  notice={"reason": engine.excerpt(reason)}, **kw)


def incident_report_result(*, actor: User, incident: Incident, result: str, photos=(),
                           **kw) -> Incident:
    checked = engine.check_photos(photos)
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
    checked = engine.check_photos(photos)
    return _apply(actor=actor, incident=incident, action="verify_fail",
                  payload={"reason": reason}, photos=checked,
                  notify_ids=department_members(incident.department_id),
                  notice={"reason": engine.excerpt(reason)}, **kw)


def incident_request_extension(*, actor: User, incident: Incident, reason: str, amount: float,
                               unit: str = "working_days", **kw) -> Incident:
    return engine.request_extension(INCIDENT_CASE, actor=actor, case=incident, reason=reason,
                                    amount=amount, unit=unit, **kw)


def incident_approve_extension(*, actor: User, incident: Incident, note: str = "",
                               **kw) -> Incident:
    """Extend the handling deadline by what was asked, counted from the old deadline."""
    return engine.approve_extension(INCIDENT_CASE, actor=actor, case=incident, note=note, **kw)


def incident_refuse_extension(*, actor: User, incident: Incident, reason: str,
                              **kw) -> Incident:
    return engine.refuse_extension(INCIDENT_CASE, actor=actor, case=incident, reason=reason,
                                   **kw)


def incident_supervise(*, actor: User | None, incident: Incident, note: str,
                       level: str = "yellow", **kw) -> Incident:
    """督办: flag and urge (counted); tells the department and the holding centre."""
    return engine.supervise(INCIDENT_CASE, actor=actor, case=incident, note=note, level=level,
                            **kw)


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


# ---------------------------------------------------------------- devices

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
