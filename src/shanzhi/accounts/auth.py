"""API authentication: the session for pages, ``Authorization: Bearer <token>`` for programs.

A token found valid is remembered per process (``core.memo``), so that the
requests of a grid worker's app or a hotline desk cost no query for the
token. The memory is checked against the ``tokens`` and ``staff`` revisions
on every request (``TTL`` 0: one read of two rows of ``core_revision``), so a
token revoked or deleted, or a user changed, in any process is refused at
once in every other. Measured (/tmp/h2/bench_tokens.py, 2,000 tokens): that
read costs 0.3–0.4× the read of the token with its user, on SQLite and on
PostgreSQL alike, so the memo is kept. A token past its ``expires_at`` is
refused with the code ``token_expired``."""

from __future__ import annotations

import datetime as dt

from django.db.models.signals import post_delete
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from shanzhi.core.errors import NotAuthenticated, PermissionDenied
from shanzhi.core.memo import Memo, bump, revision_stamp

from . import staff
from .models import ApiToken, User

#: last_used_at is written at most this often per token.
TOUCH_EVERY = dt.timedelta(minutes=5)
REVISION = "tokens"
#: The revisions are read on every request: a revocation holds at once everywhere.
TTL = 0.0
#: At most this many tokens are remembered per process (then it starts afresh).
REMEMBERED = 100_000

# the hash of a key → [its user, the token's id, when it was last marked used, its expiry]
_known: Memo[dict[str, list]] = Memo(dict, stamp=revision_stamp(REVISION, staff.REVISION),
                                     ttl=TTL, revision=(REVISION, staff.REVISION))


class TokenExpired(NotAuthenticated):
    code = "token_expired"


def _hit(key: str) -> list | None:
    known, digest = _known.get(), ApiToken.hash(key)
    hit = known.get(digest)
    if hit is None:
        token = (ApiToken.objects.select_related("user")
                 .filter(key_hash=digest, revoked_at__isnull=True).first())
        if token is None or not token.user.is_active:
            return None
        if len(known) >= REMEMBERED:
            known.clear()
        hit = known[digest] = [token.user, token.pk, token.last_used_at, token.expires_at]
    return hit


def user_for_token(key: str) -> User | None:
    """The user of a valid token; None for an unknown or revoked one;
    :class:`TokenExpired` for one past its expiry."""
    hit = _hit(key)
    if hit is None:
        return None
    user, pk, last_used, expires_at = hit
    now = timezone.now()
    if expires_at <= now:
        raise TokenExpired("the token has expired: ask for a new one", field="token")
    if last_used is None or now - last_used > TOUCH_EVERY:
        ApiToken.objects.filter(pk=pk).update(last_used_at=now)
        hit[2] = now
    return user


def token_of(key: str) -> int | None:
    """The id of the valid token with this key (for renewal)."""
    hit = _hit(key)
    return None if hit is None else hit[1]


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
            request.bearer_token = token
        return user


class Session(APIKeyCookie):
    """The Django session (the page's log-in), with Django's CSRF check on
    writes: a POST, PUT, PATCH or DELETE made with the session cookie must carry
    the token (the ``X-CSRFToken`` header, or a form's ``csrfmiddlewaretoken``),
    which a page of another site cannot read; else 403 ``csrf_failed`` and
    nothing is done. A bearer token (``BearerToken``, tried first) needs none."""

    param_name = "sessionid"
    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

    def _get_key(self, request: HttpRequest) -> str | None:
        # ninja's cookie check would test the CSRF token of every request,
        # logged in or not: authenticate() tests it once the session is known
        # to be a user's, so that a stranger gets 401, not 403.
        return "session"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if request.method not in self.SAFE_METHODS and check_csrf(request) is not None:
            raise PermissionDenied(
                "CSRF check failed: a write with the session needs the X-CSRFToken header "
                "(the value of the csrftoken cookie)", code="csrf_failed")
        return user
