"""The incident page: its facts, map, photos and timeline, and one form per
action the user may take now. Actions post here; with htmx the answer is the
refreshed incident (also after a conflict: 409, explained kindly), without
it a redirect back to the page."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from pydantic import ValidationError as PydanticError

from shanzhi.accounts.models import Department, User
from shanzhi.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from shanzhi.core.errors import ValidationError as DomainValidationError
from shanzhi.core.privacy import mask_name, mask_phone
from shanzhi.geo.models import Region
from shanzhi.incidents import selectors, services
from shanzhi.incidents.api import (
    ACTION_FIELDS,
    PHOTO_ACTIONS,
    ActionIn,
    contact_reveal,
    incident_out,
)
from shanzhi.incidents.models import Incident
from shanzhi.incidents.routing import region_chain_ids, suggest_department

from .actions import (
    ACTION_LABELS,
    COUNTERS,
    FIELD_LABELS,
    SATISFACTION_SCORES,
    SUCCESS,
    UNITS,
    URGENCIES,
    action_specs,
)
from .pages import domain_errors, is_handler, is_htmx, render_page
from .timeline import STAGES, timeline_items


@dataclass(frozen=True)
class Outcome:
    """What an action's answer tells the user."""

    level: str  # success, warning (a conflict), error
    text: str
    status: int = 200
    detail: str = ""
    action: str = ""  # the form to open again, with the values sent


# ---------------------------------------------------------------- context

def _chain(incident: Incident) -> list[Region]:
    """The incident's regions, city first."""
    ids = region_chain_ids(incident.region)
    by_id = {r.pk: r for r in Region.objects.defer("geometry").filter(pk__in=ids)}
    return [by_id[i] for i in reversed(ids) if i in by_id]


def _options(incident: Incident, actions: list[str], chain: list[Region]) -> dict:
    """The choices of the action forms that depend on this incident."""
    options: dict = {}
    if "dispatch" in actions:
        depth = {r.pk: i for i, r in enumerate(chain)}
        departments = sorted(
            Department.objects.filter(region_id__in=depth).select_related("region")
            .defer("region__geometry"), key=lambda d: (-depth[d.region_id], d.code))
        options["department"] = tuple((d.code, d.name) for d in departments)
    if "assign_down" in actions:
        below = [r for r in chain if r.path.startswith(incident.holder.path)
                 and r.pk != incident.holder_id]
        options["region"] = tuple((r.code, r.name) for r in below)
    if "accept" in actions:
        options["category"] = tuple(
            (c.code, f"{c.code} {c.parent.name if c.parent else ''} · {c.name}")
            for c in selectors.categories() if c.parent_id)
    return options


def _suggestion(incident: Incident, actions: list[str]):
    if "dispatch" not in actions:
        return None
    return suggest_department(region=incident.region, category=incident.category,
                              rules=incident.rules)


def _map_config(incident: Incident) -> dict | None:
    if incident.lng is None or incident.lat is None:
        return None
    # the located region: the grid's community when a grid was found
    api_base = reverse("api:territory").removesuffix("territory")
    return {"lng": incident.lng, "lat": incident.lat,
            "grid": incident.grid.code if incident.grid_id else None,
            "areaUrl": f"{api_base}regions/{incident.region.code}/children.geojson?zoom=16",
            "tileUrl": settings.MAP_TILE_URL or None}


def _counters(incident: Incident) -> list[tuple[str, int]]:
    """The counts that are not zero, named."""
    names = ((COUNTERS["return"], incident.return_count),
             (COUNTERS["rework"], incident.rework_count),
             (COUNTERS["supervise"], incident.supervise_count),
             (COUNTERS["extension"], incident.extension_count),
             (COUNTERS["escalate"], incident.escalate_count),
             (COUNTERS["reopen"], incident.reopen_count))
    return [(str(label), n) for label, n in names if n]


def _pending(incident: Incident) -> dict | None:
    request = incident.pending_extension
    if not request:
        return None
    return {"amount": f"{float(request.get('amount', 0)):g}",
            "unit": str(dict(UNITS).get(request.get("unit"), request.get("unit", ""))),
            "by": request.get("by", ""), "reason": request.get("reason", "")}


def _attachments(incident: Incident) -> list:
    attachments = list(incident.attachments.select_related("entry").order_by("pk"))
    for a in attachments:
        a.entry_label = ACTION_LABELS.get(a.entry.action, "") if a.entry else ""
    return attachments


