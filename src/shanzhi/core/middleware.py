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

:class:`GZipMiddleware` is Django's, with two changes. Django compresses each
chunk of an async stream (what the ASGI server gets: the Excel export, the live
feed) as a gzip member of its own; Chromium decodes the first member only and
a 1,500-row workbook arrived cut at a third. Here an async stream goes through
ONE compressor — one gzip member, flushed after every chunk, so that each
event of a stream still reaches the client at once. And a body that is
already compressed (a zip, hence an xlsx/docx; gzip; photos; audio, video,
web fonts) is sent as it is: compressing it again saves nothing and costs the
server the CPU of every byte.
"""

from __future__ import annotations

import gzip
import io
import secrets
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.middleware.gzip import re_accepts_gzip
from django.utils import translation
from django.utils.cache import patch_vary_headers
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


#: Media types whose bodies are compressed already (a zip holds deflated
#: members: xlsx, docx, odt … are zips).
COMPRESSED_TYPES = (
    "application/zip", "application/x-zip-compressed", "application/gzip",
    "application/x-gzip", "application/x-7z-compressed", "application/x-rar-compressed",
    "application/x-bzip2", "application/x-xz", "application/zstd",
    "application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument.",
    "application/epub+zip", "image/png", "image/jpeg", "image/gif", "image/webp",
    "image/avif", "image/heic", "font/woff", "font/woff2", "audio/", "video/",
)


def is_compressed(content_type: str) -> bool:
    """Whether a body of this ``Content-Type`` is compressed already."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(COMPRESSED_TYPES)


class GZipMiddleware(DjangoGZipMiddleware):
    """Django's gzip, but an async stream is one gzip member flushed chunk by
    chunk, and compressed bodies (xlsx, zip, photos …) are left alone."""

    def process_response(self, request: HttpRequest,
                         response: HttpResponseBase) -> HttpResponseBase:
        if is_compressed(response.get("Content-Type", "")):
            return response
        if not (isinstance(response, StreamingHttpResponse) and response.is_async):
            return super().process_response(request, response)
        if response.has_header("Content-Encoding"):
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        if not re_accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            return response
        response.streaming_content = compress_stream(
            response.streaming_content,  # type: ignore[arg-type]  # async: checked above
            max_random_bytes=self.max_random_bytes)
        del response.headers["Content-Length"]
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response.headers["ETag"] = "W/" + etag
        response.headers["Content-Encoding"] = "gzip"
        return response


async def compress_stream(chunks: AsyncIterator[bytes], *,
                          max_random_bytes: int = 0) -> AsyncIterator[bytes]:
    """``chunks`` as one gzip member: its header (with a random file name of
    up to ``max_random_bytes``, Django's defence against BREACH), each chunk
    compressed and flushed (``Z_SYNC_FLUSH``: the client can decode all of it
    before the next one comes), then the trailer."""
    buffer = io.BytesIO()
    # as Django's: a name of random length, so a page's size tells nothing
    name = b"a" * secrets.randbelow(max_random_bytes) if max_random_bytes else None

    def take() -> bytes:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data

    try:
        with gzip.GzipFile(filename=name, mode="wb", compresslevel=6, fileobj=buffer,
                           mtime=0) as member:
            async for chunk in chunks:
                if not chunk:
                    continue
                member.write(chunk)
                member.flush()  # Z_SYNC_FLUSH
                yield take()
        yield take()
    finally:  # the client went away: the source closes now (its cursor, its thread)
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
