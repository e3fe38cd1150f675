"""The command centre (指挥中心): the user's territory on one screen — a map
shaded by open and overdue incidents with drill-down, the KPI tiles, the
30-day trend, the top categories, the channels, the longest-overdue list and
the live feed (Server-Sent Events). ``?screen=big`` is the wall display.
The page only presents: its data comes from ``/api/v1/command/…``
(``analytics``), ``/api/v1/geo/…`` and ``/api/v1/feed``. Each KPI tile links
to the case desk's list of what it counts (``TILE_FILTERS``), for users whose
menu offers the case desk."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from shanzhi.analytics.selectors import kpi_window
from shanzhi.geo.models import Level
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.feed import feed_cursor
from shanzhi.incidents.models import Channel
from shanzhi.mediation import workflow as mwf
from shanzhi.mediation.models import MediationState, Outcome
from shanzhi.mediation.risk import LEVEL_LABELS

from .actions import ACTION_LABELS
from .filters import OPEN
from .pages import menu, render_page

#: Placeholders in a tile's filters, filled with the figures' own window
#: (``kpis.window`` of the summary: days of Asia/Shanghai) and the region
#: drilled into — here for the first view, in command.js after a drill-down.
FIRST, TODAY = "{first}", "{today}"
#: Every state but "rejected": what a rate's "reported in the window" counts.
VALID = ",".join(s for s in wf.STATES if s != wf.REJECTED)
#: Each KPI tile's list on the case desk (web/filters.py's names): exactly the
#: incidents the tile counts; for a rate, the incidents it is a share of.
TILE_FILTERS: dict[str, dict[str, str]] = {
    "today_reported": {"reported_from": TODAY, "reported_to": TODAY},
    "open": {"state": OPEN},
    "overdue": {"light": "red"},
    "near_due": {"light": "yellow"},
    # closed ÷ reported (not rejected) in the window
    "closure_rate": {"state": VALID, "reported_from": FIRST, "reported_to": TODAY},
    # closed on time ÷ closed, of those reported in the window
    "on_time_rate": {"state": wf.CLOSED, "reported_from": FIRST, "reported_to": TODAY},
    # resolved on the spot ÷ reported (not rejected) in the window
    "self_resolved_share": {"state": VALID, "reported_from": FIRST, "reported_to": TODAY},
    # satisfied ÷ called back: the desk cannot select "called back"; the call-backs
    # are made on the closed incidents of the window (a reopened one has left it)
    "satisfaction": {"state": wf.CLOSED, "reported_from": FIRST, "reported_to": TODAY},
}


def case_desk_url(request: HttpRequest) -> str | None:
    """The case desk's address when the user's menu offers it (the one rule of
    who may open which page, ``pages.menu``), else None: no tile links."""
    for item in menu(request):
        if item["name"] == "incidents":
            return item["url"]
    return None


def tile_href(desk: str, tile: str, *, first: str, today: str, region: str = "") -> str:
    """The case desk's list of the incidents a KPI tile counts."""
    values = {FIRST: first, TODAY: today}
    pairs = [(name, values.get(value, value)) for name, value in TILE_FILTERS[tile].items()]
    if region:
        pairs.append(("region", region))
    return f"{desk}?{urlencode(pairs)}"


def _tiles(desk: str | None, region: str) -> list[dict]:
    first, today = kpi_window()
    labels = {
        "today_reported": _("Reported today"), "open": pgettext("figure", "Open"),
        "overdue": _("Overdue"), "near_due": _("Near due"), "closure_rate": _("Closure rate"),
        "on_time_rate": _("On-time rate"), "self_resolved_share": _("Resolved on the spot"),
        "satisfaction": _("Satisfaction"),
    }
    rates = {"closure_rate", "on_time_rate", "self_resolved_share", "satisfaction"}
    return [{"key": key, "label": label, "rate": key in rates,
             "href": desk and tile_href(desk, key, first=first.isoformat(),
                                        today=today.isoformat(), region=region)}
            for key, label in labels.items()]


def _messages() -> dict:
    return {
        "levels": {Level.CITY: _("City"), Level.DISTRICT: _("District"),
                   Level.TOWN: _("Town/street"), Level.COMMUNITY: _("Community/village"),
                   Level.GRID: _("Grid")},
        "actions": {k: str(v) for k, v in ACTION_LABELS.items()},
        "channels": {k: str(v) for k, v in Channel.choices},
        "reported": pgettext("figure", "Reported"),
        "closed": pgettext("figure", "Closed"),
        "open": pgettext("figure", "Open"),
        "overdue": _("Overdue"),
        "nearDue": _("Near due"),
        "myTerritory": _("My territory"),
        "noOverdue": _("Nothing overdue."),
        "hours": _("%(n)s h"),
        "days": _("%(n)s d"),
        "unclassified": _("Unclassified"),
        "areaLabel": _("Open %(open)s · overdue %(overdue)s"),
        "shown": _("%(shown)s open incidents on the map"),
        "capped": _("%(shown)s most urgent open incidents on the map"),
        "feedLive": _("Live"),
        "feedReconnecting": _("Reconnecting…"),
        "loadFailed": _("The data could not be loaded."),
        "open_incident": _("Open the incident"),
        "none": _("None"),
        "intakeCounts": _("%(matched)s of %(suggested)s"),
        "intakeModel": _("model v%(version)s, accuracy %(accuracy)s"),
        "intakeNoModel": _("no model yet"),
    }


def _mediation_card() -> dict:
    """The labels of the dispute mediation card (矛盾纠纷调处); its figures come
    from ``/api/v1/command/mediation`` (command_mediation.js)."""
    return {
        "states": [(s, MediationState(s).label) for s in mwf.STATES if s in mwf.OPEN_STATES],
        "risks": [(level, LEVEL_LABELS[level]) for level in ("high", "medium", "low")],
        "outcomes": list(Outcome.choices),
        "days": _("median %(median)s d · mean %(mean)s d"),
    }


@login_required
def command_centre(request: HttpRequest) -> HttpResponse:
    big = request.GET.get("screen") == "big"
    region = request.GET.get("region", "")
    desk = case_desk_url(request)
    config = {
        "apiBase": reverse("api:territory").removesuffix("geo/territory"),
        "feedUrl": reverse("feed"),
        "cursor": feed_cursor(),
        "incidentUrl": reverse("web:incident", args=["NUMBER"]),
        "loginUrl": resolve_url(settings.LOGIN_URL),
        "tileUrl": settings.MAP_TILE_URL or None,
        "region": region,
        "deskUrl": desk,
        "tileFilters": TILE_FILTERS if desk else None,
        "big": big,
        "messages": _messages(),
    }
    return render_page(request, "web/command.html", command_config=config, big=big,
                       tiles=_tiles(desk, region), mediation=_mediation_card())
