"""The incident page: its facts, map, photos and timeline, and one form per
action the user may take now. Actions post here; with htmx the answer is the
refreshed incident (also after a conflict: 409, explained kindly), without
it a redirect back to the page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shanzhi.accounts.models import Department, Role, User
from shanzhi.core.errors import NotFound
from shanzhi.core.privacy import mask_name, mask_phone
from shanzhi.geo.models import Region
from shanzhi.incidents import selectors, services
from shanzhi.incidents.case import INCIDENT_CASE
from shanzhi.incidents.models import Incident
from shanzhi.incidents.routing import region_chain_ids, suggest_department

from . import case as case_page
from .actions import (
    ACTION_LABELS,
    COUNTERS,
    SATISFACTION_SCORES,
    SUCCESS,
    URGENCIES,
    action_form_class,
)
from .case import Outcome
from .pages import domain_errors, is_handler, is_htmx, render_page
from .timeline import STAGES, timeline_items

#: What a refusal of the incident's services says, in its own words.
CONFLICT = gettext_lazy("This incident has just been handled by someone else, or its state "
                        "has changed. The page now shows it as it is: please check before you "
                        "act.")
FORBIDDEN = gettext_lazy("You may not take this action on this incident.")


# ---------------------------------------------------------------- context

def _chain(incident: Incident) -> list[Region]:
    """The incident's regions, city first."""
    ids = region_chain_ids(incident.region)
    by_id = {r.pk: r for r in Region.objects.defer("geometry").filter(pk__in=ids)}
    return [by_id[i] for i in reversed(ids) if i in by_id]


def _options(incident: Incident, actions: list[str], chain: list[Region],
             suggested: str = "") -> dict:
    """The choices of the action forms that depend on this incident; the
    department routing suggests is marked （建议）."""
    options: dict = {}
    if "dispatch" in actions:
        depth = {r.pk: i for i, r in enumerate(chain)}
        departments = sorted(
            Department.objects.filter(region_id__in=depth).select_related("region")
            .defer("region__geometry"), key=lambda d: (-depth[d.region_id], d.code))
        mark = "（" + _("suggested") + "）"
        options["department"] = tuple(
            (d.code, d.name + (mark if d.code == suggested else "")) for d in departments)
    if "assign_down" in actions:
        below = [r for r in chain if r.path.startswith(incident.holder.path)
                 and r.pk != incident.holder_id]
        options["region"] = tuple((r.code, r.name) for r in below)
    if "accept" in actions:
        options["category"] = tuple(
            (c.code, f"{c.code} {c.parent.name if c.parent else ''} · {c.name}")
            for c in selectors.categories() if c.parent_id)
    return options


def _form_choices(incident: Incident, action: str) -> dict:
    """The choices the posted form of ``action`` validates against."""
    chain = _chain(incident) if action in ("dispatch", "assign_down") else []
    return _options(incident, [action], chain)


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


def unplaced_address(incident: Incident) -> dict | None:
    """An address-only report the resolver could not place confidently
    (its report's timeline data ``place.placed`` is false, docs/intake.md):
    the flag for the operator, with the resolver's best guess. Asked only
    for an incident without a point."""
    if incident.lng is not None:
        return None
    data = (incident.timeline.filter(action="report").order_by("at", "pk")
            .values_list("data", flat=True).first())
    place = (data or {}).get("place")
    if not isinstance(place, dict) or place.get("placed") is not False:
        return None
    confidence = place.get("confidence")
    return {"label": place.get("label") or "",
            "percent": None if confidence is None else round(float(confidence) * 100)}


def _counters(incident: Incident) -> list[tuple[str, int]]:
    """The counts that are not zero, named."""
    names = ((COUNTERS["return"], incident.return_count),
             (COUNTERS["rework"], incident.rework_count),
             (COUNTERS["supervise"], incident.supervise_count),
             (COUNTERS["extension"], incident.extension_count),
             (COUNTERS["escalate"], incident.escalate_count),
             (COUNTERS["reopen"], incident.reopen_count))
    return [(str(label), n) for label, n in names if n]


def _attachments(incident: Incident) -> list:
    attachments = list(incident.attachments.select_related("entry").order_by("pk"))
    for a in attachments:
        a.entry_label = ACTION_LABELS.get(a.entry.action, "") if a.entry else ""
    return attachments


def _suggestion_hint(suggestion) -> str:
    """The routing suggestion under the department select, its reason on hover."""
    if suggestion.department:
        text = _("Routing suggests %(name)s.") % {"name": suggestion.department.name}
    else:
        text = _("Routing has no suggestion for this place and category: choose the "
                 "department.")
    return format_html('<span class="suggestion" title="{}">{}</span>', suggestion.reason, text)


