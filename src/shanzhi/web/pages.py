"""What every page shares: the header (who, which role, which territory), the
menu for the user's role, rendering, and domain errors as HTTP answers."""

from __future__ import annotations

import functools

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.cases import selectors as case_selectors
from shanzhi.core.errors import NotFound, PermissionDenied
from shanzhi.registry import selectors as registry_selectors

#: How many root names the header lists before it says "… and N more".
HEADER_ROOTS = 3
#: Roles that work at a linkage centre's case desk (受理/派遣台).
DESK_ROLES = (Role.CITY_ADMIN, Role.OPERATOR)


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


def command_centre_url() -> str | None:
    """The command centre's address, once that page exists."""
    try:
        return reverse("web:command")
    except NoReverseMatch:
        return None


def is_handler(user: User) -> bool:
    return user.role == Role.HANDLER and not user.is_superuser


def desk_label(user: User):
    """The incident list's name for this role: a desk for those who work it."""
    if user.is_superuser or user.role in DESK_ROLES:
        return gettext_lazy("Case desk")
    return gettext_lazy("Incidents")


#: Who works in the mediation centre's pages, and those pages' names.
MEDIATION_ROLES = (Role.CITY_ADMIN, Role.OPERATOR, Role.MEDIATOR, Role.HANDLER)
MEDIATION_PAGES = ("mediation", "mediation_new", "mediation_case", "mediation_roster")
#: The base data's (基础数据) pages' names (web/registry.py); who finds it in the
#: menu: ``registry.selectors.READ_ROLES``.
REGISTRY_PAGES = ("registry", "registry_person_new", "registry_person", "registry_person_edit",
                  "registry_person_reveal", "registry_person_merge", "registry_houses",
                  "registry_house", "registry_organisations", "registry_organisation_new",
                  "registry_organisation", "registry_members", "registry_member",
                  "registry_places", "registry_place", "registry_visits", "registry_visit",
                  "registry_visit_act", "registry_grid", "registry_imports", "registry_import")
#: Who finds the patrol log (巡查日志) in the menu (web/patrols.py).
PATROL_LOG_ROLES = (Role.CITY_ADMIN, Role.OPERATOR, Role.VIEWER)


def menu(request: HttpRequest) -> list[dict]:
    """The top menu for the user's role; the current page is marked."""
    user = request.user
    current = request.resolver_match.url_name if request.resolver_match else None
    items = [("home", reverse("web:home"), _("Home"), ("home",))]
    if is_handler(user):
        items.append(("department_desk", reverse("web:department_desk"),
                      _("Department desk"), ("department_desk", "incident")))
    else:
        items.append(("incidents", reverse("web:incidents"), str(desk_label(user)),
                      ("incidents", "incident")))
    command = command_centre_url()
    if command and not is_handler(user):
        items.append(("command", command, _("Command centre"), ("command",)))
    if user.is_superuser or user.role in MEDIATION_ROLES:
        items.append(("mediation", reverse("web:mediation"), _("Dispute mediation"),
                      MEDIATION_PAGES))
    if user.is_superuser or user.role in PATROL_LOG_ROLES:
        items.append(("patrols", reverse("web:patrols"), _("Patrol log"), ("patrols", "patrol")))
    if user.is_superuser or user.role in registry_selectors.READ_ROLES:  # 基础数据
        items.append(("registry", reverse("web:registry"), _("Base data"),
                      REGISTRY_PAGES))
    items.append(("map", reverse("web:map"), _("Territory map"), ("map",)))
    items.append(("notifications", reverse("web:notifications"), _("Notifications"),
                  ("notifications",)))
    unread = {"notifications": unread_count(user)}
    return [{"name": name, "url": url, "label": label, "active": current in names,
             "badge": unread.get(name, 0)}
            for name, url, label, names in items]


def unread_count(user: User) -> int:
    """The badge on the menu's notifications entry."""
    return case_selectors.notifications(user=user, unread_only=True).count()


def render_page(request: HttpRequest, template: str, *, status: int = 200,
                **context) -> HttpResponse:
    """A full page: the context, the header and the menu."""
    user = request.user
    context["header"] = {
        "name": str(user),
        "role": user.get_role_display(),
        "territory": territory_label(user),
    }
    context["menu"] = menu(request)
    return render(request, template, context, status=status)


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request for a part of the page (not a history restore, which
    wants the whole page)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def domain_errors(view):
    """A page view's NotFound is a 404 and its PermissionDenied a 403: an
    incident outside the territory gives no hint that it exists."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(exc.message) from exc

    return wrapped
