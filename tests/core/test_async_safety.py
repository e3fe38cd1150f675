"""Django's async-safety check stays on for every test but the browser ones.

A blocking ORM call made from inside a running event loop (an ``async`` view
or stream that forgot ``sync_to_async``) must fail in the tests as it would
stall a worker in production. The browser tests switch the check off for as
long as Playwright's event loop runs (``tests/browser/conftest.py``); they run
last, so this test, collected in the same session with them, fails if that
switch leaks — e.g. an ``os.environ[...]`` set when their conftest is imported.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from django.core.exceptions import SynchronousOnlyOperation

from shanzhi.accounts.models import User


def test_the_async_unsafe_escape_hatch_is_not_set():
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ


@pytest.mark.django_db
def test_an_orm_call_inside_a_running_event_loop_is_refused():
    async def count_users() -> int:
        return User.objects.count()

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(count_users())
