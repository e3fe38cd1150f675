"""管理通: the phone home of everyone who is not a grid worker — operators and
city admins, leaders (viewers), department handlers.

The command centre's figures for the user's territory, phone-sized (the same
``analytics.selectors`` that answer ``/api/v1/command/summary``), and what
waits for the user, by role: each list one call of the desks'
``incidents_list``, ordered by deadline. Where the next step needs no input
(accept, sign, dispatch to the suggested department, approve an extension)
the row carries a one-tap form that the outbox (``static/m/outbox.js``) posts
to the incident API with an Idempotency-Key; everything else is on the phone
incident page. No rule lives here: which action a row offers is
``services.available_actions``'s answer, the department routing's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.analytics import selectors as figures
from shanzhi.core.errors import PermissionDenied
from shanzhi.incidents import selectors, services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from shanzhi.incidents.routing import suggest_department
from shanzhi.patrols import selectors as patrols

from ..actions import ACTION_LABELS
from ..case import pending_extension
from ..pages import DESK_ROLES, is_handler
from . import is_worker, render_mobile

#: How many rows of each list the home shows (the rest on its own page).
HOME_ROWS = 5
#: How many rows a full list shows per page.
PAGE_ROWS = 20


@dataclass(frozen=True)
class Waiting:
    """One list of what waits for the user: the filters of ``incidents_list``
    that select it, and the action one tap takes on a row ("" for none)."""

    key: str
    label: Promise
    filters: dict = field(default_factory=dict)
    action: str = ""


WAITING = {w.key: w for w in (
    Waiting("accept", gettext_lazy("To accept"), {"state": wf.REPORTED}, "accept"),
    Waiting("dispatch", gettext_lazy("To dispatch"), {"state": wf.REGISTERED}, "dispatch"),
    Waiting("extension", gettext_lazy("Extensions to approve"),
            {"state": wf.IN_PROGRESS, "pending_extension": True}, "approve_extension"),
    Waiting("supervise", gettext_lazy("To supervise"), {"light_filter": "red,yellow"}),
    Waiting("sign", gettext_lazy("To sign"), {"state": wf.DISPATCHED}, "sign"),
    Waiting("handle", gettext_lazy("To handle"), {"state": wf.IN_PROGRESS}),
    Waiting("overdue", gettext_lazy("Overdue"), {"light_filter": "red"}),
)}


def waiting_for(user: User) -> tuple[Waiting, ...]:
    """The lists of this role: a linkage centre's, a department's, or (for
    leaders and everyone else who only watches) the overdue ones."""
    if user.is_superuser or user.role in DESK_ROLES:
        keys = ("accept", "dispatch", "extension", "supervise")
    elif is_handler(user):
        keys = ("sign", "handle")
    else:
        keys = ("overdue",)
    return tuple(WAITING[k] for k in keys)


def waiting_incidents(scope: Scope, waiting: Waiting, now: dt.datetime):
    """The list, the nearest deadline first (the desks' selector)."""
    return selectors.incidents_list(scope=scope, sort="due_at", now=now,
                                    **waiting.filters).select_related("rules")


# ---------------------------------------------------------------- rows and one-tap forms

def _one_tap(incident: Incident, action: str, available: list[str], route) -> dict | None:
    """The form of an action that needs no input, or None when the action is
    not open to the actor now or would need input (a category to accept an
    unclassified report, a department routing does not suggest)."""
    if action not in available:
        return None
    fields = {"version": incident.version}
    label = ACTION_LABELS.get(action, action)
    if action == "accept" and incident.category_id is None:
        return None
    if action == "dispatch":
        if route is None or route.department is None:
            return None
        fields["department"] = route.department.code
        label = _("Dispatch to %(department)s") % {"department": route.department.name}
    return {"action": action, "label": label, "fields": fields,
            "url": reverse("api:incident_action",
                           kwargs={"incident_id": incident.number, "action": action}),
            "outbox_label": f"{label} {incident.number}"}


def rows(actor: User, incidents, waiting: Waiting, now: dt.datetime) -> list[dict]:
    """Each incident with its light, the routing suggestion (to dispatch), the
    extension asked for (to approve) and its one-tap form."""
    out = []
    for incident in incidents:
        route = (suggest_department(region=incident.region, category=incident.category,
                                    rules=incident.rules)
                 if incident.state == wf.REGISTERED and waiting.key == "dispatch" else None)
        form = None
        if waiting.action:
            available = services.available_actions(actor=actor, incident=incident)
            form = _one_tap(incident, waiting.action, available, route)
        out.append({"incident": incident, "light": selectors.light(incident, now),
                    "route": route, "form": form,
                    "pending": pending_extension(incident) if waiting.key == "extension"
                    else None})
    return out


# ---------------------------------------------------------------- the figures

def kpis(scope: Scope, now: dt.datetime) -> list[dict]:
    """The command centre's tiles for the whole territory, phone-sized: what
    is open and how late, and how well the last 30 days went."""
    try:
        focus = figures.focus_for(scope=scope)
    except PermissionDenied:
        return []
    k = figures.kpis(scope=scope, focus=focus, now=now)
    tiles = [
        {"key": "open", "label": pgettext("figure", "Open"), "value": k["open"], "live": True},
        {"key": "overdue", "label": _("Overdue"), "value": k["overdue"], "tone": "red",
         "live": True},
        {"key": "near_due", "label": _("Near due"), "value": k["near_due"], "tone": "yellow",
         "live": True},
        {"key": "today_reported", "label": _("Reported today"), "value": k["today_reported"]},
        {"key": "on_time_rate", "label": _("On-time rate"), "value": _percent(k["on_time_rate"])},
        {"key": "satisfaction", "label": _("Satisfaction"), "value": _percent(k["satisfaction"])},
    ]
    if scope.role != Role.HANDLER:  # a department's cases are not the grids' patrols
        tiles.append({"key": "patrols", "label": _("Patrols today"),
                      "value": patrols_today(scope, now)})
    return tiles


def _percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.0f}%"


