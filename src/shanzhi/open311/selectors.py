"""Reads of the Open311 server: jurisdictions, the services (our
categories), and service requests (our incidents) as GeoReport fields —
always through a :class:`Scope`, never with the reporter's contact data, and
only what the publication policy publishes (:func:`published`,
``docs/open311.md``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import NotFound, ValidationError
from shanzhi.core.privacy import mask_text
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level, Region
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.assist import category_suggestions
from shanzhi.incidents.models import Category, Incident, TimelineEntry
from shanzhi.incidents.rulebook import rule_book
from shanzhi.incidents.selectors import incidents_visible
from shanzhi.incidents.services import MAX_DESCRIPTION

from .models import ApiKey, ServiceRequest

#: The spec's default and largest window of GET requests.
MAX_SPAN = dt.timedelta(days=90)
MAX_RESULTS = 1000
#: The largest page a read without an api_key gets (its default too).
ANONYMOUS_MAX_RESULTS = 100
#: The categories whose incidents are published; a coarse one with its place coarsened.
PUBLISHED = (Category.Publication.PUBLIC, Category.Publication.COARSE)
#: A coarse incident's point is rounded to this many decimals of a degree (0.01° ≈ 1 km).
COARSE_DECIMALS = 2
#: A coarse incident's address: the names of its regions down to this level.
COARSE_LEVELS = (Level.CITY, Level.DISTRICT, Level.TOWN)
#: The timeline actions whose text is written for the citizen: the latest one
#: with a text is ``status_notes``. Others (dispatch notes, return and
#: escalation reasons, supervision, extensions) stay internal.
PUBLIC_NOTES = {"reject": "reason", "self_resolve": "result", "report_result": "result",
                "verify_pass": "note", "reopen": "reason"}
CLOSED_STATES = (wf.CLOSED, wf.REJECTED)
DATATYPE_DESCRIPTIONS = {
    "string": "短文本 (a short text)",
    "text": "长文本 (a longer text)",
    "number": "数字 (a number)",
    "datetime": "日期时间，ISO 8601 (a date-time, e.g. 2026-11-26T09:30:00+08:00)",
    "singlevaluelist": "单选：取值之一的 key (one key of the values)",
    "multivaluelist": "多选：一个或多个取值的 key (one or more keys of the values)",
}


@lru_cache(maxsize=4)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def w3c(value: dt.datetime | None) -> str | None:
    """A W3C date-time in the city's zone with its offset, no fractional seconds."""
    if value is None:
        return None
    return value.astimezone(_zone(settings.TIME_ZONE)).isoformat(timespec="seconds")


# ---------------------------------------------------------------- jurisdictions

def jurisdictions() -> list[Region]:
    """The cities served here: the current top-level regions."""
    return list(Region.objects.current().filter(parent__isnull=True).defer("geometry")
                .order_by("code"))


def jurisdiction_for(*, jurisdiction_id: str, key: ApiKey | None) -> Region:
    """The city a request reads from or reports to: the key's, or the one
    named by ``jurisdiction_id``, or the only one served."""
    if key is not None:
        region = Region.objects.defer("geometry").get(pk=key.jurisdiction_id)
        if jurisdiction_id and jurisdiction_id != region.code:
            if not any(c.code == jurisdiction_id for c in jurisdictions()):
                raise NotFound(f"jurisdiction_id {jurisdiction_id!r} was not found",
                               field="jurisdiction_id")
            from shanzhi.core.errors import PermissionDenied

            raise PermissionDenied(f"this api_key is not valid for jurisdiction "
                                   f"{jurisdiction_id!r}", field="api_key")
        return region
    cities = jurisdictions()
    if jurisdiction_id:
        for city in cities:
            if city.code == jurisdiction_id:
                return city
        raise NotFound(f"jurisdiction_id {jurisdiction_id!r} was not found",
                       field="jurisdiction_id")
    if len(cities) == 1:
        return cities[0]
    if not cities:
        raise NotFound(gettext("no city is served here yet"), field="jurisdiction_id")
    raise ValidationError("jurisdiction_id is required: this server serves "
                          + ", ".join(f"{c.code} ({c.name})" for c in cities),
                          field="jurisdiction_id")


def read_scope(*, city: Region, key: ApiKey | None) -> Scope:
    """What a request may read: the key's service account's territory, or
    (without a key) the whole city, as a viewer of it would."""
    if key is not None:
        return Scope.for_user(key.user)
    return Scope(paths=(city.path,), role="viewer")


# ---------------------------------------------------------------- services

