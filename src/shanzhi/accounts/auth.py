"""API authentication: the session for pages, ``Authorization: Bearer <token>`` for programs."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from .models import ApiToken, User

#: last_used_at is written at most this often per token.
TOUCH_EVERY = dt.timedelta(minutes=5)


def user_for_token(key: str) -> User | None:
    token = (ApiToken.objects.select_related("user")
             .filter(key_hash=ApiToken.hash(key), revoked_at__isnull=True).first())
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class Session(APIKeyCookie):
    """The Django session (the page's log-in), with CSRF checks on writes."""

    param_name = "sessionid"

    def _get_key(self, request: HttpRequest) -> str | None:
        return "session"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None