def _forms(incident: Incident, actions: list[str], choices: dict, *, suggestion=None,
           pending: dict | None = None, bound: case_page.ActionForm | None = None) -> list:
    """One form per action available now, the usual next step first; ``bound``
    the form sent (refused: it opens again with the values sent)."""
    out = []
    for action in actions:
        form = bound if bound is not None and bound.action == action else None
        if form is None:
            initial: dict = {"version": incident.version}
            if action == "dispatch" and suggestion and suggestion.department:
                initial["department"] = suggestion.department.code
            if action == "accept" and incident.category_id:
                initial["category"] = incident.category.code
            form = action_form_class(action, choices)(initial=initial, auto_id=f"{action}-%s")
        if action == "dispatch" and suggestion:
            form.fields["department"].help_text = _suggestion_hint(suggestion)
        if action in ("approve_extension", "refuse_extension") and pending:
            form.intro = (_("Asked for: %(amount)s %(unit)s") % pending
                          + f" — {pending['reason']}")
        out.append(form)
    return sorted(out, key=lambda f: {"primary": 0, "plain": 1, "danger": 2}[f.tone])


def incident_context(actor: User, incident: Incident, *, outcome: Outcome | None = None,
                     bound: case_page.ActionForm | None = None) -> dict:
    """Everything the incident's panel shows; ``bound`` the action form sent
    and refused."""
    now = timezone.now()
    actions = services.available_actions(actor=actor, incident=incident)
    chain = _chain(incident)
    suggestion = _suggestion(incident, actions)
    suggested = suggestion.department.code if suggestion and suggestion.department else ""
    pending = case_page.pending_extension(incident)
    forms = _forms(incident, actions, _options(incident, actions, chain, suggested),
                   suggestion=suggestion, pending=pending, bound=bound)
    opened = outcome.action if outcome and outcome.action else (
        forms[0].action if forms and forms[0].tone == "primary" else "")
    handler = is_handler(actor)
    return {
        "incident": incident, "light": selectors.light(incident, now), "now": now,
        "chain": chain, "stage_label": STAGES.get(incident.stage, ""),
        "urgency_label": URGENCIES.get(incident.urgency, incident.urgency),
        "satisfaction_label": SATISFACTION_SCORES.get(incident.satisfaction, ""),
        "counters": _counters(incident), "pending": pending,
        "contact": {"name": mask_name(incident.contact_name),
                    "phone": mask_phone(incident.contact_phone)},
        "may_reveal": services.may_see_contact(actor)
        and bool(incident.contact_name or incident.contact_phone),
        "attachments": _attachments(incident),
        "unplaced": unplaced_address(incident),
        "timeline": timeline_items(incident),
        "forms": forms, "opened": opened, "outcome": outcome,
        "back": reverse("web:department_desk" if handler else "web:incidents"),
        "back_label": _("Back to the department desk") if handler else _("Back to the list"),
        **_mediation(actor, incident),
    }


def _mediation(actor: User, incident: Incident) -> dict:
    """The cases linked to the incident, and whether an operator may turn a
    dispute (矛盾纠纷, category ZZ01…) into a mediation case."""
    from shanzhi.cases.selectors import links
    from shanzhi.incidents.case import INCIDENT_CASE

    linked = links(INCIDENT_CASE, incident)
    code = incident.category.code if incident.category_id else ""
    operator = actor.is_superuser or actor.role in (Role.OPERATOR, Role.CITY_ADMIN)
    return {"linked_cases": linked,
            "may_mediate": code.startswith("ZZ01") and operator
            and not any(c["type"] == "mediation" for c in linked)}


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
    again); ``services.contact_reveal`` logs the view with its reason."""
    incident = services.incident_for_actor(actor=request.user, incident_id=number)
    contact = services.contact_masked(incident)
    if services.may_see_contact(request.user):
        contact = services.contact_reveal(request=request, actor=request.user, incident=incident,
                                 reason=request.POST.get("reason", "").strip()[:200]
                                 or "incident page: show in full")
    return render(request, "web/parts/contact.html", {"incident": incident, "contact": contact,
                                                       "revealed": not contact["masked"]})


@login_required
@require_POST
@domain_errors
def incident_act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    actor = request.user
    if action not in services.ACTIONS:
        raise NotFound(f"no action {action!r}")
    incident = services.incident_for_actor(actor=actor, incident_id=number)
    form = action_form_class(action, _form_choices(incident, action))(
        request.POST, request.FILES, auto_id=f"{action}-%s")
    outcome = case_page.take(INCIDENT_CASE, services.ACTIONS[action], actor=actor,
                             case=incident, form=form, success=str(SUCCESS[action]),
                             conflict=str(CONFLICT), forbidden=str(FORBIDDEN))
    try:  # as it is now, if still within reach
        incident = services.incident_for_actor(actor=actor, incident_id=incident.pk)
    except NotFound:
        return _gone(request, actor, outcome)
    if not is_htmx(request):
        getattr(messages, outcome.level)(request, outcome.text)
        return redirect("web:incident", number=incident.number)
    bound = form if outcome.level == "error" and outcome.action else None
    context = incident_context(actor, incident, outcome=outcome, bound=bound)
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