@dataclass(frozen=True)
class ServiceInfo:
    code: str
    name: str
    group: str
    fields: list[dict] = field(default_factory=list)

    @property
    def description(self) -> str:
        return f"{self.group} / {self.name}" if self.group else self.name


def services() -> list[ServiceInfo]:
    """Every active subcategory (小类) with rules: the services one may request."""
    book = rule_book()
    by_id = {cat.pk: cat for cat, _rules in book.categories.values()}
    out = []
    for code, (cat, rules) in sorted(book.categories.items()):
        if rules is None:
            continue  # a class (大类): not requestable
        parent = by_id.get(cat.parent_id)
        if cat.parent_id is not None and parent is None:
            continue  # its class is inactive
        out.append(ServiceInfo(code=code, name=cat.name, group=parent.name if parent else "",
                               fields=list(rules.extra_fields or [])))
    return out


def service_suggestions(description: str) -> list[dict]:
    """The extension's answer (docs/open311.md): the requestable services the
    city's model finds most likely for ``description``, best first, at most
    three, each with its confidence (0..1); [] before a model is trained."""
    description = description.strip()
    if not description:
        raise ValidationError(gettext("description is required."), field="description")
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(gettext("description is longer than %(limit)d characters.")
                              % {"limit": MAX_DESCRIPTION}, field="description")
    requestable = {s.code: s for s in services()}
    return [{"service_code": cat.code, "service_name": cat.name, "confidence": confidence}
            for cat, confidence in category_suggestions(description)
            if cat.code in requestable]


def service_info(code: str) -> ServiceInfo | None:
    return next((s for s in services() if s.code == code), None)


def service_definition(info: ServiceInfo) -> list[dict]:
    """The service's attributes, from its category's extra fields."""
    attributes = []
    for order, spec in enumerate(info.fields, start=1):
        datatype = spec.get("datatype", "string")
        described = spec.get("name") or spec["code"]
        if spec.get("description"):
            described = f"{described}：{spec['description']}"
        attributes.append({
            "variable": True,
            "code": spec["code"],
            "datatype": datatype,
            "required": bool(spec.get("required")),
            "datatype_description": spec.get("datatype_description")
            or DATATYPE_DESCRIPTIONS.get(datatype, ""),
            "order": order,
            "description": described,
            "values": [{"key": str(v["key"]), "name": v.get("name") or str(v["key"])}
                       for v in spec.get("values", [])] if datatype.endswith("list") else [],
        })
    return attributes


# ---------------------------------------------------------------- requests

@dataclass(frozen=True)
class RequestQuery:
    ids: Sequence[str] = ()
    codes: Sequence[str] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: Sequence[str] = ()
    page: int = 1
    page_size: int = MAX_RESULTS


