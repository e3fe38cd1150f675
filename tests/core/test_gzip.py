"""Our gzip (core/middleware.py): an async stream is ONE gzip member, flushed
chunk by chunk, so a client that decodes one member (Chromium) gets it all and
each event of a live stream still arrives at once; a body that is compressed
already (an xlsx is a zip) is sent as it is."""

from __future__ import annotations

import asyncio
import gzip
import io
import zlib

import openpyxl
import pytest
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.test import Client, RequestFactory

from shanzhi.asgi import OneHopASGIHandler
from shanzhi.core.middleware import GZipMiddleware
from tests.core.test_asgi import get
from tests.incidents.conftest import cast, desk, report, seeded_taxonomy  # noqa: F401

CHUNKS = [f"event: incident\ndata: {{\"n\": {n}, \"text\": \"{'路' * 300}\"}}\n\n".encode()
          for n in range(40)]


async def chunks_of(items: list[bytes]):
    for item in items:
        await asyncio.sleep(0)
        yield item


def streamed(middleware_class, content_type: str = "text/event-stream; charset=utf-8",
             accept: str = "gzip, deflate, br"):
    request = RequestFactory().get("/stream", headers={"Accept-Encoding": accept})
    response = StreamingHttpResponse(chunks_of(CHUNKS), content_type=content_type)
    return middleware_class(lambda r: response)(request)


def parts_of(response) -> list[bytes]:
    async def read():
        return [part async for part in response.streaming_content]
    return asyncio.run(read())


def as_one_member(body: bytes) -> tuple[bytes, bytes]:
    """What a decoder of one gzip member gets (Chromium), and what it leaves unread."""
    decoder = zlib.decompressobj(wbits=31)
    return decoder.decompress(body) + decoder.flush(), decoder.unused_data


def test_an_async_stream_is_one_gzip_member_a_browser_reads_to_the_end():
    response = streamed(GZipMiddleware)
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    body = b"".join(parts_of(response))
    decoded, unread = as_one_member(body)
    assert decoded == b"".join(CHUNKS)
    assert unread == b""
    # gzip.decompress joins members: it agrees, and shows there was one
    assert gzip.decompress(body) == decoded
    assert len(body) < len(decoded) / 4


def test_djangos_gzip_makes_a_member_per_chunk_of_which_a_browser_reads_the_first():
    """Why ours exists: this is the export cut short in Chromium."""
    body = b"".join(parts_of(streamed(DjangoGZipMiddleware)))
    decoded, unread = as_one_member(body)
    assert gzip.decompress(body) == b"".join(CHUNKS)
    assert decoded == CHUNKS[0]
    assert unread != b""


def test_each_chunk_of_a_stream_can_be_decoded_as_soon_as_it_arrives():
    """A live feed keeps streaming event by event: nothing waits in the compressor."""
    decoder = zlib.decompressobj(wbits=31)
    parts = parts_of(streamed(GZipMiddleware))
    *events, trailer = parts  # the member's header comes with the first event
    for part, chunk in zip(events, CHUNKS, strict=True):
        assert decoder.decompress(part) == chunk
    assert decoder.decompress(trailer) == b"" and decoder.eof and decoder.unused_data == b""


def test_each_stream_has_a_file_name_of_random_length_against_breach():
    bodies = [b"".join(parts_of(streamed(GZipMiddleware))) for _ in range(20)]
    assert all(gzip.decompress(body) == b"".join(CHUNKS) for body in bodies)
    assert len({len(body) for body in bodies}) > 1


def test_a_client_without_gzip_gets_the_stream_as_it_is():
    response = streamed(GZipMiddleware, accept="identity")
    assert not response.has_header("Content-Encoding")
    assert b"".join(parts_of(response)) == b"".join(CHUNKS)


@pytest.mark.parametrize("content_type", [
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/zip", "image/jpeg", "image/png", "application/gzip"])
def test_a_compressed_body_is_sent_as_it_is(content_type):
    response = streamed(GZipMiddleware, content_type=content_type)
    assert not response.has_header("Content-Encoding")
    assert b"".join(parts_of(response)) == b"".join(CHUNKS)
    request = RequestFactory().get("/photo", headers={"Accept-Encoding": "gzip"})
    whole = GZipMiddleware(lambda r: HttpResponse(b"x" * 5000, content_type=content_type))(
        request)
    assert not whole.has_header("Content-Encoding") and len(whole.content) == 5000


def test_pages_and_synchronous_streams_are_compressed_as_before():
    request = RequestFactory().get("/", headers={"Accept-Encoding": "gzip"})
    page = GZipMiddleware(lambda r: HttpResponse("<p>事件</p>" * 200))(request)
    assert page["Content-Encoding"] == "gzip"
    assert gzip.decompress(page.content) == ("<p>事件</p>" * 200).encode()
    stream = GZipMiddleware(lambda r: StreamingHttpResponse(iter(CHUNKS)))(request)
    assert stream["Content-Encoding"] == "gzip"
    assert as_one_member(b"".join(stream.streaming_content)) == (b"".join(CHUNKS), b"")


def test_the_settings_use_ours_in_place_of_djangos():
    assert "shanzhi.core.middleware.GZipMiddleware" in settings.MIDDLEWARE
    assert "django.middleware.gzip.GZipMiddleware" not in settings.MIDDLEWARE


@pytest.mark.django_db(transaction=True)
def test_the_excel_export_comes_whole_to_a_client_that_asks_for_gzip(
        seeded_taxonomy, cast):  # noqa: F811
    numbers = {report(cast).number for _ in range(3)}
    client = Client()
    client.force_login(cast.admin)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    status, headers, body = asyncio.run(get(
        OneHopASGIHandler(), "/incidents/export.xlsx",
        {"Cookie": cookie, "Accept-Encoding": "gzip, deflate, br, zstd"}))
    assert status == 200
    assert "content-encoding" not in headers
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} == numbers
