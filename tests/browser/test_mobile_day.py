"""A grid worker's day on the phone (390×844, touch, the position granted and
moved as they walk): start a patrol and check in, report with a photo; then
without network report twice, resolve a case on the spot with a photo, walk
on and end the patrol; back online, everything arrives exactly once — the
three reports, the resolution, the whole track, the check-in and the end of
the patrol — checked in the database. Screenshots: SCREENSHOTS/mobile/patrol.png and tasks.png."""

from __future__ import annotations

import time

import pytest

from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Attachment, Incident, TimelineEntry
from shanzhi.patrols.models import CheckIn, Patrol
from shanzhi.web.mobile import worker
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_mobile_manager import (
    FLUSH,
    fits,
    phone,
    shoot,
    sign_in_to_the_app,
)
from tests.browser.test_mobile_report import a_photo, fill_report, wait_until
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import WEST_POINT, incident_in, report

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar

#: A walk inside west grid 001 (120.00–120.01, 31.01–31.02), about 150 m a step.
WALK = [(120.0050, 31.0150), (120.0062, 31.0158), (120.0075, 31.0166),
        (120.0085, 31.0175), (120.0090, 31.0185), (120.0080, 31.0192)]


def walk_to(context, page, lng: float, lat: float) -> None:
    context.set_geolocation({"longitude": lng, "latitude": lat, "accuracy": 8})
    page.wait_for_function(f"document.getElementById('patrol').dataset.lng === '{lng}'")
    time.sleep(1.1)  # the page keeps one position a second here (PATROL_EVERY_S)


def submit_and_wait(page, form: str, state: str) -> None:
    page.click(f"{form} button[type=submit]")
    page.wait_for_function(f"document.querySelector('{form} [data-outbox-status]')"
                           f".classList.contains('is-{state}')")


def test_a_worker_s_day_with_and_without_network(browser, live_server, cast, tmp_path,
                                                 monkeypatch):
    monkeypatch.setattr(worker, "PATROL_EVERY_S", 1)
    on_the_spot = report(cast, description="西街1号墙上小广告", **WEST_POINT)
    assert on_the_spot.state == wf.REPORTED
    incident_in(cast, wf.HANDLED, description="西街2号路灯已修复，待核查")  # a task to verify
    context, page = phone(browser)
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_geolocation({"longitude": WALK[0][0], "latitude": WALK[0][1], "accuracy": 8})
    base = live_server.url
    shots = SCREENSHOTS / "mobile"
    shots.mkdir(parents=True, exist_ok=True)
    sign_in_to_the_app(page, base, cast.worker.username)

    # the patrol starts, and the worker checks in at the first stop
    page.goto(f"{base}/m/patrol/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    page.click('[data-p="start"]')
    assert wait_until(lambda: Patrol.objects.filter(worker=cast.worker).exists())
    for lng, lat in WALK[1:3]:
        walk_to(context, page, lng, lat)
    page.fill("#c-note", "西街1号门口，店主已提醒")
    page.set_input_files("#c-photos", str(a_photo(tmp_path, (1200, 900))))
    page.click("#checkin-form button[type=submit]")
    assert wait_until(lambda: CheckIn.objects.filter(patrol__worker=cast.worker).exists())
    fits(page)
    shoot(page, shots / "patrol.png")

    # a report with a photo, online
    page.goto(f"{base}/m/report/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    fill_report(page, "西街3号暴露垃圾", a_photo(tmp_path))
    page.click("#report-form button[type=submit]")
    page.wait_for_url(f"{base}/m/incidents/SJ*/")

    # the case to resolve on the spot is in the task list; its page opened online
    page.goto(f"{base}/m/")
    page.wait_for_selector('.m-map svg path.grid')
    fits(page)
    shoot(page, shots / "tasks.png")
    page.click(f'a[href="/m/incidents/{on_the_spot.number}/"]')
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_selector('details[data-action="self_resolve"]')

    # no network from here
    context.set_offline(True)
    resolve = page.locator('details[data-action="self_resolve"]')
    if resolve.get_attribute("open") is None:
        resolve.locator("summary").click()
    page.fill("#self_resolve-result", "已当场清除小广告")
    page.set_input_files("#self_resolve-photos", str(a_photo(tmp_path, (1600, 1200))))
    submit_and_wait(page, 'details[data-action="self_resolve"] form', "queued")
    page.goto(f"{base}/m/report/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    for text in ("离线上报一：路灯不亮", "离线上报二：井盖缺失"):
        fill_report(page, text)
        submit_and_wait(page, "#report-form", "queued")
    page.goto(f"{base}/m/patrol/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    for lng, lat in WALK[3:]:
        walk_to(context, page, lng, lat)
    with page.expect_navigation():  # the page reloads once the stop is in the outbox
        page.click('[data-p="stop"]')
    page.wait_for_function("document.body.dataset.ready === '1'")
    assert page.locator('[data-p="start"]').is_visible()
    page.goto(f"{base}/m/outbox/")
    page.wait_for_function(
        "document.querySelectorAll('[data-outbox-list] li[data-state=\"waiting\"]').length >= 5")
    fits(page)
    assert not Incident.objects.filter(description__startswith="离线上报").exists()
    assert Incident.objects.get(pk=on_the_spot.pk).state == wf.REPORTED
    assert Patrol.objects.get(worker=cast.worker).ended_at is None

    # the network returns: everything arrives, once
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert wait_until(lambda: Patrol.objects.get(worker=cast.worker).ended_at is not None)
    page.evaluate(FLUSH)  # once more: nothing is sent twice
    page.wait_for_function("document.querySelectorAll("
                           "'[data-outbox-list] li:not([data-state=\"sent\"])').length === 0")
    for text in ("西街3号暴露垃圾", "离线上报一：路灯不亮", "离线上报二：井盖缺失"):
        assert Incident.objects.filter(description=text, reporter=cast.worker).count() == 1
    resolved = Incident.objects.get(pk=on_the_spot.pk)
    assert resolved.state == wf.CLOSED
    assert TimelineEntry.objects.filter(incident=resolved, action="self_resolve").count() == 1
    assert Attachment.objects.filter(incident=resolved).count() == 1
    patrol = Patrol.objects.get(worker=cast.worker)
    walked = [(round(lng, 4), round(lat, 4)) for _at, lng, lat, _acc in patrol.track]
    assert set(WALK[1:]) <= set(walked), walked  # every stop of the walk, online and offline
    assert len(walked) == len(set(patrol.track[i][0] for i in range(len(walked))))
    assert patrol.distance_m > 400 and patrol.grid == cast.worker.grid_worker.grids.get()
    assert CheckIn.objects.filter(patrol=patrol).count() == 1
    assert page.errors == []
    context.close()
