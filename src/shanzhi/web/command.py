"""The command centre (指挥中心): the user's territory on one screen — a map
shaded by open and overdue incidents with drill-down, the KPI tiles, the
30-day trend, the top categories, the channels, the longest-overdue list and
the live feed (Server-Sent Events). ``?screen=big`` is the wall display.
The page only presents: its data comes from ``/api/v1/command/…``
(``analytics``), ``/api/v1/geo/…`` and ``/api/v1/feed``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from shanzhi.geo.models import Level
from shanzhi.incidents.feed import feed_cursor
from shanzhi.incidents.models import Channel

from .actions import ACTION_LABELS
from .pages import render_page


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
        "shown": _("%(shown)s open incidents on the map"),
        "capped": _("%(shown)s most urgent open incidents on the map"),
        "feedLive": _("Live"),
        "feedReconnecting": _("Reconnecting…"),
        "loadFailed": _("The data could not be loaded."),
        "open_incident": _("Open the incident"),
        "none": _("None"),
    }


@login_required
def command_centre(request: HttpRequest) -> HttpResponse:
    big = request.GET.get("screen") == "big"
    config = {
        "apiBase": reverse("api:territory").removesuffix("geo/territory"),
        "feedUrl": reverse("feed"),
        "cursor": feed_cursor(),
        "incidentUrl": reverse("web:incident", args=["NUMBER"]),
        "loginUrl": resolve_url(settings.LOGIN_URL),
        "tileUrl": settings.MAP_TILE_URL or None,
        "region": request.GET.get("region", ""),
        "big": big,
        "messages": _messages(),
    }
    return render_page(request, "web/command.html", command_config=config, big=big)
