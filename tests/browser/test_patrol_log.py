"""The patrol log in a real browser: the community's operator finds the
day's patrols from the menu and opens one, whose track is drawn as an SVG,
under the strict CSP."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from shanzhi.patrols import services
from tests.browser.test_desk import sign_in
from tests.patrols import conftest as patrol_fixtures
from tests.patrols.conftest import WEST_001, new_id

pytestmark = pytest.mark.browser
MINUTE = dt.timedelta(minutes=1)
community_operator = patrol_fixtures.community_operator


def test_the_community_reads_a_patrol_and_its_track(new_page, live_server, transactional_db,
                                                    personas, community_operator):
    started = timezone.now().replace(microsecond=0) - 15 * MINUTE
    worker = personas.worker
    patrol, _ = services.patrol_start(actor=worker, id=new_id(), started_at=started, **WEST_001)
    services.patrol_points(actor=worker, patrol_id=patrol.pk, points=[
        {"at": started + i * 20 * dt.timedelta(seconds=1),
         "lng": 120.005 + 0.0001 * (i % 20) * (1 if i < 20 else -1) + (0.00195 if i >= 20 else 0),
         "lat": 31.015 + 0.00005 * i, "accuracy": 6} for i in range(1, 40)])
    services.patrol_checkin(actor=worker, patrol_id=patrol.pk, id=new_id(),
                            at=started + 5 * MINUTE, note="垃圾桶满溢", **WEST_001)
    services.patrol_stop(actor=worker, patrol_id=patrol.pk, ended_at=started + 14 * MINUTE)

    page = new_page()
    sign_in(page, live_server.url, community_operator.username)
    page.click('a[data-menu="patrols"]')
    page.goto(f"{live_server.url}/patrols/?day={timezone.localdate(started).isoformat()}")
    page.click(f'a[href="/patrols/{patrol.pk}/"]')
    page.wait_for_selector("svg.track polyline.track-line")
    assert page.locator(".track-checkin").count() == 1
    assert "垃圾桶满溢" in page.inner_text(".patrol-checkins")
    assert page.errors == []
