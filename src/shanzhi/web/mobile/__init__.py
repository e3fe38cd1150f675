"""The phone app at ``/m/`` (issue 13): 网格通 for grid workers, 管理通 for
everyone else. Server-rendered pages on the desks' services and selectors;
the static scripts in ``static/m/`` do only what a phone must (service worker,
outbox, photo resize, position, patrol track).

What every phone page shares lives here: who is a grid worker, and
:func:`render_mobile` (the header and the bottom tab bar of ``web/m/base.html``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from shanzhi.accounts.models import Role, User

from ..pages import territory_label


def is_worker(user: User) -> bool:
    """A grid worker with a grid-worker record: the 网格通 side of the app."""
    return (user.is_authenticated and user.role == Role.GRID_WORKER
            and not user.is_superuser and hasattr(user, "grid_worker"))


def tabs(request: HttpRequest) -> list[dict]:
    """The bottom tab bar: the worker's day, or the manager's desk. The
    outbox tab's count is filled in by ``outbox.js`` (it lives on the phone)."""
    current = request.resolver_match.url_name if request.resolver_match else None
    if is_worker(request.user):
        items = [("m_home", _("My day"), "home", ("m_home", "m_incident", "m_visit")),
                 ("m_report", _("Report"), "report", ("m_report",)),
                 ("m_patrol", _("Patrol"), "patrol", ("m_patrol",))]
    else:
        items = [("m_home", _("Workbench"), "home", ("m_home",)),
                 ("m_todo", _("To do"), "todo", ("m_todo", "m_waiting", "m_incident"))]
    items.append(("m_outbox", _("To send"), "outbox", ("m_outbox",)))
    return [{"name": name, "url": reverse(f"web:{name}"), "label": label, "icon": icon,
             "active": current in names} for name, label, icon, names in items]


def outbox_messages() -> dict[str, str]:
    """The words ``outbox.js`` shows, in the page's language."""
    return {
        "sending": _("Sending…"),
        "sent": _("Sent."),
        "queued": _("No network: saved in the outbox, it is sent when the network returns."),
        "refused": _("Refused"),
        "conflict": _("Someone acted first: the case has moved on. Reload the page to see it."),
        "login": _("Your session has ended: log in again; the item waits in the outbox."),
        "waiting": _("Waiting"),
        "stateSending": _("Sending"),
        "stateSent": _("Sent"),
        "stateRefused": _("Refused"),
        "remove": _("Delete"),
        "retry": _("Send now"),
        "empty": _("The outbox is empty."),
        # the script puts the number in: "%(n)s" stays as it is
        "photos": _("%(n)s photo(s)"),
        "tooBig": _("The photos are too large to send: take fewer."),
    }


def render_mobile(request: HttpRequest, template: str, *, status: int = 200,
                  **context) -> HttpResponse:
    """A phone page: the context, the header and the tab bar."""
    user = request.user
    worker = is_worker(user)
    context.setdefault("app_name", _("Grid link") if worker else _("Manager link"))
    context["m_header"] = {"name": str(user), "role": user.get_role_display(),
                           "territory": territory_label(user)}
    context["m_tabs"] = tabs(request)
    context["m_worker"] = worker
    context["m_outbox_messages"] = outbox_messages()
    return render(request, template, context, status=status)
