"""Security headers on every answer, and a cap on the size of a request.

:class:`SecurityHeadersMiddleware` stands right after Django's
``SecurityMiddleware`` (which sends ``X-Content-Type-Options``,
``Referrer-Policy``, ``Cross-Origin-Opener-Policy`` and, over HTTPS with
``SHANZHI_SECURE=1``, ``Strict-Transport-Security``) and before WhiteNoise, so
that pages, the API, Open311, error pages and static files all carry:

- ``Content-Security-Policy``: scripts, styles, frames, workers and requests
  only from the site itself (no inline script, no ``eval``, no inline style),
  images also from ``data:``/``blob:`` (MapLibre), nothing may frame a page;
  the origin of ``SHANZHI_MAP_TILE_URL`` is added to ``img-src`` and
  ``connect-src`` when a tile server is set;
- ``Permissions-Policy``: the position and the camera for the site itself
  (the grid worker's phone), no microphone, payment, USB …;
- ``X-Frame-Options: DENY`` (for browsers without ``frame-ancestors``).

:class:`RequestSizeMiddleware` refuses a body larger than
``settings.REQUEST_MAX_BYTES`` (the photos' ``SHANZHI_UPLOAD_MAX_MB`` plus the
form's fields) from its ``Content-Length``, before anything reads it: 413, in
the API's error format under ``/api/``, GeoReport's under ``/open311/``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from .errors import TooLarge

PERMISSIONS_POLICY = ", ".join([
    "geolocation=(self)", "camera=(self)", "fullscreen=(self)", "microphone=()",
    "payment=()", "usb=()", "serial=()", "hid=()", "midi=()",
    "display-capture=()", "accelerometer=()", "gyroscope=()", "magnetometer=()",
    "xr-spatial-tracking=()", "browsing-topics=()",
])


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None (a
    relative URL is the site's own)."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https") and parts.netloc and "{" not in parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


@lru_cache(maxsize=8)
def content_security_policy(tile_url: str = "") -> str:
    """The policy of every answer; ``tile_url`` is ``SHANZHI_MAP_TILE_URL``."""
    tiles = _origin(tile_url) if tile_url else None
    extra = f" {tiles}" if tiles else ""
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: blob:{extra}",
        "font-src 'self'",
        f"connect-src 'self'{extra}",
        "worker-src 'self' blob:",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """CSP, Permissions-Policy and X-Frame-Options on every answer (a view
    that set its own keeps it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy",
                                    content_security_policy(settings.MAP_TILE_URL or ""))
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if not getattr(response, "xframe_options_exempt", False):
            response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response


class RequestSizeMiddleware:
    """413 for a request whose body is larger than ``settings.REQUEST_MAX_BYTES``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.REQUEST_MAX_BYTES:
            return too_large(request)
        return self.get_response(request)


def too_large(request: HttpRequest) -> HttpResponse:
    """The 413 answer, in the format of the part of the site asked (and in the
    user's language: this runs before the locale middleware)."""
    with translation.override(translation.get_language_from_request(request)):
        return _too_large(request)


def _too_large(request: HttpRequest) -> HttpResponse:
    from .input import refuse  # the API's and GeoReport's error formats

    limit = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
    error = TooLarge(_("The request is too large: the photos of one report may "
                             "take at most %(mb)d MB in all.") % {"mb": limit}, field="body")
    if request.path_info.startswith(("/api/", "/open311/")):
        return refuse(request, error)
    title = _("The upload is too large")
    page = (f'<!DOCTYPE html><html lang="{translation.get_language()}"><head>'
            f'<meta charset="utf-8"><title>{escape(title)}</title></head>'
            f'<body><h1>{escape(title)}</h1><p>{escape(error.message)}</p></body></html>')
    return HttpResponse(page, status=413, content_type="text/html; charset=utf-8")
