"""The live feed (incidents/feed.py): every timeline row is an event; each
user's stream carries only the incidents of their territory, without contact
data; a reconnect resumes after Last-Event-ID without gaps; the stream is
pushed at once on a write and still polls without one; and it works across
the processes of a real server on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.test import AsyncClient, Client
from django.utils import timezone

from shanzhi.accounts.scope import Scope
from shanzhi.accounts.services import token_create
from shanzhi.cases.sla import sweep
from shanzhi.core import events
from shanzhi.incidents import feed, services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.feed import FeedReader, feed_cursor
from shanzhi.incidents.models import Incident, TimelineEntry
from tests.incidents.conftest import EAST_POINT, ZJJ, report, step

FEED = "/api/v1/feed"


def seen_by(user, after: int) -> list[tuple[str, str]]:
    """(incident number, action) of every event the user's feed gives after ``after``."""
    return [(e["incident"]["number"], e["action"])
            for e in FeedReader(scope=Scope.for_user(user), after=after).read()]


def east_report(cast) -> Incident:
    return report(cast, actor=cast.east_operator, **EAST_POINT)


def put_row(incident: Incident, pk: int | None = None) -> TimelineEntry:
    """A timeline row written without the post_save signal (bulk_create), so
    nothing wakes the feed; ``pk`` forces its id."""
    (row,) = TimelineEntry.objects.bulk_create([TimelineEntry(
        id=pk, incident=incident, action="supervise", from_state=incident.state,
        to_state=incident.state)])
    return row


# ---------------------------------------------------------------- what each user sees

def test_a_report_and_a_dispatch_reach_everyone_whose_territory_holds_them(cast):
    start = feed_cursor()
    incident = step(cast, step(cast, report(cast), "accept"), "dispatch")
    number = incident.number
    expected = [(number, "report"), (number, "accept"), (number, "dispatch")]
    for user in (cast.town_operator, cast.west_operator, cast.admin, cast.viewer, cast.worker,
                 cast.handler):
        assert seen_by(user, start) == expected, user.username


def test_the_out_of_territory_operator_and_the_worker_of_another_grid_see_none_of_it(cast):
    start = feed_cursor()
    step(cast, step(cast, report(cast), "accept"), "dispatch", department=ZJJ)
    for user in (cast.east_operator, cast.neighbour_worker, cast.cgj_handler):
        assert seen_by(user, start) == [], user.username
    east = east_report(cast)
    assert seen_by(cast.east_operator, start) == [(east.number, "report")]
    assert (east.number, "report") not in seen_by(cast.west_operator, start)


def test_an_event_names_the_place_and_the_light_and_carries_no_contact(cast, territory):
    start = feed_cursor()
    incident = report(cast, contact_name="张三", contact_phone="13812345678")
    (event,) = FeedReader(scope=Scope.for_user(cast.town_operator), after=start).read()
    entry = TimelineEntry.objects.get(incident=incident)
    assert event == {
        "id": entry.pk, "at": timezone.localtime(entry.at).isoformat(), "action": "report",
        "from_state": "", "to_state": wf.REPORTED,
        "incident": {"id": incident.pk, "number": incident.number, "state": wf.REPORTED,
                     "category": "暴露垃圾", "region": territory.west_community.name,
                     "grid": territory.west_grids[0].code, "lng": incident.lng,
                     "lat": incident.lat, "light": "green"}}
    text = json.dumps(event, ensure_ascii=False)
    assert "张三" not in text and "13812345678" not in text


def test_resuming_after_an_id_gives_exactly_the_events_missed(cast):
    start = feed_cursor()
    first = report(cast)
    step(cast, first, "accept")
    missed_from = feed_cursor()
    second = report(cast)
    step(cast, first, "dispatch")
    east_report(cast)
    assert seen_by(cast.town_operator, missed_from) == [(second.number, "report"),
                                                        (first.number, "dispatch")]
    assert len(seen_by(cast.town_operator, start)) == 4