def patrols_today(scope: Scope, now: dt.datetime) -> int:
    """How many patrols the territory's grid workers started today (the
    worker figures the patrol log gives the community)."""
    since, until = patrols.day_span(timezone.localdate(now))
    return sum(f.patrols for f in patrols.worker_figures(scope, since, until))


# ---------------------------------------------------------------- views

def _lists(actor: User, scope: Scope, now: dt.datetime, limit: int) -> list[dict]:
    out = []
    for waiting in waiting_for(actor):
        qs = waiting_incidents(scope, waiting, now)
        out.append({"waiting": waiting, "count": qs.count(),
                    "rows": rows(actor, qs[:limit], waiting, now),
                    "url": reverse("web:m_waiting", args=[waiting.key])})
    return out


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """管理通's home: my territory's figures and the first rows of each list."""
    actor = request.user
    scope = Scope.for_user(actor)
    now = timezone.now()
    return render_mobile(request, "web/m/manager_home.html", kpis=kpis(scope, now),
                         lists=_lists(actor, scope, now, HOME_ROWS), limit=HOME_ROWS,
                         desktop=reverse("web:home"), now=now)


@login_required
def todo(request: HttpRequest) -> HttpResponse:
    """The "to do" tab: the first list of the role, in full."""
    if is_worker(request.user):
        return redirect("web:m_home")
    return redirect("web:m_waiting", waiting_for(request.user)[0].key)


@login_required
def waiting_list(request: HttpRequest, kind: str) -> HttpResponse:
    """One list in full, paginated, the role's other lists as tabs with their
    counts. A list that is not the role's is not found."""
    actor = request.user
    if is_worker(actor):
        return redirect("web:m_home")
    mine = waiting_for(actor)
    waiting = next((w for w in mine if w.key == kind), None)
    if waiting is None:
        raise Http404
    scope = Scope.for_user(actor)
    now = timezone.now()
    tabs = []
    for other in mine:
        count = waiting_incidents(scope, other, now).count()
        tabs.append({"waiting": other, "count": count, "active": other.key == kind,
                     "url": reverse("web:m_waiting", args=[other.key])})
    qs = waiting_incidents(scope, waiting, now)
    page = Paginator(qs, PAGE_ROWS).get_page(request.GET.get("page"))
    return render_mobile(request, "web/m/manager_list.html", waiting=waiting, tabs=tabs,
                         page=page, rows=rows(actor, page.object_list, waiting, now),
                         desktop=reverse("web:home"), now=now)
