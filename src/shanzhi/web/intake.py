"""The operator's intake form (新建事件 / 12345 来电登记): a call, a web
message or a department's transfer typed in at the linkage centre. The page
only parses and presents: ``incidents.services.incident_report`` decides
everything (channel, category, urgency, place, backdating, photos), exactly
as for the API. A hidden idempotency key makes a double submit one incident.

While the call is typed, the form asks ``intake_assist`` (the page's own
endpoint over ``incidents.assist``) for the likely categories, possible
duplicates, the caller's earlier reports and the place the address resolves
to, and ``intake_places`` for the address type-ahead; a possible duplicate
is merged into in one step (the report registered and merged at once)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import DomainError
from shanzhi.core.errors import ValidationError as DomainValidationError
from shanzhi.geo.models import Level
from shanzhi.incidents import assist as intake_assist_service
from shanzhi.incidents import selectors, services
from shanzhi.incidents.models import Channel
from shanzhi.intake import places

from .actions import URGENCIES
from .pages import DESK_ROLES, render_page

#: The channels an operator types in, the usual one first (grid patrol last:
#: a grid worker reports from the field, an operator only on their behalf).
CHANNEL_ORDER = (Channel.HOTLINE_12345, Channel.CITIZEN_WEB, Channel.OPEN311,
                 Channel.DEPARTMENT, Channel.GRID_PATROL)
DEFAULT_CHANNEL = Channel.HOTLINE_12345
#: How the place is given: a point on the map, or an address in a region.
POINT, ADDRESS = "point", "address"
#: The service's error fields → the form's fields they are shown next to.
ERROR_FIELDS = {"lng": "point", "lat": "point", "location": "point", "crs": "point",
                "Idempotency-Key": "", "extra": "category", "original": "", "duplicate_of": ""}
#: How an extra field of each datatype is typed in.
EXTRA_WIDGETS = {"number": "number", "singlevaluelist": "select",
                 "multivaluelist": "checkboxes", "datetime": "datetime"}
FIELD_LABELS = {
    "channel": gettext_lazy("Channel"), "category": gettext_lazy("Category"),
    "urgency": gettext_lazy("Urgency"), "description": gettext_lazy("Description"),
    "point": gettext_lazy("Point on the map"), "region": gettext_lazy("Community / village"),
    "address": gettext_lazy("Address"), "contact_name": gettext_lazy("Contact name"),
    "contact_phone": gettext_lazy("Contact phone"),
    "reported_at": gettext_lazy("Time of the call"), "photos": gettext_lazy("Photos"),
}


def may_report(user: User) -> bool:
    """Whether the user works at a linkage centre's intake (operators, city admins)."""
    return user.is_superuser or user.role in DESK_ROLES


def channel_choices(user: User) -> list[tuple[str, str]]:
    """The channels ``CHANNEL_ROLES`` lets this user report through."""
    return [(c.value, c.label) for c in CHANNEL_ORDER
            if user.is_superuser or user.role in services.CHANNEL_ROLES[c]]


def category_choices() -> tuple[list[tuple[str, str, list]], dict[str, dict]]:
    """Classes with their subclasses (only a subclass may be chosen), and each
    subclass's urgencies and extra fields from its current rules."""
    classes: dict[str, tuple[str, list]] = {}
    rules: dict[str, dict] = {}
    for category in selectors.categories():
        if category.parent_id is None:
            classes.setdefault(category.code, (category.name, []))
            continue
        latest = max(category.versions.all(), key=lambda v: v.number, default=None)
        if latest is None:
            continue
        parent = category.parent
        classes.setdefault(parent.code, (parent.name, []))[1].append(category)
        rules[category.code] = {
            "urgencies": [u["code"] for u in latest.urgencies or []] or ["normal"],
            "extra": [_extra_field(f) for f in latest.extra_fields or []]}
    groups = [(code, name, subs) for code, (name, subs) in classes.items() if subs]
    return groups, rules