def test_a_row_committed_after_a_later_one_is_still_sent_once(cast):
    incident = report(cast)
    start = feed_cursor()
    reader = FeedReader(scope=Scope.for_user(cast.town_operator), after=start)
    # the row with the next id is still in its transaction when the one after commits
    put_row(incident, start + 2)
    assert [e["id"] for e in reader.read()] == [start + 2]
    assert reader.settled == start
    put_row(incident, start + 1)
    assert [e["id"] for e in reader.read()] == [start + 1]
    assert reader.read() == []
    assert reader.settled == start + 2


def test_a_missing_id_that_never_comes_is_given_up_after_the_grace(cast):
    incident = report(cast)
    start = feed_cursor()
    now = [1000.0]
    reader = FeedReader(scope=Scope.for_user(cast.town_operator), after=start)
    put_row(incident, start + 3)  # start+1 and start+2: rolled back, say
    assert [e["id"] for e in reader.read(clock=lambda: now[0])] == [start + 3]
    assert reader.settled == start
    now[0] += feed.GRACE + 1
    assert reader.read(clock=lambda: now[0]) == []
    assert reader.settled == start + 3


# ---------------------------------------------------------------- every row wakes the feed

async def in_thread(fn):
    """Run ``fn`` in a worker thread, as a request would, and give its connection back."""
    def run():
        try:
            return fn()
        finally:
            connections.close_all()
    return await sync_to_async(run, thread_sensitive=False)()


@pytest.mark.django_db(transaction=True)
def test_every_timeline_row_written_wakes_the_feed_once_committed(seeded_taxonomy, cast):
    start = feed_cursor()

    def work():
        incident = step(cast, step(cast, report(cast), "accept"), "dispatch")
        sweep(now=timezone.now() + dt.timedelta(days=60))  # the system's own row
        return incident

    async def scenario():
        async with events.subscribe(feed.CHANNEL) as wakeups:
            incident = await in_thread(work)
            payloads: list[str] = []
            while len(payloads) < 4:
                payloads += await wakeups.wait(timeout=5) or ["timed out"]
            return incident, payloads

    incident, payloads = asyncio.run(scenario())
    rows = TimelineEntry.objects.filter(id__gt=start).order_by("id")
    assert [r.action for r in rows] == ["report", "accept", "dispatch", "overdue"]
    assert {r.incident_id for r in rows} == {incident.pk}
    assert payloads == [str(r.pk) for r in rows]


# ---------------------------------------------------------------- the stream (in process)

def parse(chunk: bytes) -> dict:
    """One SSE message: its fields, and its comments under "comments"."""
    message: dict = {"comments": []}
    for line in chunk.decode().splitlines():
        if line.startswith(":"):
            message["comments"].append(line[1:].strip())
        elif line:
            name, _, value = line.partition(":")
            message[name] = value.removeprefix(" ")
    return message


async def next_message(content, timeout: float = 5.0) -> dict:
    return parse(await asyncio.wait_for(anext(content), timeout))


