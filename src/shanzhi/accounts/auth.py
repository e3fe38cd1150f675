"""API authentication: the session for pages, ``Authorization: Bearer <token>`` for programs.

A token found valid is remembered per process (``core.memo``), so that the
requests of a grid worker's app or a hotline desk cost no query for it. The
memory is dropped in every process when a token is revoked or deleted
(revision ``tokens``) or a user changes (revision ``staff``): at once in the
process that made the change, within ``TTL`` seconds in the others."""

from __future__ import annotations

import datetime as dt

from django.db.models.signals import post_delete
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from shanzhi.core.memo import Memo, bump, revision_stamp

from . import staff
from .models import ApiToken, User

#: last_used_at is written at most this often per token.
TOUCH_EVERY = dt.timedelta(minutes=5)
REVISION = "tokens"
TTL = 5.0
#: At most this many tokens are remembered per process (then it starts afresh).
REMEMBERED = 100_000

# the hash of a key → [its user, the token's id, when it was last marked used]
_known: Memo[dict[str, list]] = Memo(dict, stamp=revision_stamp(REVISION, staff.REVISION),
                                     ttl=TTL, revision=(REVISION, staff.REVISION))


def user_for_token(key: str) -> User | None:
    known, digest = _known.get(), ApiToken.hash(key)
    hit = known.get(digest)
    if hit is None:
        token = (ApiToken.objects.select_related("user")
                 .filter(key_hash=digest, revoked_at__isnull=True).first())
        if token is None or not token.user.is_active:
            return None
        if len(known) >= REMEMBERED:
            known.clear()
        hit = known[digest] = [token.user, token.pk, token.last_used_at]
    user, pk, last_used = hit
    now = timezone.now()
    if last_used is None or now - last_used > TOUCH_EVERY:
        ApiToken.objects.filter(pk=pk).update(last_used_at=now)
        hit[2] = now
    return user


def forget_tokens() -> None:
    """A token was revoked or deleted: every process forgets what it knew."""
    bump(REVISION)


def connect() -> None:
    """Called once from the app's ``ready()``: a deleted token is forgotten too."""
    post_delete.connect(lambda **kw: forget_tokens(), sender=ApiToken, weak=False,
                        dispatch_uid="tokens-delete")


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