def date_window(start: dt.datetime | None, end: dt.datetime | None,
                now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Both bounds (inclusive) of a search: the last 90 days by default, 90
    days from a lone start or up to a lone end; a wider span is refused."""
    now = now or timezone.now()
    if start is None and end is None:
        return now - MAX_SPAN, now
    if end is None:
        return start, start + MAX_SPAN
    if start is None:
        return end - MAX_SPAN, end
    if end < start:
        raise ValidationError(gettext("end_date is before start_date"), field="end_date")
    if end - start > MAX_SPAN:
        raise ValidationError(gettext("start_date and end_date may not span more than 90 days"),
                              field="end_date")
    return start, end


def published(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    """The publication policy, the one place it is applied: Open311 reads
    publish only the incidents reported through a public channel
    (``SHANZHI_OPEN311_PUBLIC_CHANNELS``) whose category is public or coarse
    (``Category.publication``); every other incident does not exist for them."""
    return qs.filter(channel__in=settings.OPEN311_PUBLIC_CHANNELS,
                     category__publication__in=PUBLISHED)


def requests_find(*, scope: Scope, query: RequestQuery,
                  now: dt.datetime | None = None) -> list[Incident]:
    """The published incidents a GET requests asks for, newest first. ``ids``
    overrides every other filter."""
    qs: QuerySet[Incident] = published(incidents_visible(scope))
    if query.ids:
        qs = qs.filter(number__in=list(query.ids)[:MAX_RESULTS])
    else:
        start, end = date_window(query.start, query.end, now)
        qs = qs.filter(reported_at__gte=start, reported_at__lte=end)
        if query.codes:
            book = rule_book().categories
            qs = qs.filter(category_id__in=[book[c][0].pk for c in query.codes if c in book])
        wanted = set(query.statuses)
        if wanted == {"open"}:
            qs = qs.filter(state__in=wf.OPEN_STATES)
        elif wanted == {"closed"}:
            qs = qs.filter(state__in=CLOSED_STATES)
    offset = (query.page - 1) * query.page_size
    return list(_with_fields(qs).order_by("-reported_at", "-id")[offset:offset + query.page_size])


def request_get(*, scope: Scope, number: str) -> Incident:
    """One published incident; an unpublished one is as unknown as a missing one."""
    incident = _with_fields(published(incidents_visible(scope)).filter(number=number)).first()
    if incident is None:
        raise NotFound(gettext("service_request_id %(id)r was not found") % {"id": number},
                       field="service_request_id")
    return incident


def _with_fields(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    return qs.select_related("department", "holder", "merged_into").only(
        "id", "number", "state", "description", "address", "lat", "lng", "reported_at",
        "updated_at", "closed_at", "due_at", "category_id", "region_id", "department__name",
        "holder__name", "merged_into__number").annotate(
        category_publication=F("category__publication"))


def _coarse_point(value: float | None) -> float | None:
    return None if value is None else round(value, COARSE_DECIMALS)


def _region_names(region_id: int) -> str | None:
    """苏州市虎丘区狮山街道: the incident's city, district and town, no closer."""
    names = [node.name for node in reversed(get_index().chain(region_id))
             if node.level in COARSE_LEVELS]
    return "".join(names) or None


def request_rows(incidents: Sequence[Incident]) -> list[dict]:
    """The GeoReport fields of each published incident (from :func:`requests_find`
    or :func:`request_get`), in the spec's order. Never the reporter's name,
    phone or e-mail; personal data in the texts masked (``mask_text``); a
    coarse category's place coarsened to about 1 km, its address to the
    region names, without address_id or media_url (either could pinpoint it)."""
    ids = [i.pk for i in incidents]
    notes: dict[int, str] = {}
    extras: dict[int, tuple[str, str]] = {}
    if ids:
        for incident_id, action, data in (
                TimelineEntry.objects.filter(incident_id__in=ids, action__in=PUBLIC_NOTES)
                .order_by("at", "id").values_list("incident_id", "action", "data")):
            text = str((data or {}).get(PUBLIC_NOTES[action]) or "").strip()
            if text:
                notes[incident_id] = mask_text(text)
        extras = {pk: (media, address_id) for pk, media, address_id in
                  ServiceRequest.objects.filter(incident_id__in=ids).values_list(
                      "incident_id", "media_url", "address_id")}
    categories = rule_book().by_id
    rows = []
    for incident in incidents:
        is_open = incident.state in wf.OPEN_STATES
        category = categories.get(incident.category_id)
        media_url, address_id = extras.get(incident.pk, ("", ""))
        agency = (incident.department.name if incident.department_id and incident.department
                  else incident.holder.name)
        notice = (f"重复事件，已并入 {incident.merged_into.number}"
                  if incident.merged_into_id and incident.merged_into else None)
        updated = (incident.closed_at if not is_open and incident.closed_at
                   else incident.updated_at)
        if incident.category_publication == Category.Publication.COARSE:
            lat, lng = _coarse_point(incident.lat), _coarse_point(incident.lng)
            address, address_id, media_url = _region_names(incident.region_id), "", ""
        else:
            lat, lng, address = incident.lat, incident.lng, mask_text(incident.address) or None
        rows.append({
            "service_request_id": incident.number,
            "status": "open" if is_open else "closed",
            "status_notes": notes.get(incident.pk),
            "service_name": category.name if category else None,
            "service_code": category.code if category else None,
            "description": mask_text(incident.description),
            "agency_responsible": agency,
            "service_notice": notice,
            "requested_datetime": w3c(incident.reported_at),
            "updated_datetime": w3c(updated),
            "expected_datetime": w3c(incident.due_at) if is_open else None,
            "address": address,
            "address_id": address_id or None,
            "zipcode": None,
            "lat": lat,
            "long": lng,
            "media_url": media_url or None,
        })
    return rows


def token_find(*, scope: Scope, token: str) -> dict:
    request = (ServiceRequest.objects.select_related("incident").only(
        "token", "incident__number", "incident__path", "incident__grid_id",
        "incident__department_id").filter(token=token).first())
    if request is None or not incidents_visible(scope).filter(pk=request.incident_id).exists():
        raise NotFound(gettext("token %(token)r was not found") % {"token": token}, field="token")
    return {"service_request_id": request.incident.number, "token": request.token}
