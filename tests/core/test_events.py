"""core.events: a publish reaches the subscribers when its transaction
commits — in this process on SQLite, through NOTIFY and the process's LISTEN
task on PostgreSQL (the database in the settings decides) — and a publish
rolled back reaches no one."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections, transaction

from shanzhi.core import events

pytestmark = pytest.mark.django_db(transaction=True)


async def in_thread(fn):
    """Run ``fn`` as a request would: in a worker thread, with a connection of its own."""
    def run():
        try:
            return fn()
        finally:
            connections.close_all()
    return await sync_to_async(run, thread_sensitive=False)()


def publish_committed(channel: str, payload: str):
    def write():
        with transaction.atomic():
            events.publish(channel, payload)
    return write


class RolledBack(Exception):
    pass


def test_a_committed_publish_reaches_a_subscriber_waiting_on_the_loop():
    # on PostgreSQL the only way there is NOTIFY → the LISTEN connection → the hub
    async def scenario():
        async with events.subscribe("shanzhi_test") as wakeups:
            await in_thread(publish_committed("shanzhi_test", "42"))
            return await wakeups.wait(timeout=5)

    assert asyncio.run(scenario()) == ["42"]


def test_nothing_leaves_before_the_commit():
    opened, release = threading.Event(), threading.Event()

    def write():
        with transaction.atomic():
            events.publish("shanzhi_test", "early")
            opened.set()
            release.wait(10)

    async def scenario():
        async with events.subscribe("shanzhi_test") as wakeups:
            writing = asyncio.ensure_future(in_thread(write))
            await in_thread(lambda: opened.wait(10))
            before_commit = await wakeups.wait(timeout=0.5)
            release.set()
            await writing
            return before_commit, await wakeups.wait(timeout=5)

    assert asyncio.run(scenario()) == ([], ["early"])


def test_a_rolled_back_publish_reaches_no_one():
    def write_and_fail():
        with pytest.raises(RolledBack), transaction.atomic():
            events.publish("shanzhi_test", "rolled back")
            raise RolledBack

    async def scenario():
        async with events.subscribe("shanzhi_test") as wakeups:
            await in_thread(write_and_fail)
            await in_thread(publish_committed("shanzhi_test", "after"))
            return await wakeups.wait(timeout=5)

    # both backends deliver in commit order: had the first come, it would be here
    assert asyncio.run(scenario()) == ["after"]


def test_every_subscriber_of_a_channel_gets_its_payloads_and_no_other_channels():
    async def scenario():
        async with (events.subscribe("shanzhi_test_a") as first,
                    events.subscribe("shanzhi_test_a") as second,
                    events.subscribe("shanzhi_test_b") as other):
            await in_thread(publish_committed("shanzhi_test_a", "1"))
            await in_thread(publish_committed("shanzhi_test_b", "2"))
            await in_thread(publish_committed("shanzhi_test_a", "3"))
            got = []
            for wakeups, count in ((first, 2), (second, 2), (other, 1)):
                payloads: list[str] = []
                while len(payloads) < count:
                    payloads += await wakeups.wait(timeout=5) or ["timed out"]
                got.append(payloads)
            return got

    assert asyncio.run(scenario()) == [["1", "3"], ["1", "3"], ["2"]]


def test_a_subscriber_that_left_is_no_longer_woken():
    async def scenario():
        async with events.subscribe("shanzhi_test") as wakeups:
            pass
        await in_thread(publish_committed("shanzhi_test", "late"))
        await asyncio.sleep(0.5)
        return await wakeups.wait(timeout=0)

    assert asyncio.run(scenario()) == []


def test_a_subscriber_waits_no_longer_than_its_timeout():
    async def scenario():
        async with events.subscribe("shanzhi_test") as wakeups:
            loop = asyncio.get_running_loop()
            started = loop.time()
            payloads = await wakeups.wait(timeout=0.3)
            return payloads, loop.time() - started

    payloads, waited = asyncio.run(scenario())
    assert payloads == []
    assert 0.25 <= waited < 2


def test_the_backend_follows_the_database():
    async def scenario():
        async with events.subscribe("shanzhi_test"):
            return {lp: listener for lp, listener in events.hub._listeners.items()
                    if not lp.is_closed()}

    live = asyncio.run(scenario())
    if connection.vendor == "postgresql":
        assert len(live) == 1  # one LISTEN task for the loop
    else:
        assert live == {}  # in-process: no connection held
