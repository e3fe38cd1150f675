"""管理通 on a phone (390×844, touch): the town's operator dispatches an
incident to the department routing suggests with one tap, and that
department's handler signs for it with one tap, then — on the phone incident
page — asks for more time and reports the result with a photo; each through
the real outbox (static/m/outbox.js: IndexedDB, Idempotency-Key, the incident
API), each checked in the database, each once. Nothing is wider than the
phone (nor at 360 px); screenshots go to SCREENSHOTS/mobile/manager.png and
handler.png."""

from __future__ import annotations

import time

import pytest

from shanzhi.accounts.models import Role
from shanzhi.accounts.services import user_create
from shanzhi.incidents import selectors, services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from shanzhi.incidents.routing import suggest_department
from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS
from tests.browser.test_desk import photo_png
from tests.browser.test_responsive import OVERFLOW
from tests.conftest import PASSWORD
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import ZHZF, incident_in, report

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar

PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}  # the narrowest phone the app is drawn for


def phone(browser):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=1,
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return context, page


def sign_in_to_the_app(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/?next=/m/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(f"{base}/m/")


def state_becomes(number: str, state: str, timeout: float = TIMEOUT_MS / 1000) -> Incident:
    deadline = time.monotonic() + timeout
    while True:
        incident = Incident.objects.get(number=number)
        if incident.state == state or time.monotonic() > deadline:
            return incident
        time.sleep(0.2)


#: One more round of the outbox, bounded (a page's evaluate has no timeout of its own).
FLUSH = ("Promise.race([window.shanzhiOutbox.flush(), "
         "new Promise((done) => setTimeout(done, 30000))])")


def shoot(page, path) -> None:
    """The phone's screen (390×844) from the top of the page, as a worker sees
    it first: the header and the tab bar where they belong."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))


def fits(page) -> None:
    seen = page.evaluate(OVERFLOW)
    assert seen["wide"] <= seen["width"] + 1, seen


def test_an_operator_dispatches_and_a_handler_signs_with_one_tap(browser, live_server, cast,
                                                               tmp_path):
    zhzf_handler = user_create(username="zhzf_handler", password=PASSWORD, role=Role.HANDLER,
                               department_code=ZHZF)
    to_dispatch = incident_in(cast, wf.REGISTERED, description="西街2号井盖缺失，行人易跌落")
    route = suggest_department(region=to_dispatch.region, category=to_dispatch.category,
                               rules=to_dispatch.rules)
    assert route.department is not None and route.department.code == ZHZF
    # more for the operator's lists: two to accept, one more to dispatch, an extension asked
    report(cast, description="路边有暴露垃圾，已堆放两天", address="西街1号门口")
    report(cast, description="小区门口共享单车乱停放，影响通行")
    incident_in(cast, wf.REGISTERED, description="西街3号路灯不亮")
    asking = incident_in(cast, wf.IN_PROGRESS, description="西街5号路面塌陷")
    services.incident_request_extension(actor=cast.handler, incident=asking,
                                        reason="需要等待沥青材料到场", amount=2)
    base = live_server.url
    (SCREENSHOTS / "mobile").mkdir(parents=True, exist_ok=True)

    context, operator = phone(browser)
    sign_in_to_the_app(operator, base, cast.town_operator.username)
    row = operator.locator(f"#waiting-dispatch li[data-number='{to_dispatch.number}']")
    button = row.locator("form[data-outbox] button[type=submit]")
    assert route.department.name in button.inner_text()
    assert operator.locator("#waiting-accept [data-count]").inner_text() == "2"
    fits(operator)
    shoot(operator, SCREENSHOTS / "mobile" / "manager.png")
    operator.set_viewport_size(NARROW)
    fits(operator)
    operator.set_viewport_size(PHONE)
    button.tap()
    dispatched = state_becomes(to_dispatch.number, wf.DISPATCHED)
    assert dispatched.state == wf.DISPATCHED and dispatched.department.code == ZHZF
    # the outbox reloads the page: the row is gone from 待派遣
    operator.wait_for_function(
        f"!document.querySelector(\"#waiting-dispatch li[data-number='{to_dispatch.number}']\")")
    assert operator.locator("#waiting-dispatch [data-count]").inner_text() == "1"
    operator.locator(".m-tab-todo").tap()  # 待办: the first list in full, the others as tabs
    operator.wait_for_url(f"{base}/m/waiting/accept/")
    assert operator.locator(".mg-tab").count() == 4
    fits(operator)
    shoot(operator, tmp_path / "list.png")
    assert operator.errors == []
    context.close()

    context, handler = phone(browser)
    sign_in_to_the_app(handler, base, zhzf_handler.username)
    row = handler.locator(f"#waiting-sign li[data-number='{to_dispatch.number}']")
    fits(handler)
    shoot(handler, SCREENSHOTS / "mobile" / "handler.png")
    row.locator("form[data-outbox] button[type=submit]").tap()
    signed = state_becomes(to_dispatch.number, wf.IN_PROGRESS)
    assert signed.state == wf.IN_PROGRESS
    handler.wait_for_function(
        f"!!document.querySelector(\"#waiting-handle li[data-number='{to_dispatch.number}']\")")
    assert handler.locator("#waiting-sign li[data-number]").count() == 0
    # each one tap made exactly one action

    # from 待处置 to the phone incident page: ask for more time, then report the
    # result with a photo (the page's own forms, through the same outbox)
    handler.locator(f"#waiting-handle li[data-number='{to_dispatch.number}'] a").first.tap()
    handler.wait_for_url(f"{base}/m/incidents/{to_dispatch.number}/")
    fits(handler)
    ask = handler.locator("details.m-action[data-action='request_extension']")
    ask.locator("summary").tap()
    handler.fill("#request_extension-reason", "需要协调燃气公司")
    handler.fill("#request_extension-amount", "2")
    ask.locator("button[type=submit]").tap()
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while Incident.objects.get(pk=signed.pk).pending_extension is None:
        assert time.monotonic() < deadline, "the extension request did not arrive"
        time.sleep(0.2)
    # the outbox reloads the page: one request at a time, so no second one is offered
    handler.wait_for_function(
        "!document.querySelector(\"details.m-action[data-action='request_extension']\")")
    result = handler.locator("details.m-action[data-action='report_result']")
    result.wait_for()
    if result.get_attribute("open") is None:
        result.locator("summary").tap()
    handler.fill("#report_result-result", "井盖已更换，现场已恢复")
    handler.set_input_files("#report_result-photos", photo_png(tmp_path / "after.png"))
    result.locator("button[type=submit]").tap()
    handled = state_becomes(to_dispatch.number, wf.HANDLED)
    assert handled.state == wf.HANDLED and handled.attachments.count() == 1
    actions = [entry.action for entry in selectors.timeline(incident=handled)]
    assert [a for a in actions if a in ("dispatch", "sign", "request_extension",
                                         "report_result")] == [
        "dispatch", "sign", "request_extension", "report_result"]  # each once
    assert handler.errors == []
    context.close()
