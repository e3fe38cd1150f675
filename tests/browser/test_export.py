"""The Excel export downloaded by a real browser from the server that runs in
production (uvicorn, ASGI: the export is an async stream there). Django's own
gzip made a gzip member of every chunk and Chromium kept the first: 1,503
incidents arrived as 85,742 of 251,116 bytes. The test live server is WSGI,
where the export is a plain iterator and the defect does not show; so this
module serves the ASGI application itself, as ``shanzhi serve`` does."""

from __future__ import annotations

import socket
import threading
import time

import openpyxl
import pytest

from shanzhi.incidents.models import Incident
from tests.browser.test_desk import sign_in
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import report

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar

INCIDENTS = 1_500


@pytest.fixture
def asgi_server(transactional_db, live_server):
    """``shanzhi.asgi.application`` under uvicorn in a thread of this process
    (the test database is a file, shared with the test); its base URL. The
    live server is asked for only so that static files are collected alike."""
    import uvicorn

    from shanzhi.asgi import OneHopASGIHandler

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(OneHopASGIHandler(), host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


def many_incidents(cast, count: int) -> set[str]:
    """``count`` west incidents: one reported through the service, the rest
    its copies written in bulk (as benchmarks/intake.py does); their numbers."""
    first = report(cast, address="西街1号")
    row = Incident.objects.filter(pk=first.pk).values().get()
    Incident.objects.bulk_create(
        [Incident(**{**row, "id": None, "number": f"{first.number}-{n:04d}"})
         for n in range(1, count)], batch_size=500)
    return set(Incident.objects.values_list("number", flat=True))


def test_an_operator_downloads_every_row_of_a_large_export_in_chromium(
        new_page, asgi_server, cast, tmp_path):
    numbers = many_incidents(cast, INCIDENTS)
    assert len(numbers) == INCIDENTS
    page = new_page()
    sign_in(page, asgi_server, cast.town_operator.username)
    page.goto(f"{asgi_server}/incidents/")
    with page.expect_download() as download:
        page.click("#export-link")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert download.value.failure() is None
    assert saved.name.endswith(".xlsx")
    sheet = openpyxl.load_workbook(saved, read_only=True).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == INCIDENTS
    assert {row[0] for row in rows} == numbers
    assert not page.errors
