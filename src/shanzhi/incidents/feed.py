"""The live feed: every timeline row is one event, pushed by Server-Sent Events.

- Write side: :func:`timeline_written` (a ``post_save`` receiver on
  ``TimelineEntry``, connected in ``apps.py``) publishes the new row's id on
  :data:`CHANNEL` through ``core.events`` — inside the writing transaction,
  so the wake-up leaves when the row is committed. Every timeline row is
  written with ``objects.create`` (intake, every action, the sweep), so
  every one is an event.
- Read side: :class:`FeedReader` gives one stream the rows after its cursor
  on incidents its user may see (``selectors.incidents_visible``, the one
  scope filter), without contact data.
- :func:`stream`: the async view at ``GET /api/v1/feed``.

How and why, and the limits: ``docs/feed.md``.
"""

from __future__ import annotations

import asyncio
import json
import time

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.db.models import Max, Q
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.auth import user_for_token
from shanzhi.accounts.scope import Scope
from shanzhi.core import events
from shanzhi.core.errors import DomainError, NotAuthenticated, PermissionDenied, ValidationError

from .models import Incident, TimelineEntry
from .selectors import incidents_visible, light

CHANNEL = "shanzhi_incident_timeline"

#: Seconds between two looks at the database when no wake-up came (the safety net).
POLL = 5.0
#: Seconds of silence after which the stream sends a comment, so proxies keep it open.
HEARTBEAT = 15.0
#: Least seconds between two reads of one stream: a burst of writes is read at once.
MIN_INTERVAL = 0.25
#: A stream ends after this many seconds; the browser reconnects (with
#: Last-Event-ID), and its log-in and territory are checked again.
LIFETIME = 300.0
#: Milliseconds the browser waits before reconnecting.
RETRY_MS = 3000
#: Timeline ids looked at per read.
SCAN = 1000
#: Seconds a missing id may still be a transaction in flight (see FeedReader).
GRACE = 60.0
MAX_HOLES = 1000
CONTENT_TYPE = "text/event-stream; charset=utf-8"


# ---------------------------------------------------------------- write side

def timeline_written(sender, instance: TimelineEntry, created: bool, raw: bool = False,
                     using: str = "default", **kwargs) -> None:
    """``post_save`` of TimelineEntry: wake the feeds of every process."""
    if created and not raw:
        events.publish(CHANNEL, str(instance.pk), using=using)


# ---------------------------------------------------------------- read side

def feed_cursor() -> int:
    """The newest timeline id: a page passes it as ``?after=`` so that its
    feed starts where the page's data ends."""
    return TimelineEntry.objects.aggregate(last=Max("id"))["last"] or 0


class FeedReader:
    """One stream's position in the timeline, and what it may see.

    Ids are handed out when a row is inserted but become visible when its
    transaction commits, and on PostgreSQL transactions commit out of order:
    row 11 may be read while row 10 is still in flight. So the reader walks
    every committed id (an index-only scan, whatever the scope), remembers
    the ids missing between them (holes) for :data:`GRACE` seconds, looks for
    them again on every read, and sends a hole that turns up late. A hole that
    never turns up was a rolled-back insert.
    """

    def __init__(self, *, scope: Scope, after: int) -> None:
        self.scope = scope
        #: every id up to here was looked at, except the holes
        self.seen = after
        #: missing id → the monotonic time after which it is given up
        self.holes: dict[int, float] = {}
        #: True when the last read stopped at SCAN ids: read again at once
        self.behind = False

    @property
    def settled(self) -> int:
        """Every id up to here has been dealt with (no hole at or below it)."""
        return min(self.seen, min(self.holes) - 1) if self.holes else self.seen

    def read(self, *, clock=time.monotonic) -> list[dict]:
        """The events after the cursor that the scope may see, oldest first."""
        now = clock()
        self.holes = {pk: until for pk, until in self.holes.items() if until > now}
        ids = list(TimelineEntry.objects.filter(Q(id__gt=self.seen) | Q(id__in=list(self.holes)))
                   .order_by("id").values_list("id", flat=True)[:SCAN])
        self.behind = len(ids) == SCAN
        late = [pk for pk in ids if pk <= self.seen]
        new = [pk for pk in ids if pk > self.seen]
        for pk in late:
            del self.holes[pk]
        before, previous = self.seen, self.seen
        for pk in new:
            for missing in range(previous + 1, pk):
                if len(self.holes) >= MAX_HOLES:
                    break
                self.holes[missing] = now + GRACE
            previous = pk
        if new:
            self.seen = new[-1]
        if not ids:
            return []
        rows = (TimelineEntry.objects
                .filter(Q(id__gt=before, id__lte=self.seen) | Q(id__in=late),
                        incident__in=incidents_visible(self.scope))
                .order_by("id")
                .values("id", "at", "action", "from_state", "to_state", "incident_id",
                        "incident__number", "incident__state", "incident__lng",
                        "incident__lat", "incident__due_at", "incident__warn_at",
                        "incident__overdue", "incident__category__name",
                        "incident__region__name", "incident__grid__code"))
        moment = timezone.now()
        return [_event(row, moment) for row in rows]