def _extra_field(spec: dict) -> dict:
    datatype = spec.get("datatype", "string")
    return {"code": spec["code"], "name": spec.get("name") or spec["code"],
            "required": bool(spec.get("required")), "hint": spec.get("description", ""),
            "widget": EXTRA_WIDGETS.get(datatype, "text"),
            "values": [(v["key"], v.get("name") or v["key"]) for v in spec.get("values", [])]}


def urgency_choices(rules: dict[str, dict]) -> list[tuple[str, str]]:
    """Every urgency some category knows, "normal" first."""
    codes = ["normal"]
    for spec in rules.values():
        codes += [c for c in spec["urgencies"] if c not in codes]
    return [(c, str(URGENCIES.get(c, c))) for c in codes]


def region_groups(scope: Scope) -> list[tuple[str, list[tuple[str, str]]]]:
    """The lowest regions of the territory (communities), grouped by their town."""
    regions = (scope.regions().filter(level=Level.COMMUNITY).select_related("parent__parent")
               .defer("geometry", "parent__geometry", "parent__parent__geometry")
               .order_by("code"))
    groups: dict[str, list[tuple[str, str]]] = {}
    for region in regions:
        town = region.parent
        label = (f"{town.parent.name} · {town.name}" if town and town.parent
                 else town.name if town else "")
        groups.setdefault(label, []).append((region.code, region.name))
    return list(groups.items())


def _map_config() -> dict:
    api_base = reverse("api:territory").removesuffix("territory")
    return {"apiBase": api_base, "tileUrl": settings.MAP_TILE_URL or None,
            "messages": {"outside": _("This point lies outside every grid of the city."),
                         "loadFailed": _("The map data could not be loaded."),
                         "inGrid": _("In grid")}}


# ---------------------------------------------------------------- parsing

def _reported_at(raw: str) -> dt.datetime | None:
    """The time of the call as typed (the page's time zone), or None for now."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise DomainValidationError(_("Enter a date and time such as 2026-03-01 09:30."),
                                    field="reported_at") from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _extra(request: HttpRequest, category: str) -> dict:
    """The extra fields posted for the chosen category (``extra.<category>.<code>``)."""
    prefix = f"extra.{category}."
    extra: dict = {}
    for name in request.POST:
        if category and name.startswith(prefix):
            values = [v.strip() for v in request.POST.getlist(name) if v.strip()]
            if values:
                extra[name.removeprefix(prefix)] = values if len(values) > 1 else values[0]
    return extra


def report_fields(request: HttpRequest) -> dict:
    """The service's keyword arguments from the posted form."""
    post = request.POST
    category = post.get("category", "").strip()
    fields: dict = {
        "channel": post.get("channel", ""), "description": post.get("description", ""),
        "category": category or None, "urgency": post.get("urgency", "") or "normal",
        "address": post.get("address", "").strip(),
        "contact_name": post.get("contact_name", "").strip(),
        "contact_phone": post.get("contact_phone", "").strip(),
        "extra": _extra(request, category) or None,
        "photos": request.FILES.getlist("photos"),
        "idempotency_key": post.get("idempotency_key", "").strip()[:100] or None,
    }
    if post.get("duplicate_of", "").strip():  # "merge into this one" (a possible duplicate)
        fields["duplicate_of"] = post["duplicate_of"].strip()[:40]
    if post.get("locate") == ADDRESS:
        fields["region"] = post.get("region", "").strip() or None
    else:
        fields["lng"] = post.get("lng", "").strip() or None
        fields["lat"] = post.get("lat", "").strip() or None
    fields["reported_at"] = _reported_at(post.get("reported_at", ""))
    return fields


# ---------------------------------------------------------------- the view

def _error_field(field: str | None) -> str:
    field = field or ""
    if field.startswith("photos"):
        return "photos"
    if field.startswith("extra."):
        return field
    return ERROR_FIELDS.get(field, field)


