"""网格通: the grid worker's phone pages — my day, report, patrol, the outbox,
the phone incident page (managers and handlers use it too) and the worker's
own grids as GeoJSON. Views only read through the desks' selectors and
present; every write is a ``data-outbox`` form to the JSON API (the outbox
sends it, now or when the network returns), so no rule is written twice."""

from __future__ import annotations

import datetime as dt
import json

import shapely
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.core.calendar import get_calendar
from shanzhi.geo.models import Region
from shanzhi.incidents import selectors, services
from shanzhi.incidents import workflow as wf
from shanzhi.patrols import selectors as patrol_selectors

from ..actions import URGENCIES
from ..incident import incident_context
from ..intake import category_choices
from ..pages import domain_errors
from . import is_worker, manager, render_mobile
from .visits import visit_tasks

#: How many of the worker's most used categories the report page lists first.
TOP_CATEGORIES = 6
#: How many tasks "my day" lists.
TASKS = 50
#: Grid outlines are simplified to this many degrees (about a metre): the
#: phone draws them on a 400-pixel minimap, and the file stays small.
GRID_TOLERANCE = 1e-5
#: The patrol page records a position every this many seconds.
PATROL_EVERY_S = 15


def _worker_only(request: HttpRequest) -> None:
    if not is_worker(request.user):
        raise DjangoPermissionDenied(_("This page is for grid workers."))


def my_grids(user: User):
    """The worker's current grids (through the scope: a retired grid is gone)."""
    return Scope.for_user(user).grids().select_related("community").order_by("code")


def my_communities(user: User) -> list[Region]:
    """The communities of the worker's grids: where a report outside the
    grids goes ("send it anyway to my community's centre")."""
    seen: dict[int, Region] = {}
    for grid in my_grids(user).defer("geometry", "community__geometry"):
        seen.setdefault(grid.community_id, grid.community)
    return list(seen.values())


# ---------------------------------------------------------------- my day

def _task(incident, kind: str, label: str, now: dt.datetime) -> dict:
    return {"kind": kind, "kind_label": label, "number": incident.number,
            "title": incident.category.name if incident.category_id else _("Not classified"),
            "sub": incident.address or incident.description[:60],
            "place": incident.grid.name if incident.grid_id else incident.region.name,
            "due_at": incident.due_at, "light": selectors.light(incident, now) or "none",
            "url": reverse("web:m_incident", args=[incident.number])}


def day_tasks(user: User, now: dt.datetime) -> tuple[list[dict], dict]:
    """The worker's tasks of the day, by deadline: incidents to verify (核查),
    reports in the worker's grids to resolve on the spot (就地处置), the
    grids not yet patrolled today and the open follow-up visits (走访); and
    the counts on top (the red visits counted as overdue too)."""
    scope = Scope.for_user(user)
    verify = selectors.incidents_list(scope=scope, state=wf.HANDLED, sort="due_at")
    resolve = selectors.incidents_list(scope=scope, state=wf.REPORTED, sort="due_at")
    overdue = selectors.incidents_list(scope=scope, state=",".join(wf.OPEN_STATES),
                                       light_filter="red", now=now).count()
    tasks = [_task(i, "verify", _("Verify"), now) for i in verify[:TASKS]]
    tasks += [_task(i, "resolve", _("Resolve on the spot"), now) for i in resolve[:TASKS]]
    due = patrol_selectors.patrols_due(user, timezone.localdate(now))
    for d in due:
        tasks.append({"kind": "patrol", "kind_label": _("Patrol"), "number": "",
                      "title": d.grid.name, "sub": _("Not patrolled today"),
                      "place": d.grid.name, "due_at": d.due_at,
                      "light": "red" if now > d.due_at else "green",
                      "url": reverse("web:m_patrol")})
    followups, followup_counts = visit_tasks(user, now)  # the registry's follow-up visits
    tasks += followups
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    tasks.sort(key=lambda t: (t["due_at"] or far, t["number"]))
    counts = {"verify": verify.count(), "resolve": resolve.count(), "patrols": len(due),
              "overdue": overdue + followup_counts["visits_overdue"],
              "visits": followup_counts["visits"]}
    return tasks[:TASKS], counts


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """``/m/``: the worker's day; everyone else gets 管理通's home."""
    if not is_worker(request.user):
        return manager.home(request)
    now = timezone.now()
    tasks, counts = day_tasks(request.user, now)
    return render_mobile(request, "web/m/worker_home.html", tasks=tasks, counts=counts,
                         now=now, grids_url=reverse("web:m_grids"),
                         accuracy_format=_("± %(m)s m"))


# ---------------------------------------------------------------- grids

def grids_feature_collection(user: User) -> dict:
    """The worker's own grids (simplified), nobody else's: a city-wide
    worker never downloads the city's mesh; anyone else gets none."""
    if not is_worker(user):
        return {"type": "FeatureCollection", "features": []}
    features = []
    for grid in my_grids(user).only("id", "code", "name", "geometry", "community"):
        shape = grid.shape
        if shape is None or shape.is_empty:
            continue
        shape = shapely.set_precision(
            shapely.simplify(shape, GRID_TOLERANCE, preserve_topology=True), 1e-6)
        features.append({"type": "Feature", "id": grid.pk,
                         "geometry": json.loads(shapely.to_geojson(shape)),
                         "properties": {"code": grid.code, "name": grid.name,
                                        "community": grid.community.code}})
    return {"type": "FeatureCollection", "features": features}


