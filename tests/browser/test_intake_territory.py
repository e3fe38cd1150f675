"""The intake form's map says at once whether the clicked point lies in the
user's territory: outside it, the place line is red with the reason and the
submit is blocked until the point is moved inside (the service would refuse
it anyway)."""

from __future__ import annotations

import pytest

from tests.browser.test_desk import sign_in
from tests.incidents.conftest import EAST_POINT, WEST_POINT

pytestmark = pytest.mark.browser


def click_intake_map_at(page, lng: float, lat: float) -> None:
    """Bring the point into view and click the intake map where it is drawn."""
    page.evaluate("([lng, lat]) => window.__intakeMap.jumpTo({center: [lng, lat]})", [lng, lat])
    point = page.evaluate("([lng, lat]) => window.__intakeMap.project([lng, lat])", [lng, lat])
    box = page.locator("#intake-map canvas").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def place_line(page) -> tuple[str, str]:
    status = page.locator("#point-status")
    return status.inner_text(), status.evaluate("(e) => getComputedStyle(e).color")


RED, GREEN = "rgb(132, 32, 41)", "rgb(30, 107, 52)"


def test_a_point_in_the_east_is_red_for_the_west_operator_and_blocks_the_submit(
        new_page, live_server, personas):
    page = new_page()
    sign_in(page, live_server.url, personas.west_operator.username)
    page.goto(f"{live_server.url}/incidents/new/")
    page.wait_for_function("window.__intakeMapReady === true")
    submit = page.locator("#intake-form button[type=submit]")
    assert submit.is_enabled()

    click_intake_map_at(page, **EAST_POINT)
    page.wait_for_function("document.getElementById('point-status')"
                           ".hasAttribute('data-blocks-submit')")
    text, colour = place_line(page)
    assert text == "该位置属于吴中区 · 东街道 · 东社区，不在您的辖区内。"
    assert colour == RED
    assert submit.is_disabled()
    page.screenshot(path=str(_screenshots() / "intake-outside.png"))

    click_intake_map_at(page, **WEST_POINT)
    page.wait_for_function("!document.getElementById('point-status')"
                           ".hasAttribute('data-blocks-submit')")
    text, colour = place_line(page)
    assert text.startswith("所在网格：西第1网格") and colour == GREEN
    assert submit.is_enabled()
    assert page.errors == []


def _screenshots():
    from tests.browser.test_map import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