def _event(row: dict, now) -> dict:
    """One timeline row as the feed sends it: no actor, no notes, no contact."""
    lights = Incident(state=row["incident__state"], due_at=row["incident__due_at"],
                      warn_at=row["incident__warn_at"], overdue=row["incident__overdue"])
    return {
        "id": row["id"],
        "at": timezone.localtime(row["at"]).isoformat(),
        "action": row["action"],
        "from_state": row["from_state"],
        "to_state": row["to_state"],
        "incident": {
            "id": row["incident_id"],
            "number": row["incident__number"],
            "state": row["incident__state"],
            "category": row["incident__category__name"],
            "region": row["incident__region__name"],
            "grid": row["incident__grid__code"],
            "lng": row["incident__lng"],
            "lat": row["incident__lat"],
            "light": light(lights, now),
        },
    }


# ---------------------------------------------------------------- the stream

async def stream(request: HttpRequest):
    """``GET /api/v1/feed``: ``text/event-stream`` of ``event: incident``
    messages, each ``id:`` the timeline position. Resumes after
    ``Last-Event-ID`` (sent by the browser on reconnecting) or ``?after=``;
    without either, starts now. Log in by the session or a bearer token."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    # Django's GZipMiddleware compresses each chunk of an async stream as a
    # gzip member of its own: an event would grow (header, random file name)
    # and lean on the client to join members. The feed goes uncompressed.
    request.META.pop("HTTP_ACCEPT_ENCODING", None)
    try:
        after = _cursor(request)
        scope, after = await _in_thread(_open, request, after)
    except DomainError as exc:
        response = JsonResponse(exc.as_dict(), status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = "Bearer"
        return response
    if isinstance(request, ASGIRequest):
        response = StreamingHttpResponse(_messages(scope, after),
                                         content_type=CONTENT_TYPE)
    else:
        # Under WSGI (runserver, the test live server) a stream is sent only
        # when it ends: answer what is there and close; EventSource comes
        # back after RETRY_MS, which makes it a poll.
        batch = await _in_thread(FeedReader(scope=scope, after=after).read)
        response = HttpResponse(_opening(after) + "".join(_frames(batch, after)),
                                content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _cursor(request: HttpRequest) -> int | None:
    raw = (request.headers.get("Last-Event-ID") or request.GET.get("after") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise ValidationError(gettext("Last-Event-ID (or after) must be a timeline id."),
                              field="after")
    return int(raw)


def _open(request: HttpRequest, after: int | None) -> tuple[Scope, int]:
    """Who asks (a bearer token, else the session), their scope, the cursor."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        user = user_for_token(key.strip())
    else:
        user = request.user if request.user.is_authenticated else None
    if user is None or not user.is_active:
        raise NotAuthenticated(gettext("Log in, or send Authorization: Bearer <token>."))
    scope = Scope.for_user(user)
    if scope.is_empty:
        raise PermissionDenied(gettext("Your account has no territory."))
    return scope, feed_cursor() if after is None else after


async def _in_thread(fn, *args):
    """Run ``fn`` in a worker thread and give its database connection back at
    once (to the pool on PostgreSQL): an idle stream holds no connection."""
    def run():
        try:
            return fn(*args)
        finally:
            connections.close_all()
    return await sync_to_async(run, thread_sensitive=False)()


def _opening(position: int) -> str:
    return f"retry: {RETRY_MS}\nid: {position}\n: shanzhi feed\n\n"


def _frames(batch: list[dict], position: int):
    """The messages of a batch. The SSE id is what a reconnecting browser
    sends back: it never goes backwards (a late row keeps the position)."""
    for event in batch:
        position = max(position, event["id"])
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        yield f"id: {position}\nevent: incident\ndata: {data}\n\n"


async def _messages(scope: Scope, after: int):
    """The stream: read, send, wait for a wake-up or the next poll; repeat."""
    loop = asyncio.get_running_loop()
    reader = FeedReader(scope=scope, after=after)
    position = after
    async with events.subscribe(CHANNEL) as wakeups:
        yield _opening(position)
        end = loop.time() + LIFETIME
        last_sent, last_read = loop.time(), loop.time() - MIN_INTERVAL
        while True:
            await asyncio.sleep(max(0.0, last_read + MIN_INTERVAL - loop.time()))
            last_read = loop.time()
            batch = await _in_thread(reader.read)
            for frame in _frames(batch, position):
                yield frame
                last_sent = loop.time()
            position = max([position, *(event["id"] for event in batch)])
            if loop.time() >= end:
                return
            if reader.behind:
                continue
            if loop.time() - last_sent >= HEARTBEAT:
                # the id moves past what this user may not see: a reconnect
                # need not walk over it again
                position = max(position, reader.settled)
                yield f": ping\nid: {position}\n\n"
                last_sent = loop.time()
            await wakeups.wait(timeout=min(POLL, max(0.0, end - loop.time())))
