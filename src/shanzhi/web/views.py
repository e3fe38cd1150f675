"""Pages: the log-in, the home page of each role, and the territory map. They
only present; the map reads its data from the JSON API (``/api/v1/geo/…``)
with the page's session. The desks and the incident page live in
``desk.py`` and ``incident.py``."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from shanzhi.accounts import throttle, twofactor
from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.cases import engine as case_engine
from shanzhi.cases import selectors as case_selectors
from shanzhi.core.errors import DomainError
from shanzhi.core.errors import ValidationError as DomainValidationError
from shanzhi.demo.progress import read_progress
from shanzhi.geo.models import Level
from shanzhi.incidents import selectors
from shanzhi.incidents import workflow as wf

from .filters import ALL_STATES, OPEN
from .pages import DESK_ROLES, command_centre_url, desk_label, is_handler, render_page

#: How many notifications the home page lists.
HOME_NOTIFICATIONS = 8


# ---------------------------------------------------------------- log-in, log-out, security

#: The session key of a log-in whose password passed and whose second step
#: (a code, or enrolling a second factor) is still due: nobody is logged in yet.
PENDING = "login_pending"
#: How long the second step may wait for the first.
PENDING_SECONDS = 300


class LoginForm(AuthenticationForm):
    """Django's form; a locked account or address says so (``accounts.throttle``)."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            lock = getattr(self.request, "login_lock", None)
            if lock is not None:
                raise forms.ValidationError(lock.message(), code="locked") from None
            raise


def _complete_login(request: HttpRequest, user: User, backend: str, next_url: str):
    request.session.pop(PENDING, None)
    auth_login(request, user, backend=backend)
    throttle.login_succeeded(request=request, user=user)
    return redirect(next_url)


class LoginView(auth_views.LoginView):
    """The password step. A user with a second factor goes on to the code
    step, a user whose role requires one and who has none to enrolment;
    until then the session holds only the ``PENDING`` marker."""

    template_name = "web/login.html"
    redirect_authenticated_user = True
    authentication_form = LoginForm

    def form_valid(self, form):
        user = form.get_user()
        if twofactor.is_enrolled(user):
            step = "code"
        elif twofactor.is_required(user):
            step = "enrol"
        else:
            return _complete_login(self.request, user, user.backend, self.get_success_url())
        self.request.session.cycle_key()
        self.request.session[PENDING] = {"user": user.pk, "backend": user.backend,
                                         "next": self.get_success_url(), "step": step,
                                         "since": time.time()}
        return redirect("web:login_code")


def _pending_user(request: HttpRequest) -> tuple[dict, User] | None:
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending.get("since", 0) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    return (pending, user) if user is not None else None