async def next_event(content, timeout: float = 5.0) -> tuple[int, dict]:
    """The next ``event: incident`` message (heartbeats skipped): (id, data)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        message = await next_message(content, max(remaining, 0.01))
        if message.get("event") == "incident":
            return int(message["id"]), json.loads(message["data"])


async def open_feed(client: AsyncClient, *, token: str | None = None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.get(FEED, headers=headers)
    assert response.status_code == 200, response.content
    opening = await next_message(response.streaming_content)
    assert opening["retry"] == str(feed.RETRY_MS)
    return response, opening


stream_test = pytest.mark.django_db(transaction=True)


@stream_test
def test_the_feed_refuses_anyone_not_logged_in_or_without_territory(seeded_taxonomy, cast):
    nobody = token_create(username=cast.nobody.username)

    async def scenario():
        client = AsyncClient()
        return [await client.get(FEED),
                await client.get(FEED, headers={"Authorization": "Bearer sz_wrong"}),
                await client.get(FEED, headers={"Authorization": f"Bearer {nobody}"}),
                await client.post(FEED)]

    anonymous, wrong_token, no_territory, post = asyncio.run(scenario())
    assert anonymous.status_code == wrong_token.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Bearer"
    assert no_territory.status_code == 403
    assert post.status_code == 405


@stream_test
def test_a_cursor_that_is_no_timeline_id_is_refused(seeded_taxonomy, cast):
    token = token_create(username=cast.town_operator.username)

    async def scenario():
        client = AsyncClient()
        auth = {"Authorization": f"Bearer {token}"}
        return [await client.get(FEED + "?after=abc", headers=auth),
                await client.get(FEED, headers={**auth, "Last-Event-ID": "-1"})]

    for response in asyncio.run(scenario()):
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "after"


@stream_test
def test_a_new_report_is_pushed_at_once_uncompressed_and_only_to_its_territory(
        seeded_taxonomy, cast, monkeypatch):
    monkeypatch.setattr(feed, "POLL", 60.0)  # only the wake-up can bring it in time
    west = token_create(username=cast.town_operator.username)
    east = token_create(username=cast.east_operator.username)

    async def scenario():
        client = AsyncClient()
        west_feed, _ = await open_feed(client, token=west, **{"Accept-Encoding": "gzip"})
        east_feed, _ = await open_feed(client, token=east)
        incident = await in_thread(lambda: report(cast))
        west_event = await next_event(west_feed.streaming_content, timeout=3)
        theirs = await in_thread(lambda: east_report(cast))
        east_event = await next_event(east_feed.streaming_content, timeout=3)
        for response in (west_feed, east_feed):
            await response.streaming_content.aclose()
        return west_feed, incident, west_event, theirs, east_event

    response, incident, (event_id, event), theirs, (_, east_event) = asyncio.run(scenario())
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert not response.has_header("Content-Encoding")
    entry = TimelineEntry.objects.get(incident=incident)
    assert (event_id, event["id"], event["incident"]["number"]) == (
        entry.pk, entry.pk, incident.number)
    # the east operator's first event is their own incident, not the west one
    assert east_event["incident"]["number"] == theirs.number


@stream_test
def test_the_session_of_the_pages_opens_the_feed_too(seeded_taxonomy, cast):
    client = AsyncClient()
    client.force_login(cast.west_operator)

    async def scenario():
        response, _ = await open_feed(client)
        incident = await in_thread(lambda: report(cast))
        _, event = await next_event(response.streaming_content)
        await response.streaming_content.aclose()
        return incident, event

    incident, event = asyncio.run(scenario())
    assert event["incident"]["number"] == incident.number


@stream_test
def test_a_reconnect_with_last_event_id_gets_exactly_what_it_missed(seeded_taxonomy, cast):
    token = token_create(username=cast.town_operator.username)

    async def scenario():
        client = AsyncClient()
        response, _ = await open_feed(client, token=token)
        first = await in_thread(lambda: report(cast))
        last_id, _ = await next_event(response.streaming_content)
        await response.streaming_content.aclose()
        # while away: two west events and one east one
        second = await in_thread(lambda: report(cast))
        await in_thread(lambda: step(cast, first, "accept"))
        await in_thread(lambda: east_report(cast))
        response, opening = await open_feed(client, token=token,
                                            **{"Last-Event-ID": str(last_id)})
        missed = [await next_event(response.streaming_content) for _ in range(2)]
        await in_thread(lambda: step(cast, second, "accept"))  # and live again
        live = await next_event(response.streaming_content)
        await response.streaming_content.aclose()
        return first, second, last_id, opening, missed, live

    first, second, last_id, opening, missed, live = asyncio.run(scenario())
    assert opening["id"] == str(last_id)
    assert [(e["incident"]["number"], e["action"]) for _, e in missed] == [
        (second.number, "report"), (first.number, "accept")]
    assert (live[1]["incident"]["number"], live[1]["action"]) == (second.number, "accept")
    ids = [i for i, _ in missed] + [live[0]]
    assert ids == sorted(ids) and ids[0] > last_id


@stream_test
def test_without_a_wake_up_the_stream_still_polls(seeded_taxonomy, cast, monkeypatch):
    monkeypatch.setattr(feed, "POLL", 0.3)
    token = token_create(username=cast.town_operator.username)
    incident = report(cast)

    async def scenario():
        response, _ = await open_feed(AsyncClient(), token=token)
        row = await in_thread(lambda: put_row(incident))  # no signal: no wake-up
        got = await next_event(response.streaming_content, timeout=3)
        await response.streaming_content.aclose()
        return row, got

    row, (event_id, event) = asyncio.run(scenario())
    assert event_id == event["id"] == row.pk


@stream_test
def test_a_quiet_stream_sends_heartbeats_that_move_its_id_past_what_it_may_not_see(
        seeded_taxonomy, cast, monkeypatch):
    monkeypatch.setattr(feed, "POLL", 0.1)
    monkeypatch.setattr(feed, "HEARTBEAT", 0.3)
    monkeypatch.setattr(feed, "GRACE", 0.5)  # ids skipped by earlier tests: holes a while
    token = token_create(username=cast.east_operator.username)

    async def scenario():
        response, opening = await open_feed(AsyncClient(), token=token)
        await in_thread(lambda: report(cast))  # a west incident: not for the east
        await asyncio.sleep(0.5)
        ping = await next_message(response.streaming_content)
        while ping["id"] == opening["id"]:  # the first ping may come before the read
            ping = await next_message(response.streaming_content)
        await response.streaming_content.aclose()
        return opening, ping

    opening, ping = asyncio.run(scenario())
    assert ping["comments"] == ["ping"] and "event" not in ping
    assert int(ping["id"]) == feed_cursor() > int(opening["id"])


@stream_test
def test_an_idle_stream_holds_no_database_connection(seeded_taxonomy, cast):
    token = token_create(username=cast.town_operator.username)
    opened = []

    def record(sender, connection, **kwargs):
        opened.append(connection)

    async def scenario():
        response, _ = await open_feed(AsyncClient(), token=token)
        await in_thread(lambda: report(cast))
        await next_event(response.streaming_content)
        await asyncio.sleep(0.3)  # waiting for the next wake-up
        still_open = [c for c in opened if c.connection is not None]
        await response.streaming_content.aclose()
        return still_open

    connection_created.connect(record)
    try:
        assert opened == [] and asyncio.run(scenario()) == []
    finally:
        connection_created.disconnect(record)
    assert opened  # the stream did use the database


@stream_test
def test_a_stream_ends_after_its_lifetime_and_the_browser_comes_back(
        seeded_taxonomy, cast, monkeypatch):
    monkeypatch.setattr(feed, "LIFETIME", 0.3)
    monkeypatch.setattr(feed, "POLL", 0.1)
    token = token_create(username=cast.town_operator.username)

    async def scenario():
        response, _ = await open_feed(AsyncClient(), token=token)
        rest = [chunk async for chunk in response.streaming_content]
        return rest

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == []


@stream_test
def test_under_wsgi_the_feed_answers_what_is_there_and_closes(seeded_taxonomy, cast):
    token = token_create(username=cast.town_operator.username)
    start = feed_cursor()
    incident = report(cast)
    response = Client().get(f"{FEED}?after={start}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    opening, message = (parse(part.encode()) for part in
                        response.content.decode().strip().split("\n\n"))
    assert (opening["retry"], opening["id"]) == (str(feed.RETRY_MS), str(start))
    assert message["event"] == "incident"
    assert json.loads(message["data"])["incident"]["number"] == incident.number


# ---------------------------------------------------------------- a real server, two processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (f"postgresql://{quote(db['USER'] or '', safe='')}{password}@"
            f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}")


class Server:
    """``shanzhi serve --workers 2`` on the test database, as a subprocess."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.log = tmp_path / "server.log"
        env = {**os.environ, "SHANZHI_DATABASE_URL": database_url(),
               "SHANZHI_DATA_DIR": str(tmp_path / "data"), "SHANZHI_LOG_LEVEL": "WARNING"}
        command = shutil.which("shanzhi", path=str(Path(sys.executable).parent)) or "shanzhi"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [command, "serve", "--workers", "2", "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server stopped:\n{self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"the server did not start:\n{self.log.read_text()}")

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Stream:
    """An SSE stream read line by line."""

    def __init__(self, server: Server, token: str) -> None:
        self.http = server.connect()
        self.http.request("GET", FEED, headers={"Authorization": f"Bearer {token}",
                                                "Accept": "text/event-stream"})
        self.response = self.http.getresponse()
        assert self.response.status == 200, self.response.read()

    def next_event(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        message: dict = {}
        while True:
            self.http.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            line = self.response.readline().decode().rstrip("\n")
            if line:
                name, _, value = line.partition(":")
                message[name] = value.removeprefix(" ")
            elif message.get("event") == "incident":
                return json.loads(message["data"])
            else:
                message = {}

    def close(self) -> None:
        self.http.close()


def listeners() -> list[int]:
    """Backend pids of the servers' LISTEN connections."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND application_name = %s AND query LIKE 'LISTEN%%'",
                       [events.APPLICATION_NAME])
        return sorted(pid for (pid,) in cursor.fetchall())


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="several server processes need PostgreSQL (SHANZHI_DATABASE_URL)")
def test_two_server_processes_push_an_event_written_anywhere(seeded_taxonomy, cast, tmp_path):
    west = token_create(username=cast.town_operator.username)
    east = token_create(username=cast.east_operator.username)
    reporter = token_create(username=cast.worker.username)
    server = Server(tmp_path)
    streams: list[Stream] = []
    try:
        west_stream, east_stream = Stream(server, west), Stream(server, east)
        streams += [west_stream, east_stream]
        # an incident reported through the API, in a request of its own
        api = server.connect()
        api.request("POST", "/api/v1/incidents", json.dumps({
            "channel": "grid_patrol", "description": "路边有暴露垃圾", "category": "SJ0102",
            "lng": 120.005, "lat": 31.015}), headers={
            "Authorization": f"Bearer {reporter}", "Content-Type": "application/json"})
        created = api.getresponse()
        assert created.status == 201, created.read()
        number = json.loads(created.read())["number"]
        api.close()
        event = west_stream.next_event(timeout=4)
        assert (event["incident"]["number"], event["action"]) == (number, "report")
        # an action written by this process, which serves nobody
        incident = Incident.objects.get(number=number)
        services.incident_accept(actor=cast.town_operator, incident=incident)
        event = west_stream.next_event(timeout=4)
        assert (event["incident"]["number"], event["action"]) == (number, "accept")
        # the database drops the LISTEN connections: they come back, and so do the events
        before = listeners()
        assert before, "no LISTEN connection"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid",
                           [before])
        deadline = time.monotonic() + 10
        while not (listeners() and set(listeners()).isdisjoint(before)):
            assert time.monotonic() < deadline, "the LISTEN connections did not come back"
            time.sleep(0.2)
        theirs = east_report(cast)
        event = east_stream.next_event(timeout=4)  # the west events never reached it
        assert (event["incident"]["number"], event["action"]) == (theirs.number, "report")
        step(cast, Incident.objects.get(number=number), "dispatch")
        event = west_stream.next_event(timeout=4)
        assert (event["incident"]["number"], event["action"]) == (number, "dispatch")
    finally:
        for stream in streams:
            stream.close()
        server.stop()
