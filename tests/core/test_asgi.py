"""The ASGI application (shanzhi/asgi.py) runs the middleware and the view in
one hop to the thread of synchronous code, and still streams the live feed
from the event loop."""

from __future__ import annotations

import asyncio
import io
import zipfile

import pytest
from asgiref import sync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.test import Client

from shanzhi.accounts.services import token_create
from shanzhi.asgi import OneHopASGIHandler


def scope(path: str, headers: dict[str, str] | None = None) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "server": ("testserver", 80),
            "client": ("127.0.0.1", 5000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}


async def get(app, path: str, headers: dict[str, str] | None = None,
              *, stream: bool = False) -> tuple[int, dict, bytes]:
    """Status, headers and body (for a stream: its first chunk)."""
    talk = ApplicationCommunicator(app, scope(path, headers))
    await talk.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await talk.receive_output(10)
    body = b""
    while True:
        message = await talk.receive_output(10)
        body += message.get("body", b"")
        if stream or not message.get("more_body"):
            break
    if stream:
        await talk.send_input({"type": "http.disconnect"})
    await talk.wait(10)
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


def hops_of(handler_class, path: str, monkeypatch) -> tuple[int, int]:
    """(status, thread hops) of one request through a fresh handler."""
    hops = []
    real = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__name__", repr(self.func)))
        return await real(self, *args, **kwargs)

    app = handler_class()
    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    status, _, _ = asyncio.run(get(app, path))
    monkeypatch.setattr(sync.SyncToAsync, "__call__", real)
    return status, len(hops)


@pytest.mark.django_db(transaction=True)
def test_a_request_crosses_to_the_synchronous_thread_once_for_middleware_and_view(
        personas, monkeypatch):
    status, ours = hops_of(OneHopASGIHandler, "/login/", monkeypatch)
    assert status == 200
    _, django_s = hops_of(ASGIHandler, "/login/", monkeypatch)
    # the request_started receivers, the chain, the response's close
    assert ours <= 4 < 10 <= django_s


@pytest.mark.django_db(transaction=True)
def test_pages_static_files_and_the_api_answer_through_it(personas):
    app = OneHopASGIHandler()
    key = token_create(username="west_operator")

    async def scenario():
        return (await get(app, "/login/"), await get(app, "/static/vendor/htmx/htmx.min.js"),
                await get(app, "/api/v1/geo/territory", {"Authorization": f"Bearer {key}"}),
                await get(app, "/api/v1/geo/territory"))

    login, static, api, refused = asyncio.run(scenario())
    assert login[0] == 200 and "登录".encode() in login[2]
    assert static[0] == 200 and static[1]["content-type"].startswith("text/javascript")
    assert api[0] == 200 and b"320505" in api[2]
    assert refused[0] == 401


@pytest.mark.django_db(transaction=True)
def test_the_live_feed_streams_through_it(personas):
    app = OneHopASGIHandler()
    key = token_create(username="west_operator")
    status, headers, first = asyncio.run(
        get(app, "/api/v1/feed", {"Authorization": f"Bearer {key}"}, stream=True))
    assert status == 200
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert first.startswith(b"retry:")


@pytest.mark.django_db(transaction=True)
def test_a_streamed_excel_export_comes_through_whole(personas):
    client = Client()
    client.force_login(personas.west_operator)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    status, headers, body = asyncio.run(
        get(OneHopASGIHandler(), "/incidents/export.xlsx", {"Cookie": cookie}))
    assert status == 200
    assert headers["content-type"].startswith("application/vnd.openxmlformats")
    with zipfile.ZipFile(io.BytesIO(body)) as book:  # a whole workbook, central directory and all
        assert "xl/worksheets/sheet1.xml" in book.namelist()