def incident_context(actor: User, incident: Incident, *, outcome: Outcome | None = None,
                     values=None) -> dict:
    """Everything the incident's panel shows."""
    now = timezone.now()
    actions = services.available_actions(actor=actor, incident=incident)
    chain = _chain(incident)
    specs = action_specs(actions, _options(incident, actions, chain))
    suggestion = _suggestion(incident, actions)
    opened = outcome.action if outcome and outcome.action else (
        specs[0].action if specs and specs[0].tone == "primary" else "")
    handler = is_handler(actor)
    return {
        "incident": incident, "light": selectors.light(incident, now), "now": now,
        "chain": chain, "stage_label": STAGES.get(incident.stage, ""),
        "urgency_label": URGENCIES.get(incident.urgency, incident.urgency),
        "satisfaction_label": SATISFACTION_SCORES.get(incident.satisfaction, ""),
        "counters": _counters(incident), "pending": _pending(incident),
        "contact": {"name": mask_name(incident.contact_name),
                    "phone": mask_phone(incident.contact_phone)},
        "may_reveal": services.may_see_contact(actor)
        and bool(incident.contact_name or incident.contact_phone),
        "attachments": _attachments(incident),
        "timeline": timeline_items(incident),
        "actions": specs, "opened": opened,
        "suggested": suggestion.department.code if suggestion and suggestion.department
        else "",
        "suggestion": suggestion,
        "outcome": outcome, "values": values or {},
        "back": reverse("web:department_desk" if handler else "web:incidents"),
        "back_label": _("Back to the department desk") if handler else _("Back to the list"),
    }


# ---------------------------------------------------------------- views

@login_required
@domain_errors
def incident_page(request: HttpRequest, number: str) -> HttpResponse:
    incident = services.incident_for_actor(actor=request.user, incident_id=number)
    context = incident_context(request.user, incident)
    context["map_config"] = _map_config(incident)
    return render_page(request, "web/incident.html", **context)


@login_required
@require_POST
@domain_errors
def incident_contact(request: HttpRequest, number: str) -> HttpResponse:
    """Reveal the contact to a role whose work needs it (others see it masked
    again); the API's ``contact_reveal`` logs the view with its reason."""
    incident = services.incident_for_actor(actor=request.user, incident_id=number)
    contact = incident_out(incident, actor=request.user)["contact"]
    if services.may_see_contact(request.user):
        contact = contact_reveal(request=request, actor=request.user, incident=incident,
                                 reason=request.POST.get("reason", "").strip()[:200]
                                 or "incident page: show in full")
    return render(request, "web/parts/contact.html", {"incident": incident, "contact": contact,
                                                       "revealed": not contact["masked"]})


def _action_fields(request: HttpRequest, action: str) -> tuple[dict, int | None]:
    """The service's keyword arguments from the posted form, and the version seen."""
    data = {name: value for name in ActionIn.model_fields
            if (value := request.POST.get(name, "").strip()) != ""}
    try:
        body = ActionIn.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise DomainValidationError(first["msg"], field=name) from None
    fields = {name: getattr(body, name) for name in ACTION_FIELDS[action]}
    if action in PHOTO_ACTIONS:
        fields["photos"] = request.FILES.getlist("photos")
    return fields, body.version


def _take(actor: User, incident: Incident, action: str, request: HttpRequest) -> Outcome:
    """Call the action's service; say what came of it."""
    try:
        fields, version = _action_fields(request, action)
        services.ACTIONS[action](actor=actor, incident=incident, expected_version=version,
                                 **fields)
    except Conflict as exc:
        return Outcome("warning", _("This incident has just been handled by someone else, or "
                                    "its state has changed. The page now shows it as it is: "
                                    "please check before you act."), 409, exc.message)
    except DomainValidationError as exc:
        field = exc.field or ""
        label = FIELD_LABELS.get(field.split("[")[0], field)  # photos[0] → 照片
        text = (_("Please check “%(field)s”.") % {"field": label} if label
                else _("The form could not be accepted."))
        return Outcome("error", text, 400, exc.message, action)
    except PermissionDenied as exc:
        return Outcome("error", _("You may not take this action on this incident."), 403,
                       exc.message)
    except DomainError as exc:
        return Outcome("error", _("The action could not be taken."), exc.status, exc.message,
                       action)
    return Outcome("success", str(SUCCESS[action]))


@login_required
@require_POST
@domain_errors
def incident_act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    actor = request.user
    if action not in services.ACTIONS:
        raise NotFound(f"no action {action!r}")
    incident = services.incident_for_actor(actor=actor, incident_id=number)
    outcome = _take(actor, incident, action, request)
    try:  # as it is now, if still within reach
        incident = services.incident_for_actor(actor=actor, incident_id=incident.pk)
    except NotFound:
        return _gone(request, actor, outcome)
    if not is_htmx(request):
        getattr(messages, outcome.level)(request, outcome.text)
        return redirect("web:incident", number=incident.number)
    values = request.POST if outcome.action else None
    context = incident_context(actor, incident, outcome=outcome, values=values)
    return render(request, "web/parts/incident_panel.html", context, status=outcome.status)


def _gone(request: HttpRequest, actor: User, outcome: Outcome) -> HttpResponse:
    """The incident left the user's reach (returned, escalated …): back to the desk."""
    text = outcome.text if outcome.level == "success" else _(
        "This incident is no longer yours to handle: someone else has moved it.")
    messages.add_message(request, messages.SUCCESS if outcome.level == "success"
                         else messages.WARNING, text)
    desk = reverse("web:department_desk" if is_handler(actor) else "web:incidents")
    if is_htmx(request):
        return HttpResponse(status=204, headers={"HX-Redirect": desk})
    return redirect(desk)
