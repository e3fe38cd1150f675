"""Where a request came from, for rate limits, log-in throttling and the access log."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or, behind ``SHANZHI_PROXY_COUNT``
    trusted reverse proxies, the address the outermost of them saw (taken from
    the right of ``X-Forwarded-For``, so a client cannot forge it by sending
    the header itself)."""
    proxies = settings.PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in
                 request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return forwarded[0] if forwarded else remote
    return forwarded[-proxies]
