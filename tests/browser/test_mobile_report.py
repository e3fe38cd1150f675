"""网格通's report on a phone (390×844, touch, the position granted): the
worker chooses a category, types, takes a photo through the file input and
sends; the incident is in the database once, in the worker's grid, with the
photo resized on the phone. Then without network: two reports wait in the
outbox and arrive exactly once each when the network returns. Screenshots
go to SCREENSHOTS/mobile/."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from shanzhi.incidents.models import Attachment, Incident
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_mobile_manager import (
    FLUSH,
    fits,
    phone,
    shoot,
    sign_in_to_the_app,
)
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import WEST_POINT

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar


def a_photo(tmp_path, size=(2400, 1800)):
    path = tmp_path / "photo.jpg"
    image = Image.new("RGB", size, (90, 140, 60))
    image.save(path, "JPEG", quality=80)
    return path


def wait_until(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def fill_report(page, text: str, photo=None) -> None:
    page.fill('[data-r="cat-search"]', "暴露垃圾")
    page.click('[data-r="cat-list"] button[data-code="SJ0102"]')
    page.fill("#r-description", text)
    if photo is not None:
        page.set_input_files("#r-photos", str(photo))
    page.wait_for_function(
        "document.querySelector('[data-r=\"lng\"]').value !== ''")


def test_a_worker_reports_with_a_photo_and_offline_reports_arrive_once(browser, live_server,
                                                                      cast, tmp_path):
    context, page = phone(browser)
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_geolocation({"longitude": WEST_POINT["lng"], "latitude": WEST_POINT["lat"],
                             "accuracy": 12})
    base = live_server.url
    sign_in_to_the_app(page, base, cast.worker.username)
    shots = SCREENSHOTS / "mobile"
    shots.mkdir(parents=True, exist_ok=True)
    page.wait_for_function("document.querySelector('.m-map svg path.grid') !== null")
    fits(page)
    page.screenshot(path=str(shots / "home.png"))

    page.goto(f"{base}/m/report/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    fill_report(page, "西街1号门口暴露垃圾，已堆放两天", a_photo(tmp_path))
    page.wait_for_function("document.querySelector('[data-r=\"where\"] .m-notice-ok') !== null")
    assert "± 12 米" in page.inner_text('[data-r="pos"]')
    fits(page)
    shoot(page, shots / "report.png")
    page.click("#report-form button[type=submit]")
    page.wait_for_url(f"{base}/m/incidents/SJ*/")
    incident = Incident.objects.get(description="西街1号门口暴露垃圾，已堆放两天")
    assert incident.reporter == cast.worker and incident.grid == cast.worker.grid_worker.grids.get()
    assert incident.channel == "grid_patrol" and incident.category.code == "SJ0102"
    photo = Attachment.objects.get(incident=incident)
    with photo.file.open("rb") as f:
        assert max(Image.open(io.BytesIO(f.read())).size) <= 1600
    fits(page)
    shoot(page, shots / "incident.png")

    # without network: both reports wait in the outbox, none is lost, none doubled
    page.goto(f"{base}/m/report/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    for text in ("离线上报一：路灯不亮", "离线上报二：井盖缺失"):
        fill_report(page, text)
        page.click("#report-form button[type=submit]")
        page.wait_for_function("document.querySelector('[data-outbox-status]')"
                               ".classList.contains('is-queued')")
    page.goto(f"{base}/m/outbox/")  # from the service worker's cache
    # the page tries to send at once: both pass through "sending" back to "waiting"
    page.wait_for_function(
        "document.querySelectorAll('[data-outbox-list] li[data-state=\"waiting\"]').length === 2")
    assert page.locator('[data-outbox-list] li').count() == 3
    fits(page)
    shoot(page, shots / "outbox.png")
    assert not Incident.objects.filter(description__startswith="离线上报").exists()

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert wait_until(lambda: Incident.objects.filter(description__startswith="离线上报")
                      .count() == 2)
    page.evaluate(FLUSH)  # once more: nothing is sent twice
    time.sleep(1)
    assert Incident.objects.filter(description__startswith="离线上报").count() == 2
    page.wait_for_function(
        "document.querySelectorAll('[data-outbox-list] li[data-state=\"sent\"]').length === 3")
    assert page.errors == []
    context.close()
