"""Long text in a real browser: a 300-character unbroken address and
description wrap inside the desks and the incident page (they once widened
the page to 3,494 px), and a pasted description over the limit is never cut
in silence — the counter turns red and says how much is too much, and the
form refuses to submit with the text kept."""

from __future__ import annotations

import pytest

from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS
from tests.browser.test_desk import sign_in
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import WEST_POINT, incident_in, report

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar

#: 300 characters and not one place where a line may break.
UNBROKEN = "ABCDEFGHIJ0123456789" * 15


def page_width(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


#: The innermost elements that reach past the window's right edge.
OVERFLOWING = """() => [...document.body.querySelectorAll("*")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5
                 && ![...e.children].some((c) => c.getBoundingClientRect().right
                                                 > window.innerWidth + 0.5))
  .slice(0, 8)
  .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}`
              + ` ${Math.round(e.getBoundingClientRect().right)}px`)"""


def assert_fits(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"long-text-{name}.png"), full_page=True)
    scroll, inner = page_width(page)
    assert scroll <= inner, (f"{name}: the page is {scroll} px wide in a {inner} px window: "
                             f"{page.evaluate(OVERFLOWING)}")


def test_a_300_character_unbroken_address_and_description_wrap_on_every_page(
        new_page, live_server, cast):
    incident = incident_in(cast, wf.DISPATCHED, address=UNBROKEN, description=UNBROKEN)
    # a call located by its address alone: the address stands where the map would
    by_address = report(cast, actor=cast.town_operator, channel="hotline_12345", lng=None,
                        lat=None, region="320505001001", address=UNBROKEN,
                        description=UNBROKEN)
    services.incident_accept(actor=cast.town_operator, incident=by_address, note=UNBROKEN)
    base = live_server.url

    operator = new_page()
    sign_in(operator, base, cast.town_operator.username)
    operator.goto(f"{base}/incidents/")
    operator.wait_for_selector(f"text={incident.number}")
    assert_fits(operator, "case-desk")
    operator.goto(f"{base}/incidents/{incident.number}/")
    operator.wait_for_selector(".incident-head")
    assert_fits(operator, "incident")
    operator.goto(f"{base}/incidents/{by_address.number}/")
    operator.wait_for_selector(".no-map")
    assert_fits(operator, "incident-by-address")
    operator.goto(f"{base}/incidents/{incident.number}/")
    operator.set_viewport_size({"width": 390, "height": 844})
    operator.reload()
    operator.wait_for_selector(".incident-head")
    assert_fits(operator, "incident-phone")

    handler = new_page()
    sign_in(handler, base, cast.handler.username)
    handler.goto(f"{base}/desk/")
    handler.wait_for_selector(f"text={incident.number}")
    assert_fits(handler, "department-desk")
    assert not operator.errors and not handler.errors


def test_a_pasted_description_over_the_limit_is_refused_whole_not_cut(
        new_page, live_server, cast):
    page = new_page()
    sign_in(page, live_server.url, cast.town_operator.username)
    page.goto(f"{live_server.url}/incidents/new/")
    page.fill("#i-lng", str(WEST_POINT["lng"]))
    page.fill("#i-lat", str(WEST_POINT["lat"]))
    text = "市民来电反映西街路口垃圾堆放" * 321  # 4,494 characters
    text += "有异味"  # 4,497
    page.fill("#i-description", text)
    counter = page.locator("#i-description-count")
    assert counter.inner_text() == "4497 / 4000 · 超出 497 个字"
    assert counter.evaluate("(e) => getComputedStyle(e).color") == "rgb(132, 32, 41)"
    assert page.input_value("#i-description") == text  # nothing cut

    before = Incident.objects.count()
    page.click("#intake-form button[type=submit]")
    refusal = page.locator("[data-description-refusal]")
    refusal.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert refusal.inner_text() == "事件描述最多 4000 个字，请删减 497 个字后再登记。"
    assert page.url == f"{live_server.url}/incidents/new/"
    assert page.input_value("#i-description") == text
    assert Incident.objects.count() == before
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#i-description").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "intake-description-too-long.png"))

    page.fill("#i-description", text[:4000])
    assert counter.inner_text() == "4000 / 4000"
    assert refusal.is_hidden()
    # the description was all that held the form back
    assert page.evaluate("document.getElementById('intake-form').checkValidity()")
    assert not page.errors