def _error(exc: DomainError, extra_names: dict[str, str]) -> dict:
    field = _error_field(exc.field)
    label = FIELD_LABELS.get(field, "")
    if field.startswith("extra."):
        label = extra_names.get(field.removeprefix("extra."), field.removeprefix("extra."))
    lead = (_("Please check “%(field)s”.") % {"field": label} if label
            else _("The report could not be registered."))
    return {"field": field, "message": exc.message, "lead": lead}


@login_required
def intake(request: HttpRequest) -> HttpResponse:
    """新建事件: GET draws the form, POST registers the report."""
    user = request.user
    if user.role == Role.GRID_WORKER and not user.is_superuser:
        return redirect("web:m_report")  # a grid worker reports from the phone (issue 13)
    if not may_report(user):
        raise DjangoPermissionDenied(_("Only linkage-centre operators register reports."))
    values = request.POST if request.method == "POST" else {}
    groups, rules = category_choices()
    error = None
    already = None  # the incident this form's key registered, when the fields differ now
    status = 200
    if request.method == "POST":
        try:
            fields = report_fields(request)
            incident, created = services.incident_report(actor=user, **fields)
        except services.IdempotencyMismatch as exc:
            # the browser brought back a submitted form (back button, restored
            # form) and the fields were changed: say where the first call went,
            # and offer what was typed as a new report, under a new key
            already = exc.details.get("incident")
        except DomainError as exc:
            chosen = rules.get(values.get("category", ""), {}).get("extra", [])
            error, status = _error(exc, {f["code"]: f["name"] for f in chosen}), exc.status
        else:
            if created and fields.get("duplicate_of"):  # merged at once: on to the original
                original = fields["duplicate_of"]
                messages.success(request, _("Incident %(number)s registered and merged into "
                                            "%(original)s as its duplicate.")
                                 % {"number": incident.number, "original": original})
                return redirect("web:incident", number=original)
            if created:
                messages.success(request, _("Incident %(number)s registered.")
                                 % {"number": incident.number})
            else:
                messages.info(request, _("This report was already registered as %(number)s.")
                              % {"number": incident.number})
            return redirect("web:incident", number=incident.number)
    scope = Scope.for_user(user)
    extra_values = {name: values.getlist(name) for name in values
                    if name.startswith("extra.")} if values else {}
    return render_page(
        request, "web/intake.html", status=status, title=_("New incident"),
        values=values, extra_values=extra_values, error=error, already=already,
        channels=channel_choices(user),
        default_channel=DEFAULT_CHANNEL, categories=groups, category_rules=rules,
        urgencies=urgency_choices(rules), regions=region_groups(scope),
        locate=values.get("locate") or POINT,
        idempotency_key=(not already and values.get("idempotency_key")) or str(uuid.uuid4()),
        map_config=_map_config())


# ---------------------------------------------------------------- assistance

#: How the type-ahead and the place preview name each kind of place.
PLACE_KINDS = {"house": gettext_lazy("Address"), "building": gettext_lazy("Building"),
               "intersection": gettext_lazy("Crossing"), "road": gettext_lazy("Road"),
               "landmark": gettext_lazy("Landmark"), "area": gettext_lazy("Area"),
               "region": gettext_lazy("Region")}
#: The assistant's fields a refusal names → the fields left out on the next try
#: (a half-typed point or category must not silence the other hints).
DROP_ON_ERROR = {"category": ("category",), "lng": ("lng", "lat"), "lat": ("lng", "lat"),
                 "location": ("lng", "lat"), "region": ("region",)}
#: What the type-ahead answers at most.
PLACES_LIMIT = 8


def may_assist(user: User) -> bool:
    """Whoever reports may be helped: the intake's operators and, on their
    phone, grid workers."""
    return may_report(user) or user.role == Role.GRID_WORKER


def assist_fields(post) -> dict:
    """``incidents.assist.assist``'s keyword arguments from the form as typed so far."""
    fields: dict = {"description": post.get("description", ""),
                    "category": post.get("category", "").strip() or None,
                    "address": post.get("address", "").strip()[:300],
                    "contact_phone": post.get("contact_phone", "").strip()[:40]}
    if post.get("locate") == ADDRESS:
        fields["region"] = post.get("region", "").strip() or None
    else:
        lng, lat = post.get("lng", "").strip(), post.get("lat", "").strip()
        if lng and lat:
            fields["lng"], fields["lat"] = lng, lat
    return fields


