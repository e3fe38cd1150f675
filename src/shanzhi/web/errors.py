"""The error pages (400, 403, 404, 500 and the CSRF failure) in the site's
words: the top bar when the user is known, why, and a way back (home, the
page before if it was ours, log in). Under ``/api/`` and ``/open311/`` the
same errors keep their own formats (``core.input.refuse``): JSON there, and
GeoReport's XML or JSON.

The 500 page uses no database and no context processor (the database may
be what failed): a static page rendered in the request's language, which
``LocaleMiddleware`` chose from the cookie or ``Accept-Language``."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from shanzhi.core.errors import DomainError, NotFound, PermissionDenied, ValidationError
from shanzhi.core.input import refuse

from .pages import render_page

logger = logging.getLogger(__name__)

#: Where the API and Open311 answer in their own formats.
MACHINE_PREFIXES = ("/api/", "/open311/")
#: The page if even the 500 template fails: both languages, no template.
LAST_RESORT = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
               "<title>500 · 善治</title></head><body><h1>服务器出错了</h1>"
               "<p>错误已记录，请稍后再试。<a href=\"/\">返回首页</a></p>"
               '<p lang="en">The server failed to answer; the error was logged. '
               'Please try again later. <a href="/">Home</a></p></body></html>')


def _machine(request: HttpRequest) -> bool:
    return request.path_info.startswith(MACHINE_PREFIXES)


def _referer(request: HttpRequest) -> str:
    """The page before, if it is one of ours (and not this very page)."""
    referer = request.headers.get("Referer", "")
    try:
        host = request.get_host()
    except Exception:  # a bad Host header: no way back through it
        return ""
    if not referer or not url_has_allowed_host_and_scheme(
            referer, allowed_hosts={host}, require_https=request.is_secure()):
        return ""
    return "" if referer == request.build_absolute_uri() else referer


def _known(request: HttpRequest) -> bool:
    """Whether the user is logged in. A request refused before authentication
    (``core.input``'s 400) has no ``user`` yet: it is read from the session."""
    if not hasattr(request, "user") and hasattr(request, "session"):
        request.user = SimpleLazyObject(lambda: get_user(request))
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def error_page(request: HttpRequest, status: int, *, title: str, reason: str,
               template: str | None = None) -> HttpResponse:
    """An error page: the top bar for a known user, why, and the ways back."""
    context = {"code": status, "title": title, "reason": reason, "back": _referer(request),
               "known": _known(request), "login_url": reverse("web:login")}
    template = template or f"{status}.html"
    if context["known"]:
        return render_page(request, template, status=status, **context)
    return render(request, template, context, status=status)


def _answer(request: HttpRequest, error: DomainError, status: int, title: str,
            reason: str, template: str | None = None) -> HttpResponse:
    if _machine(request):
        return refuse(request, error)
    return error_page(request, status, title=title, reason=reason, template=template)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    reason = _("The request could not be understood: an address or a form held something "
               "this site does not accept.")
    return _answer(request, ValidationError(reason), 400, _("Bad request"), reason)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    reason = _("Your role may not open this page.")
    if exception is not None and str(exception):
        reason = f"{reason} {exception}"
    return _answer(request, PermissionDenied(reason), 403, _("No access"), reason)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    # The same words for a page that does not exist and for an object outside
    # the user's territory: nothing tells them apart.
    reason = _("There is no such page, or it is not within your territory.")
    if _machine(request):
        error = NotFound(_("no such address: %(path)s") % {"path": request.path_info[:200]})
        return refuse(request, error)
    return error_page(request, 404, title=_("Page not found"), reason=reason)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF refusal (settings.CSRF_FAILURE_VIEW), in the same style."""
    words = _("The form was sent without its security token, or with an old one (the page "
              "stayed open too long, or you logged in or out in another tab). Go back, reload "
              "the page and send it again.")
    error = PermissionDenied(words, code="csrf")
    return _answer(request, error, 403, _("The form has expired"), words,
                   template="403_csrf.html")


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500: JSON or GeoReport under the API and Open311, else a static page."""
    if _machine(request):
        error = DomainError(_("the server failed to answer: the error was logged"),
                            code="server_error")
        error.status = 500
        try:
            return refuse(request, error)
        except Exception:  # the answer must not fail in turn
            logger.exception("the 500 answer of %s failed", request.path_info)
    try:
        body = loader.get_template("500.html").render({"back": _referer(request)})
    except Exception:
        logger.exception("the 500 page failed")
        body = LAST_RESORT
    return HttpResponse(body, status=500)
