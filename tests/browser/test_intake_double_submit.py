"""Back after registering a 12345 call, the browser brings the sent form back
with its hidden idempotency key; the operator changes the text and submits
again. The page says in Chinese that the call is already registered, links
to that incident, and offers what was typed as a new one — never a 422 in
developer words."""

from __future__ import annotations

import pytest

from shanzhi.incidents.models import Incident
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, VIEWPORT
from tests.browser.test_desk import sign_in
from tests.incidents import conftest as incident_fixtures

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

seeded_taxonomy = incident_fixtures.seeded_taxonomy

WEST_COMMUNITY = "320505001001"


@pytest.fixture
def bfcache_page(browser):
    """A page of a Chromium that keeps pages in its back-forward cache, as a
    person's browser does (Playwright switches the cache off by default)."""
    own = browser.browser_type.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      ignore_default_args=["--disable-back-forward-cache"])
    context = own.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=1)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
    own.close()


def test_a_call_sent_again_after_back_names_and_links_its_incident(bfcache_page, live_server,
                                                                   personas):
    page = bfcache_page
    sign_in(page, live_server.url, personas.west_operator.username)
    page.goto(f"{live_server.url}/incidents/new/")
    key = page.locator("input[name=idempotency_key]").input_value()
    page.fill("#i-description", "市民来电：西街路口有暴露垃圾")
    page.check("#locate-address")
    page.select_option("#i-region", WEST_COMMUNITY)
    page.click("#intake-form button[type=submit]")
    page.wait_for_url("**/incidents/SJ*/")
    number = Incident.objects.get().number

    page.go_back(wait_until="commit")  # a page from the cache fires no load event
    page.wait_for_url("**/incidents/new/", wait_until="commit")
    page.locator("#i-description").wait_for()
    assert page.locator("input[name=idempotency_key]").input_value() == key  # the form is back
    page.check("#locate-address")
    page.select_option("#i-region", WEST_COMMUNITY)
    page.fill("#i-description", "市民来电：西街路口有暴露垃圾，另有积水")
    page.click("#intake-form button[type=submit]")

    notice = page.locator(".intake-already")
    notice.wait_for()
    assert f"此来电已登记为 {number}。" in notice.inner_text()
    assert "Idempotency" not in page.content()
    assert page.locator("#i-description").input_value() == "市民来电：西街路口有暴露垃圾，另有积水"
    assert page.locator("input[name=idempotency_key]").input_value() != key
    assert page.locator("#intake-form button[type=submit]").inner_text() == "登记为新事件"
    page.screenshot(path=str(_screenshots() / "intake-already-registered.png"), full_page=True)
    assert Incident.objects.count() == 1

    notice.locator(f"a:text('{number}')").click()
    page.wait_for_url(f"**/incidents/{number}/")
    assert number in page.locator("h1").first.inner_text()
    assert page.errors == []


def _screenshots():
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
