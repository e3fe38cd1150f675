"""Wake-ups across server processes: publish on a channel, subscribe on the event loop.

A payload is a hint, not a message to rely on: a subscriber that wakes up
reads the database, the one source of truth, and a subscriber that misses a
wake-up (a lost connection, a full buffer) reads it anyway on its next poll.

The backend follows the database:

- PostgreSQL: :func:`publish` sends ``NOTIFY`` on the writing connection, in
  the writing transaction, so the notification leaves exactly when the
  transaction commits (and never if it rolls back), in commit order. Each
  server process keeps one ``LISTEN`` connection (psycopg, async, on the
  process's event loop) and hands what arrives to its subscribers; it
  reconnects with backoff and then wakes every subscriber, since
  notifications sent meanwhile are lost.
- Any other database (SQLite, the embedded mode): :func:`publish` delivers
  to the subscribers of this process when the transaction commits
  (``transaction.on_commit``). Writes run in sync threads, subscribers on an
  event loop: delivery goes through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator

from django.db import DEFAULT_DB_ALIAS, connections, transaction

log = logging.getLogger(__name__)

#: How long a new subscriber waits for its channel's LISTEN before going on without it.
READY_TIMEOUT = 5.0
#: How often the LISTEN connection stops waiting to LISTEN new channels (seconds).
TICK = 1.0
#: Reconnection delay after a lost LISTEN connection: the first, doubled up to the last.
BACKOFF = (0.5, 30.0)
#: Payloads a subscriber keeps between two looks; older ones are dropped (it still wakes).
KEEP = 1000
#: Shown in pg_stat_activity for the LISTEN connections.
APPLICATION_NAME = "shanzhi-listen"


def publish(channel: str, payload: str = "", *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Wake the subscribers of ``channel`` in every process when the current
    transaction on ``using`` commits (at once outside a transaction)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])
    else:
        transaction.on_commit(lambda: hub.deliver(channel, payload), using=using, robust=True)


def subscribe(channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
    """``async with subscribe(channel) as wakeups: await wakeups.wait(5)``."""
    return hub.subscribe(channel)


class Subscription:
    """What one subscriber was sent since it last looked. Lives on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._payloads: deque[str] = deque(maxlen=KEEP)
        self._woken = asyncio.Event()

    def wake(self, payload: str | None = None) -> None:
        """Call on the subscription's loop (``Hub.deliver`` does, from any thread)."""
        if payload is not None:
            self._payloads.append(payload)
        self._woken.set()

    async def wait(self, timeout: float | None = None) -> list[str]:
        """The payloads received since the last call, waiting up to ``timeout``
        seconds for a wake-up. Empty after a time-out, and after a wake-up
        without payload (the LISTEN connection came back: look anyway)."""
        if not self._woken.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout)
        self._woken.clear()
        payloads = list(self._payloads)
        self._payloads.clear()
        return payloads


class Hub:
    """The subscribers of one process, by channel; on PostgreSQL, one LISTEN
    connection per event loop (a server process runs one loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = {}
        self._listeners: dict[asyncio.AbstractEventLoop, _Listener] = {}

    def deliver(self, channel: str, payload: str | None = None) -> None:
        """Wake every subscriber of ``channel`` in this process. Any thread."""
        with self._lock:
            subscribers = list(self._subscribers.get(channel, ()))
        for subscription in subscribers:
            with contextlib.suppress(RuntimeError):  # its event loop has closed
                subscription.loop.call_soon_threadsafe(subscription.wake, payload)

    def wake_all(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake every subscriber on ``loop``, whatever its channel."""
        with self._lock:
            subscribers = [s for group in self._subscribers.values() for s in group
                           if s.loop is loop]
        for subscription in subscribers:
            subscription.wake()

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        loop = asyncio.get_running_loop()
        subscription = Subscription(loop)
        with self._lock:
            self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
                await self._listener(loop).listen(channel)
            yield subscription
        finally:
            with self._lock:
                group = self._subscribers.get(channel, set())
                group.discard(subscription)
                if not group:
                    self._subscribers.pop(channel, None)

    def _listener(self, loop: asyncio.AbstractEventLoop) -> _Listener:
        with self._lock:
            for closed in [lp for lp in self._listeners if lp.is_closed()]:
                del self._listeners[closed]
            listener = self._listeners.get(loop)
            if listener is None or listener.task.done():
                listener = self._listeners[loop] = _Listener(self, loop)
            return listener


class _Listener:
    """One LISTEN connection, on one event loop, for every channel subscribed there."""

    def __init__(self, hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
        self.hub = hub
        self.loop = loop
        #: channel → set while the current connection LISTENs to it
        self.channels: dict[str, asyncio.Event] = {}
        self.task = loop.create_task(self._run(), name="shanzhi-events-listen")

    async def listen(self, channel: str) -> None:
        ready = self.channels.setdefault(channel, asyncio.Event())
        if ready.is_set():
            return
        try:
            await asyncio.wait_for(ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            log.warning("not listening on %r yet: subscribers rely on polling", channel)

    async def _run(self) -> None:
        import psycopg

        delay, reconnected = BACKOFF[0], False
        while True:
            try:
                params = _connection_params()
                async with await psycopg.AsyncConnection.connect(**params) as conn:
                    await self._serve(conn, reconnected)
            except psycopg.OperationalError as exc:
                log.warning("LISTEN connection lost (%s); reconnecting in %.1f s",
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__, delay)
            except Exception:  # keep the process's only listener alive; retry
                log.exception("LISTEN failed; reconnecting in %.1f s", delay)
            for ready in self.channels.values():
                ready.clear()
            await asyncio.sleep(delay)
            delay, reconnected = min(delay * 2, BACKOFF[1]), True

    async def _serve(self, conn, reconnected: bool) -> None:
        from psycopg import sql

        listening: set[str] = set()
        while True:
            for channel, ready in list(self.channels.items()):
                if channel not in listening:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    listening.add(channel)
                    ready.set()
            if reconnected:  # what was sent while we were away is lost: everyone looks
                self.hub.wake_all(self.loop)
                reconnected = False
            async for notify in conn.notifies(timeout=TICK):
                self.hub.deliver(notify.channel, notify.payload)


def _connection_params() -> dict:
    """psycopg's connection parameters from Django's settings (the test
    database in tests), with keepalives so a dead server is noticed."""
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
            "keepalives_count": 3, "application_name": APPLICATION_NAME, **params,
            "autocommit": True}


#: The process's hub.
hub = Hub()