@never_cache
@csrf_protect
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: the code of the user's authenticator app, or, for a
    role that requires a second factor and has none, enrolling one. Wrong
    codes count as failed log-ins (the same lock as passwords)."""
    found = _pending_user(request)
    if found is None:
        messages.warning(request, _("Please log in again."))
        return redirect(settings.LOGIN_URL)
    pending, user = found
    enrol = pending["step"] == "enrol"
    if enrol and "secret" not in pending:
        pending["secret"] = twofactor.new_secret()
        request.session.modified = True
    error, status = "", 200
    if request.method == "POST":
        code = request.POST.get("code", "")
        lock = throttle.login_lock(request=request, username=user.username)
        if lock is not None:
            throttle.login_refused(request=request, username=user.username, lock=lock)
            error = lock.message()
        elif enrol:
            try:
                twofactor.two_factor_enrol(actor=user, request=request, secret=pending["secret"],
                                           code=code)
            except DomainValidationError as exc:
                lock = throttle.login_failed(request=request, username=user.username,
                                             user=user, reason="wrong code (enrolment)")
                error = lock.message() if lock else exc.message
            else:
                messages.success(request, _("Second factor enrolled: from now on you log in "
                                            "with your password and a code."))
                return _complete_login(request, user, pending["backend"], pending["next"])
        elif twofactor.code_verify(user=user, code=code):
            return _complete_login(request, user, pending["backend"], pending["next"])
        else:
            lock = throttle.login_failed(request=request, username=user.username, user=user,
                                         reason="wrong code")
            error = lock.message() if lock else _(
                "The code is not right, or was used already: type the code your app "
                "shows now.")
        status = 400
    context = {"enrol": enrol, "error": error, "username": user.username}
    if enrol:
        context.update(_enrolment(user, pending["secret"]))
    return render(request, "web/login_code.html", context, status=status)


def _enrolment(user: User, secret: str) -> dict:
    """What a page shows to enrol: the QR code and the secret to type."""
    uri = twofactor.provisioning_uri(user=user, secret=secret)
    return {"qr_svg": mark_safe(twofactor.qr_svg(uri)),  # segno's markup: no user input in it
            "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))}


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            throttle.logged_out(request=request, user=request.user)
        return super().post(request, *args, **kwargs)


#: The session key of the secret shown on the account page until a code confirms it.
CANDIDATE = "two_factor_candidate"


@login_required
def account_security(request: HttpRequest) -> HttpResponse:
    """The user's own security: change the password; enrol a second factor
    (scan the QR code, confirm one code) or turn it off (password and code)."""
    user = request.user
    password_form = PasswordChangeForm(user)
    error, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "password":
                password_form = PasswordChangeForm(user, request.POST)
                if password_form.is_valid():
                    password_form.save()
                    update_session_auth_hash(request, password_form.user)
                    messages.success(request, _("Your password has been changed."))
                    return redirect("web:account_security")
                status = 400
            elif action == "enrol" and request.session.get(CANDIDATE):
                twofactor.two_factor_enrol(actor=user, request=request,
                                           secret=request.session[CANDIDATE],
                                           code=request.POST.get("code", ""))
                del request.session[CANDIDATE]
                messages.success(request, _("Second factor enrolled: from now on you log in "
                                            "with your password and a code."))
                return redirect("web:account_security")
            elif action == "disable":
                twofactor.two_factor_disable(actor=user, request=request,
                                             password=request.POST.get("password", ""),
                                             code=request.POST.get("code", ""))
                messages.success(request, _("Second factor turned off."))
                return redirect("web:account_security")
            else:
                error, status = _("Nothing was done: please try again."), 400
        except DomainError as exc:
            error, status = exc.message, exc.status
    enrolled = twofactor.is_enrolled(user)
    context = {"enrolled": enrolled, "required": twofactor.is_required(user), "error": error,
               "password_form": password_form,
               "password_rules": password_validators_help_texts()}
    if not enrolled:
        if not request.session.get(CANDIDATE):
            request.session[CANDIDATE] = twofactor.new_secret()
        context.update(_enrolment(user, request.session[CANDIDATE]))
    return render_page(request, "web/account_security.html", status=status, **context)


# ---------------------------------------------------------------- home

def _tile(label: str, count: int, url: str, query: dict, tone: str = "") -> dict:
    return {"label": label, "count": count, "url": f"{url}?{urlencode(query)}", "tone": tone}


def _tiles(user: User, scope: Scope) -> list[dict]:
    """The counts that matter to this role, each a link to its list."""
    counts = selectors.state_counts(scope)
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
    out.append({"url": reverse("web:m_home"), "label": _("Phone app"),
                "text": _("On the phone, also without network: report, verify and patrol "
                          "(grid workers); what waits for you, with one-tap actions "
                          "(everyone else).")})
    return out


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    scope = Scope.for_user(user)
    notes = list(case_selectors.notifications(user=user)[:HOME_NOTIFICATIONS])
    return render_page(request, "web/home.html", tiles=_tiles(user, scope),
                       entrances=_entrances(user), notifications=notes,
                       unread=case_selectors.notifications(user=user, unread_only=True).count())


# ---------------------------------------------------------------- notifications

#: How many notifications the notifications page lists at a time.
NOTIFICATIONS_PAGE = 50


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """All the user's notifications, newest first, the unread ones marked."""
    notes = case_selectors.notifications(user=request.user)
    page = Paginator(notes, NOTIFICATIONS_PAGE).get_page(request.GET.get("page"))
    return render_page(request, "web/notifications.html", page=page,
                       unread=case_selectors.notifications(user=request.user,
                                                      unread_only=True).count())


def _own_notification(user: User, pk: int):
    note = case_selectors.notifications(user=user).filter(pk=pk).first()
    if note is None:  # someone else's, or none: the same answer
        raise Http404
    return note


@login_required
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Following a notification marks it read, then shows its incident."""
    note = _own_notification(request.user, pk)
    case_engine.notifications_read(user=request.user, ids=[note.pk])
    if note.url:
        return redirect(note.url)
    return redirect("web:notifications")


def _back_to_list(request: HttpRequest) -> HttpResponse:
    page = request.POST.get("page", "")
    url = reverse("web:notifications")
    return redirect(f"{url}?{urlencode({'page': page})}" if page.isdigit() else url)


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    note = _own_notification(request.user, pk)
    case_engine.notifications_read(user=request.user, ids=[note.pk])
    return _back_to_list(request)


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    marked = case_engine.notifications_read(user=request.user)
    messages.success(request, ngettext("%(count)d notification marked as read.",
                                       "%(count)d notifications marked as read.",
                                       marked) % {"count": marked})
    return _back_to_list(request)


# ---------------------------------------------------------------- the demo's progress

def demo_banner(now=None) -> str | None:
    """What the pages say while the demo's history is being built, or None."""
    progress = read_progress(now=now)
    if progress is None:
        return None
    numbers = {"made": f"{progress.made:,}", "total": f"{progress.total:,}"}
    minutes = progress.minutes_left(now)
    if minutes is None:
        return _("Demo data is being built: %(made)s / %(total)s incidents made so far, "
                 "estimating the time left…") % numbers
    return ngettext("Demo data is being built: %(made)s / %(total)s incidents made, about "
                    "%(minutes)d minute to go",
                    "Demo data is being built: %(made)s / %(total)s incidents made, about "
                    "%(minutes)d minutes to go", minutes) % {**numbers, "minutes": minutes}


@login_required
def demo_progress(request: HttpRequest) -> JsonResponse:
    """The banner's text for the pages that refresh it (``demo_progress.js``)."""
    response = JsonResponse({"text": demo_banner()}, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


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
