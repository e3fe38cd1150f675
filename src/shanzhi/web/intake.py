"""The operator's intake form (新建事件 / 12345 来电登记): a call, a web
message or a department's transfer typed in at the linkage centre. The page
only parses and presents: ``incidents.services.incident_report`` decides
everything (channel, category, urgency, place, backdating, photos), exactly
as for the API. A hidden idempotency key makes a double submit one incident."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import DomainError
from shanzhi.core.errors import ValidationError as DomainValidationError
from shanzhi.geo.models import Level
from shanzhi.incidents import selectors, services
from shanzhi.incidents.models import Channel

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
                "Idempotency-Key": "", "extra": "category"}
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
            incident, created = services.incident_report(actor=user, **report_fields(request))
        except services.IdempotencyMismatch as exc:
            # the browser brought back a submitted form (back button, restored
            # form) and the fields were changed: say where the first call went,
            # and offer what was typed as a new report, under a new key
            already = exc.details.get("incident")
        except DomainError as exc:
            chosen = rules.get(values.get("category", ""), {}).get("extra", [])
            error, status = _error(exc, {f["code"]: f["name"] for f in chosen}), exc.status
        else:
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
