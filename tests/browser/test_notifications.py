"""The notifications page in a real browser: the operator's notifications
with the unread ones marked and the count on the menu, marking one and then
all read through the page's forms (no script), and an error page; both
saved as screenshots (notifications.png, error-404.png)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from shanzhi.cases.models import Notification
from shanzhi.incidents import workflow as wf
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import incident_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar

TEXTS = ["事件 {n} 已派遣至虎丘区住建局", "事件 {n} 即将超期，请尽快处置",
         "事件 {n} 已被退回：不属于本部门职责", "事件 {n} 已处置，待核查",
         "事件 {n} 已超期 2 小时"]


def sign_in(page, base: str, user, next_url: str) -> None:
    page.goto(f"{base}/login/?next={next_url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(1910, 1070)
    page.wait_for_timeout(300)
    page.screenshot(path=SCREENSHOTS / name)


def test_the_operator_reads_and_marks_the_notifications(new_page, live_server, cast):
    incident = incident_in(cast, wf.REGISTERED)
    now = timezone.now()
    for i, text in enumerate(TEXTS):
        Notification.objects.create(
            user=cast.west_operator, case_type="incident", case_id=incident.pk,
            number=incident.number, kind="test",
            message=text.format(n=incident.number), created_at=now - dt.timedelta(minutes=7 * i),
            read_at=now if i >= 3 else None)
    Notification.objects.create(user=cast.east_operator, case_type="incident",
                                case_id=incident.pk, number=incident.number, kind="test",
                                message="别人的通知")
    page = new_page()
    base = live_server.url
    sign_in(page, base, cast.west_operator, "/notifications/")
    assert page.locator(".notes-list li").count() == 5
    assert page.locator(".notes-list li.unread").count() == 3
    assert page.locator(".topnav a[data-menu='notifications'] .menu-badge").inner_text() == "3"
    assert "别人的通知" not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "notifications.png")

    page.locator(".notes-list li.unread").first.locator("button").click()
    page.wait_for_url(f"{base}/notifications/?page=1")
    assert page.locator(".notes-list li.unread").count() == 2
    assert page.locator(".menu-badge").inner_text() == "2"

    page.click("form[data-action='read-all'] button")
    page.wait_for_load_state()
    assert page.locator(".notes-list li.unread").count() == 0
    assert page.locator(".menu-badge").count() == 0
    assert "已将 2 条通知标为已读。" in page.locator(".flash-success").inner_text()

    page.click(".notes-list li >> nth=0 >> a.note-text")
    page.wait_for_url(f"{base}/incidents/{incident.number}/")

    response = page.goto(f"{base}/incidents/SJ20990101000001/")
    assert response.status == 404
    assert "页面不存在" in page.locator("main").inner_text()
    shot(page, "error-404.png")
    assert not page.errors


def test_the_command_centre_s_demo_banner_follows_the_build_and_goes_away(
        new_page, live_server, cast, settings, tmp_path):
    from shanzhi.demo.progress import clear_progress, record_progress

    settings.DATA_DIR = tmp_path
    started = timezone.now() - dt.timedelta(minutes=3)
    record_progress(made=12_345, total=50_000, started_at=started)
    page = new_page()
    sign_in(page, live_server.url, cast.west_operator, "/command/")
    banner = page.locator("#demo-banner")
    assert re.search(r"已生成 12,345 / 50,000 起事件，预计还需 (9|10) 分钟", banner.inner_text())
    record_progress(made=25_000, total=50_000, started_at=started)
    page.wait_for_function("document.getElementById('demo-banner').textContent"
                           ".includes('25,000 / 50,000')", timeout=15_000)
    clear_progress()
    page.wait_for_function("document.getElementById('demo-banner').hidden", timeout=15_000)
    assert not page.errors