@login_required
def grids_geojson(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(grids_feature_collection(request.user),
                            json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/geo+json"
    response["Cache-Control"] = "private, no-cache"
    return response


# ---------------------------------------------------------------- report

def top_categories(user: User, limit: int = TOP_CATEGORIES) -> list[str]:
    """The codes of the categories this worker reported most (their own past
    reports, in their scope)."""
    rows = (selectors.incidents_list(scope=Scope.for_user(user)).filter(
        reporter=user, category__isnull=False).order_by()
        .values("category__code").annotate(n=Count("pk")).order_by("-n", "category__code"))
    return [r["category__code"] for r in rows[:limit]]


def category_catalogue(user: User) -> dict:
    """What the category picker searches: every subclass with its class, its
    urgencies and extra fields (the intake's choices), the worker's most used
    first."""
    groups, rules = category_choices()
    items = [{"code": c.code, "name": c.name, "group": name, "groupCode": code,
              "urgencies": rules[c.code]["urgencies"],
              "extra": [{**f, "values": [list(v) for v in f["values"]]}
                        for f in rules[c.code]["extra"]]}
             for code, name, subs in groups for c in subs if c.code in rules]
    return {"items": items, "top": top_categories(user)}


@login_required
def report(request: HttpRequest) -> HttpResponse:
    """上报: the form posts to ``POST /api/v1/incidents`` through the outbox."""
    _worker_only(request)
    communities = [{"code": c.code, "name": c.name} for c in my_communities(request.user)]
    return render_mobile(
        request, "web/m/report.html", catalogue=category_catalogue(request.user),
        report_config={"grids": reverse("web:m_grids"), "locate": reverse("api:locate"),
                       "assist": reverse("web:intake_assist"),
                       "communities": communities,
                       "urgencyLabels": {k: str(v) for k, v in URGENCIES.items()},
                       "messages": _report_messages()},
        api_url=reverse("api:report"))


def _report_messages() -> dict[str, str]:
    """The words report.js and minimap.js show."""
    return {
        "locating": _("Finding your position…"),
        "noGeo": _("This phone gives no position: tap the map to place the point."),
        "geoDenied": _("The position is not allowed: tap the map to place the point, or "
                       "allow the position in the browser's settings."),
        "accuracy": _("± %(m)s m"),
        "placed": _("Point placed on the map."),
        "inGrid": _("In your grid %(grid)s."),
        "outside": _("Not in a grid you are responsible for"),
        "outsideIn": _("It lies in %(place)s."),
        "sendAnyway": _("Send it anyway to my community's centre"),
        "sendAnywayOn": _("It goes to %(community)s without the point; the centre decides "
                          "who handles it."),
        "checkOffline": _("No network: the grid is checked against your grids on this phone."),
        "unknownOffline": _("No network: the grid is checked when the report is sent."),
        "noPoint": _("Place the point first: wait for the position or tap the map."),
        "noCategory": _("Choose a category."),
        "noDescription": _("Describe what you see."),
        "noMatch": _("No category matches."),
        "mostUsed": _("most used"),
        "chosen": _("Chosen: %(name)s"),
        "photos": _("%(n)s photo(s)"),
        "noGrids": _("No grid to draw."),
        "addressAuto": _("Near %(place)s (%(lng)s, %(lat)s)"),
        "suggested": _("Suggested"),
        "suggestedTitle": _("Choose %(name)s: the model gives it %(percent)s"),
    }


# ---------------------------------------------------------------- outbox, patrol

@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    """The items of the phone's outbox: the page is a frame, ``outbox.js``
    fills it from IndexedDB."""
    return render_mobile(request, "web/m/outbox.html")


def _patrols_today(user: User, day: dt.date) -> list:
    return list(patrol_selectors.patrols_list(Scope.for_user(user), day=day)
                .filter(worker=user)[:20])


@login_required
def patrol(request: HttpRequest) -> HttpResponse:
    """巡查: start, track, check in, stop (``patrol.js``; every write through
    the outbox, in order); today's patrols below."""
    _worker_only(request)
    day = timezone.localdate()
    calendar = get_calendar()
    return render_mobile(
        request, "web/m/patrol.html", patrols=_patrols_today(request.user, day), day=day,
        working_day=calendar.is_working_day(day),
        patrol_config={"api": reverse("api:patrol_start"), "every": PATROL_EVERY_S,
                       "grids": reverse("web:m_grids"),
                       "messages": _patrol_messages()})


def _patrol_messages() -> dict[str, str]:
    return {
        "start": _("Patrol started"),
        "stop": _("Patrol ended"),
        "points": _("Patrol track (%(n)s points)"),
        "checkin": _("Check-in"),
        "noGeo": _("This phone gives no position: the track cannot be recorded."),
        "running": _("Patrolling"),
        "idle": _("Not patrolling"),
        "accuracy": _("± %(m)s m"),
    }


# ---------------------------------------------------------------- the incident

@login_required
@domain_errors
def incident(request: HttpRequest, number: str) -> HttpResponse:
    """One incident on the phone: its facts, photos, a short timeline and the
    actions the user may take now — the desk's forms (``incident_context``),
    each sent to the API through the outbox."""
    found = services.incident_for_actor(actor=request.user, incident_id=number)
    if found.number != number:  # asked by id: the address names the number
        return redirect("web:m_incident", number=found.number)
    context = incident_context(request.user, found)
    context["timeline"] = list(reversed(context["timeline"]))[:8]
    return render_mobile(request, "web/m/incident.html", **context)
