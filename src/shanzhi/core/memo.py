"""Per-process memos of what rarely changes and is read on every request
(the category rules and routing, the working calendar).

A memo is built once per process and rebuilt when its *stamp* — a cheap
query — changes; the stamp is looked at no more often than every ``ttl``
seconds, so another process sees a change within that time. The process that
makes the change sees it at once: :func:`bump` (called in the writing
transaction) moves a named revision on and forgets the memos that depend on
it when the transaction commits.

The memos read the time from :func:`clock` (monotonic seconds), looked up at
each call: a test freezes it (``monkeypatch.setattr(memo, "clock", lambda: 0.0)``)
so its outcome does not depend on how fast the machine runs, and a memo may
be given its own ``clock``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.db import connection, transaction
from django.db.models import F

T = TypeVar("T")

_memos: list[Memo] = []

#: The time every memo reads unless given its own: monotonic seconds.
clock: Callable[[], float] = time.monotonic


class Memo(Generic[T]):
    def __init__(self, build: Callable[[], T], *, stamp: Callable[[], Hashable],
                 ttl: float, revision: str | tuple[str, ...] = "",
                 clock: Callable[[], float] | None = None) -> None:
        self._build, self._stamp, self.ttl, self._clock = build, stamp, ttl, clock
        self.revisions = (revision,) if isinstance(revision, str) else revision
        self._lock = threading.Lock()
        self._value: T | None = None
        self._key: Hashable = None
        self._checked_at = 0.0
        _memos.append(self)

    def now(self) -> float:
        return (self._clock or clock)()

    def get(self) -> T:
        now = self.now()
        value = self._value
        if value is not None and now - self._checked_at < self.ttl:
            return value
        with self._lock:
            key = self._stamp()
            if self._value is None or key != self._key:
                self._value, self._key = self._build(), key
            self._checked_at = self.now()
            return self._value

    def reset(self) -> None:
        with self._lock:
            self._value, self._key, self._checked_at = None, None, 0.0


def revision_stamp(*names: str) -> Callable[[], Hashable]:
    """A stamp for :class:`Memo`: the numbers of the named revisions. One
    plain statement, not the ORM: a memo with ttl 0 (the bearer tokens) reads
    it on every request, and building the ORM query cost 4× the query."""
    from .models import Revision

    sql = (f"SELECT name, number FROM {Revision._meta.db_table} "
           f"WHERE name IN ({', '.join(['%s'] * len(names))})")

    def stamp() -> Hashable:
        with connection.cursor() as cursor:
            cursor.execute(sql, names)
            found = dict(cursor.fetchall())
        return tuple(found.get(name, 0) for name in names)
    return stamp


def bump(name: str) -> None:
    """Move the named revision on (in the caller's transaction); every
    process rebuilds the memos that depend on it."""
    from .models import Revision

    if not Revision.objects.filter(name=name).update(number=F("number") + 1):
        Revision.objects.get_or_create(name=name, defaults={"number": 1})
    reset_all(name)  # this transaction already sees the change
    transaction.on_commit(lambda: reset_all(name))  # and not before it commits


def reset_all(revision: str | None = None) -> None:
    """Forget this process's memos (those of one revision, or all: tests)."""
    for memo in _memos:
        if revision is None or revision in memo.revisions:
            memo.reset()