def assistance(user: User, fields: dict) -> dict:
    """The assistant's answer; a field it refuses (a half-typed point, an
    unknown category) is left out and it is asked again, so the other hints
    still show while the call is typed."""
    for _attempt in range(len(DROP_ON_ERROR)):
        try:
            return intake_assist_service.assist(actor=user, **fields)
        except DomainValidationError as exc:
            dropped = DROP_ON_ERROR.get(exc.field or "", ())
            if not any(name in fields for name in dropped):
                raise
            for name in dropped:
                fields.pop(name, None)
    return intake_assist_service.assist(actor=user, **fields)


def _percent(value: float | None) -> int | None:
    return None if value is None else round(value * 100)


def _whole(value: float) -> float | int:
    """30.0 days reads "30 days"."""
    return int(value) if float(value).is_integer() else value


def _instant(value: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def assist_context(data: dict, *, chosen: str | None, address: str) -> dict:
    """The assistant's answer as the fragment shows it: percentages, times,
    and whether a typed address was recognised."""
    model = data.get("model")
    if model:
        model = {**model, "accuracy_percent": _percent(model.get("accuracy")),
                 "trained": _instant(model.get("trained_at"))}
    place = data.get("place")
    if place:
        place = {**place, "percent": _percent(place["confidence"]),
                 "kind_label": PLACE_KINDS.get(place["kind"], place["kind"])}
    return {
        "suggestions": [{**s, "percent": _percent(s["confidence"]), "chosen": s["code"] == chosen}
                        for s in data.get("suggestions", [])],
        "model": model, "place": place, "address": address,
        "duplicates": [{**d, "percent": _percent(d["similarity"]),
                        "distance": round(d["distance_m"]),
                        "reported": _instant(d["reported_at"])}
                       for d in data.get("duplicates", [])],
        "repeats": [{**r, "reported": _instant(r["reported_at"])}
                    for r in data.get("repeats", [])],
        "repeat_days": _whole(settings.INTAKE_REPEAT_DAYS),
        "radius_m": _whole(settings.INTAKE_DUPLICATE_RADIUS_M),
        "duplicate_days": _whole(settings.INTAKE_DUPLICATE_DAYS),
    }


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def intake_assist(request: HttpRequest) -> HttpResponse:
    """智能受理: the form as typed so far → the assistant's hints, as the HTML
    fragment the intake form shows (``web/parts/intake_assist.html``), or as
    ``incidents.assist``'s JSON dict for ``Accept: application/json`` (the
    phone). Nothing is written."""
    user = request.user
    if not may_assist(user):
        raise DjangoPermissionDenied(_("Only those who register reports are assisted."))
    fields = assist_fields(request.POST)
    try:
        data = assistance(user, dict(fields))
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse(exc.as_dict(), status=exc.status)  # the one error format
        return render(request, "web/parts/intake_assist.html",
                      {"error": exc.message, "address": fields["address"]}, status=exc.status)
    if _wants_json(request):
        return JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    return render(request, "web/parts/intake_assist.html",
                  assist_context(data, chosen=fields["category"], address=fields["address"]))


@login_required
@require_GET
def intake_places(request: HttpRequest) -> JsonResponse:
    """The address type-ahead: known addresses, roads, landmarks and regions
    starting with (or containing) ``q``, houses limited to the user's territory."""
    user = request.user
    if not may_assist(user):
        raise DjangoPermissionDenied(_("Only those who register reports are assisted."))
    q = request.GET.get("q", "").strip()[:100]
    found = places.complete(q, scope=Scope.for_user(user), limit=PLACES_LIMIT) if q else []
    items = [{**item, "kind_label": str(PLACE_KINDS.get(item.get("kind"), item.get("kind", "")))}
             for item in found]
    return JsonResponse({"q": q, "items": items}, json_dumps_params={"ensure_ascii": False})
