"""Pages: the log-in, the home page of each role, and the territory map. They
only present; the map reads its data from the JSON API (``/api/v1/geo/…``)
with the page's session. The desks and the incident page live in
``desk.py`` and ``incident.py``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.geo.models import Level
from shanzhi.incidents import selectors
from shanzhi.incidents import workflow as wf

from .desk import state_counts
from .filters import ALL_STATES, OPEN
from .pages import DESK_ROLES, command_centre_url, desk_label, is_handler, render_page

#: How many notifications the home page lists.
HOME_NOTIFICATIONS = 8


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


# ---------------------------------------------------------------- home

def _tile(label: str, count: int, url: str, query: dict, tone: str = "") -> dict:
    return {"label": label, "count": count, "url": f"{url}?{urlencode(query)}", "tone": tone}


def _tiles(user: User, scope: Scope) -> list[dict]:
    """The counts that matter to this role, each a link to its list."""
    counts = state_counts(scope)
    red = selectors.incidents_list(scope=scope, light_filter="red").count()
    if is_handler(user):
        desk = reverse("web:department_desk")
        return [_tile(_("To sign"), counts.get(wf.DISPATCHED, 0), desk,
                      {"state": wf.DISPATCHED}, "primary"),
                _tile(_("In progress"), counts.get(wf.IN_PROGRESS, 0), desk,
                      {"state": wf.IN_PROGRESS}),
                _tile(_("Waiting for verification"), counts.get(wf.HANDLED, 0), desk,
                      {"state": wf.HANDLED}),
                _tile(_("Overdue"), red, desk, {"state": ALL_STATES, "light": "red"}, "danger")]
    desk = reverse("web:incidents")
    if user.role == Role.GRID_WORKER:
        return [_tile(_("Waiting for verification"), counts.get(wf.HANDLED, 0), desk,
                      {"state": wf.HANDLED}, "primary"),
                _tile(_("Open (all)"), sum(counts.get(s, 0) for s in wf.OPEN_STATES), desk,
                      {"state": OPEN}),
                _tile(_("Overdue"), red, desk, {"light": "red"}, "danger")]
    tiles = [(wf.REPORTED, _("To accept")), (wf.REGISTERED, _("To dispatch")),
             (wf.DISPATCHED, _("To sign")), (wf.IN_PROGRESS, _("In progress")),
             (wf.HANDLED, _("Waiting for verification"))]
    return [*(_tile(label, counts.get(state, 0), desk, {"state": state},
                    "primary" if i == 0 and (user.is_superuser or user.role in DESK_ROLES)
                    else "")
              for i, (state, label) in enumerate(tiles)),
            _tile(_("Overdue"), red, desk, {"light": "red"}, "danger")]


def _entrances(user: User) -> list[dict]:
    """The pages this role works in, with what each is for."""
    out = []
    if is_handler(user):
        out.append({"url": reverse("web:department_desk"), "label": _("Department desk"),
                    "text": _("What was sent to your department: sign for it, report the "
                              "result with photos, ask for more time.")})
    else:
        out.append({"url": reverse("web:incidents"), "label": str(desk_label(user)),
                    "text": _("Every incident of your territory: filter, sort, open one to "
                              "act on it, export the list to Excel.")})
        command = command_centre_url()
        if command:
            out.append({"url": command, "label": _("Command centre"),
                        "text": _("The whole territory at a glance: map, figures and the "
                                  "live feed.")})
    out.append({"url": reverse("web:map"), "label": _("Territory map"),
                "text": _("Your regions and grids on the map, down to each grid.")})
    return out


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    scope = Scope.for_user(user)
    notes = list(selectors.notifications(user=user)[:HOME_NOTIFICATIONS])
    return render_page(request, "web/home.html", tiles=_tiles(user, scope),
                       entrances=_entrances(user), notifications=notes,
                       unread=selectors.notifications(user=user, unread_only=True).count())


# ---------------------------------------------------------------- the map

def _map_messages() -> dict[str, object]:
    """The words the map script shows, translated for the page's language."""
    return {
        "levels": {Level.CITY: _("City"), Level.DISTRICT: _("District"),
                   Level.TOWN: _("Town/street"), Level.COMMUNITY: _("Community/village"),
                   Level.GRID: _("Grid")},
        "myTerritory": _("My territory"),
        "children": _("Subdivisions"),
        "grids": _("Grids"),
        "generated": _("Generated boundary"),
        "generatedHint": _("This boundary was generated for the demo, not surveyed."),
        "noResults": _("Nothing found in your territory."),
        # the script puts the number in: "%(count)s" stays as it is
        "results": _("%(count)s found"),
        "searching": _("Searching…"),
        "loading": _("Loading…"),
        "loadFailed": _("The map data could not be loaded."),
        "noTerritory": _("Your account has no territory: ask the city administrator."),
        "clickToDrill": _("Click an area on the map, or a name below, to open it."),
        "clickGrid": _("Click a grid on the map, or a name below, to select it."),
        "code": _("Code"),
        "gridLeaf": _("A grid is the smallest unit: it has no subdivisions."),
    }


@login_required
def territory_map(request: HttpRequest) -> HttpResponse:
    config = {
        "apiBase": reverse("api:territory").removesuffix("territory"),
        "loginUrl": resolve_url(settings.LOGIN_URL),
        "tileUrl": settings.MAP_TILE_URL or None,
        "messages": _map_messages(),
    }
    return render_page(request, "web/map.html", map_config=config)
