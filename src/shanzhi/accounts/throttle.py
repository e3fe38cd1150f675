"""Log-in throttling and lockout (等保 2.0 level 3), per account and per client
address, kept in the database (``LoginThrottle``) so that every server process
sees the same counts.

``LOGIN_ACCOUNT_FAILURES`` failures for one account name within
``LOGIN_WINDOW_MINUTES`` lock it for ``LOGIN_LOCK_MINUTES``;
``LOGIN_ADDRESS_FAILURES`` failures from one address within the window lock
the address. A wrong password and a wrong second-factor code both count. The
lock is looked at before any password is hashed (``backends.py``), lifts
itself, and an administrator lifts an account's at once (:func:`login_unlock`).
Names that belong to nobody are counted and locked like the others, so a lock
says nothing about whether an account exists. Every step is a row of the
access log."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.core.models import AccessAction, AccessLog
from shanzhi.core.net import client_ip

from .models import LoginThrottle, User

ACCOUNT, ADDRESS = LoginThrottle.Kind.ACCOUNT, LoginThrottle.Kind.ADDRESS


@dataclass(frozen=True)
class Lock:
    kind: str
    until: dt.datetime

    def minutes_left(self) -> int:
        return max(1, math.ceil((self.until - timezone.now()).total_seconds() / 60))

    def message(self) -> str:
        if self.kind == ACCOUNT:
            return _("The account is temporarily locked: try again in %(minutes)d minutes or "
                     "contact your administrator.") % {"minutes": self.minutes_left()}
        return _("Too many failed log-ins from your address: try again in %(minutes)d "
                 "minutes.") % {"minutes": self.minutes_left()}


def account_key(username: str) -> str:
    return (username or "").strip().casefold()[:150]


def _address(request: HttpRequest | None) -> str:
    return client_ip(request)[:150] if request is not None else ""


def _keys(username: str, address: str) -> Q:
    keys = Q(kind=ACCOUNT, key=account_key(username))
    if address:
        keys |= Q(kind=ADDRESS, key=address)
    return keys


def login_lock(*, request: HttpRequest | None, username: str) -> Lock | None:
    """The lock that refuses an attempt for this name from this address now, if any."""
    row = (LoginThrottle.objects.filter(_keys(username, _address(request)),
                                        locked_until__gt=timezone.now())
           .order_by("-locked_until").first())
    return Lock(row.kind, row.locked_until) if row else None


def login_refused(*, request: HttpRequest | None, username: str, lock: Lock) -> None:
    AccessLog.record(action=AccessAction.LOGIN_REFUSED, request=request, username=username,
                     reason=f"{lock.kind} locked until {lock.until.isoformat()}")


def _count_failure(kind: str, key: str, limit: int, now: dt.datetime) -> LoginThrottle | None:
    """One more failure for the key; the row if this one locks it."""
    window = dt.timedelta(minutes=settings.LOGIN_WINDOW_MINUTES)
    with transaction.atomic():
        row, created = LoginThrottle.objects.select_for_update().get_or_create(
            kind=kind, key=key, defaults={"failures": 0, "window_start": now})
        if created:  # a new name or address: forget those whose window and lock are over
            lock = dt.timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
            LoginThrottle.objects.filter(window_start__lt=now - window - lock).delete()
        if row.window_start <= now - window or (row.locked_until and row.locked_until <= now):
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        locks = row.failures >= limit and row.locked_until is None
        if locks:
            row.locked_until = now + dt.timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
        row.save()
    return row if locks else None


def login_failed(*, request: HttpRequest | None, username: str, user: User | None = None,
                 reason: str = "") -> Lock | None:
    """Count a failed attempt (a wrong password or code) for the account and
    the address and log it; the lock it brought about, if any."""
    now, address = timezone.now(), _address(request)
    AccessLog.record(action=AccessAction.LOGIN_FAILED, request=request, user=user,
                     username=username, reason=reason)
    lock = None
    for kind, key, limit in ((ACCOUNT, account_key(username), settings.LOGIN_ACCOUNT_FAILURES),
                             (ADDRESS, address, settings.LOGIN_ADDRESS_FAILURES)):
        if not key:
            continue
        row = _count_failure(kind, key, limit, now)
        if row is not None:
            AccessLog.record(action=AccessAction.LOCKED, request=request, user=user,
                             username=username,
                             reason=f"{kind} {key}: {row.failures} failures within "
                                    f"{settings.LOGIN_WINDOW_MINUTES} min, locked until "
                                    f"{row.locked_until.isoformat()}")
            lock = lock or Lock(kind, row.locked_until)
    return lock


def login_succeeded(*, request: HttpRequest, user: User) -> None:
    """A complete log-in (password and, if any, second factor): the account's
    failures are forgotten (the address's are not) and the log-in is logged."""
    LoginThrottle.objects.filter(kind=ACCOUNT, key=account_key(user.get_username())).delete()
    AccessLog.record(action=AccessAction.LOGIN, request=request, user=user)


def logged_out(*, request: HttpRequest, user: User) -> None:
    AccessLog.record(action=AccessAction.LOGOUT, request=request, user=user)


def locked_accounts(usernames: Iterable[str]) -> set[str]:
    """Which of these account names are locked now (for the user admin)."""
    keys = {account_key(u): u for u in usernames}
    locked = LoginThrottle.objects.filter(kind=ACCOUNT, key__in=keys,
                                          locked_until__gt=timezone.now())
    return {keys[k] for k in locked.values_list("key", flat=True)}


def login_unlock(*, actor: User, request: HttpRequest | None, users: Iterable[User]) -> int:
    """Lift the lock (and forget the failures) of these accounts at once."""
    count = 0
    for user in users:
        deleted, _rows = LoginThrottle.objects.filter(
            kind=ACCOUNT, key=account_key(user.get_username())).delete()
        AccessLog.record(action=AccessAction.UNLOCK, request=request, user=actor, obj=user,
                         reason=f"unlocked {user.get_username()}")
        count += bool(deleted)
    return count
