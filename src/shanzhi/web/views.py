"""Pages: the log-in, and the territory map. They only present; the map reads
its data from the JSON API (``/api/v1/geo/…``) with the page's session."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.geo.models import Level

#: How many root names the header lists before it says "… and N more".
HEADER_ROOTS = 3


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def territory_label(user: User) -> str:
    """What the header says the user serves: their grids, department or regions."""
    worker = getattr(user, "grid_worker", None) if user.role == Role.GRID_WORKER else None
    if worker is not None:
        names = [g.name for g in worker.grids.current().order_by("code")]
    elif user.department_id:
        names = [user.department.name]
    else:
        names = list(Scope.for_user(user).roots().order_by("path").values_list("name", flat=True))
    if not names:
        return _("No territory")
    if len(names) > HEADER_ROOTS:
        return _("%(names)s and %(count)d more") % {
            "names": "、".join(names[:HEADER_ROOTS]), "count": len(names) - HEADER_ROOTS}
    return "、".join(names)


def _page(request: HttpRequest, template: str, **context) -> HttpResponse:
    user = request.user
    context["header"] = {
        "name": str(user),
        "role": user.get_role_display(),
        "territory": territory_label(user),
    }
    return render(request, template, context)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("map")


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
    return _page(request, "web/map.html", map_config=config)
