"""智能受理 in the browser: an operator types a call into the intake form and
the assistant answers as they type — the category chips with their
confidence and the model's own cross-validated figures (a small model
trained here on hand-written calls), the open incident nearby as a possible
duplicate, the caller's earlier report as a repeat; a chip chooses the
category and "merge into" registers the call as that incident's duplicate
in one step. By address: the type-ahead offers the gazetteer's names and a
crossing is placed in its grid, the map's point moved there. On the phone,
the worker's description gets suggestion chips. The incident page flags an
address it could not place; the command centre shows the match rate.
Screenshots: intake-assist.png, intake-assist-place.png,
intake-unplaced.png, command-intake.png, mobile/report-suggest.png."""

from __future__ import annotations

import pytest

from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_desk import sign_in
from tests.browser.test_mobile_manager import phone, sign_in_to_the_app
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import WEST_POINT, drive, report
from tests.web.test_intake_assist import GAZETTEER, train_small_model

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar

PHONE = "13812345678"


@pytest.fixture
def assisted(cast):
    """The small model, the two crossing roads, and an open 暴露垃圾 report at
    WEST_POINT by a caller who calls again."""
    from shanzhi.intake.gazetteer import import_features

    model = train_small_model()
    import_features(GAZETTEER, source="test")
    earlier = report(cast, description="西园路口路边有暴露垃圾没人清理", contact_phone=PHONE)
    return model, earlier


def shots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def answered(page, after: int) -> None:
    """Wait for an answer of the assistant newer than ``after``."""
    page.wait_for_function(
        f"window.__intakeAssistAnswers > {after} && "
        "document.getElementById('intake-form').dataset.assist === 'done'")


def answers(page) -> int:
    return page.evaluate("window.__intakeAssistAnswers")


def test_the_operator_sees_chips_a_duplicate_and_a_repeat_and_merges_in_one_step(
        new_page, live_server, cast, assisted):
    model, earlier = assisted
    page = new_page()
    sign_in(page, live_server.url, cast.town_operator.username)
    page.goto(f"{live_server.url}/incidents/new/")
    page.wait_for_function("window.__intakeMapReady === true")

    seen = answers(page)
    page.fill("#i-description", "市民来电：西园路口路边暴露垃圾一直没人清理，很臭")
    answered(page, seen)
    chips = page.locator("[data-assist-category]")
    assert chips.count() == 3
    assert chips.first.get_attribute("data-assist-category") == "SJ0102"
    first_percent = int(chips.first.locator(".chip-conf").inner_text().rstrip("%"))
    assert 0 < first_percent <= 100
    model_line = page.locator("[data-assist-model]").inner_text()
    assert str(round(model["accuracy"] * 100)) in model_line and "40" in model_line

    seen = answers(page)
    page.fill("#i-lng", f"{WEST_POINT['lng'] + 0.0003:.4f}")
    page.fill("#i-lat", str(WEST_POINT["lat"]))
    page.locator("#i-lat").dispatch_event("change")
    page.fill("#i-contact-phone", "138 1234 5678")
    answered(page, seen)
    page.wait_for_function("document.querySelectorAll('[data-duplicate]').length === 1")
    duplicate = page.locator(f'[data-duplicate="{earlier.number}"]')
    assert "29" in duplicate.locator(".dup-distance").inner_text()  # 0.0003° at 31° N
    page.wait_for_function("!document.querySelector('[data-assist-slot=\"repeats\"]').hidden")
    repeat = page.locator('[data-assist-slot="repeats"]')
    assert repeat.is_visible() and earlier.number in repeat.inner_text()

    chips.first.click()
    assert page.locator("#i-category").input_value() == "SJ0102"
    page.wait_for_function("document.querySelector('[data-assist-category=\"SJ0102\"]')"
                           ".getAttribute('aria-pressed') === 'true'")
    page.locator("#intake-form").screenshot(path=str(shots() / "intake-assist.png"))

    duplicate.locator("button.dup-merge").click()
    page.wait_for_url(f"{live_server.url}/incidents/{earlier.number}/")
    new = Incident.objects.exclude(pk=earlier.pk).get()
    assert new.merged_into_id == earlier.pk
    assert new.suggested.code == "SJ0102" and new.category.code == "SJ0102"
    assert new.number in page.locator(".flash").first.inner_text()
    assert page.errors == []


def test_an_address_is_offered_as_typed_and_a_crossing_is_placed_on_the_map(
        new_page, live_server, cast, assisted):
    page = new_page()
    sign_in(page, live_server.url, cast.town_operator.username)
    page.goto(f"{live_server.url}/incidents/new/")
    page.wait_for_function("window.__intakeMapReady === true")
    page.check("#locate-address")
    page.fill("#i-description", "路口的井盖不见了")

    page.locator("#i-address").press_sequentially("西园", delay=30)
    page.wait_for_function("document.querySelectorAll('#i-address-options option').length > 0")
    offered = page.eval_on_selector_all("#i-address-options option", "(os) => os.map(o => o.value)")
    assert any(label.startswith("西园路") for label in offered)

    seen = answers(page)
    page.fill("#i-address", "西园路与中心路路口")
    answered(page, seen)
    place = page.locator('[data-assist-slot="place"] .assist-place')
    assert "is-placed" in place.get_attribute("class")
    assert "西第1网格" in place.inner_text()
    page.wait_for_function("window.__intakePoint && window.__intakePoint[0] === 120.005"
                           " && window.__intakePoint[1] === 31.015")
    assert page.locator("#i-region").input_value() == "320505001001"  # filled from the place
    page.locator("#intake-form").screenshot(path=str(shots() / "intake-assist-place.png"))

    seen = answers(page)
    page.fill("#i-address", "西园路")
    answered(page, seen)
    assert "is-unplaced" in place.get_attribute("class")
    assert page.errors == []


def test_the_phone_suggests_categories_for_the_description(browser, live_server, cast,
                                                           assisted):
    context, page = phone(browser)
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_geolocation({"longitude": WEST_POINT["lng"], "latitude": WEST_POINT["lat"]})
    sign_in_to_the_app(page, live_server.url, cast.worker.username)
    page.goto(f"{live_server.url}/m/report/")
    page.wait_for_function("document.body.dataset.ready === '1'")
    page.fill("#r-description", "夜里工地打桩，噪音太吵了")
    page.wait_for_function("document.querySelectorAll('[data-suggest]').length === 3")
    first = page.locator("[data-suggest]").first
    assert first.get_attribute("data-suggest") == "SJ0301"
    first.click()
    assert page.locator('[data-r="category"]').input_value() == "SJ0301"
    assert "施工扰民" in page.locator('[data-r="cat-picked"]').inner_text()
    (shots() / "mobile").mkdir(exist_ok=True)
    page.locator("#r-description").scroll_into_view_if_needed()
    page.screenshot(path=str(shots() / "mobile" / "report-suggest.png"))
    assert page.errors == []
    context.close()


def test_an_address_not_placed_is_flagged_on_the_incident_page(new_page, live_server, cast,
                                                               assisted):
    incident, _created = services.incident_report(
        actor=cast.town_operator, channel="hotline_12345", description="西园路上路面坑洼",
        category="SJ0303", address="西园路", region="320505001001")
    page = new_page()
    sign_in(page, live_server.url, cast.town_operator.username)
    page.goto(f"{live_server.url}/incidents/{incident.number}/")
    flag = page.locator(".incident-head [data-unplaced]")
    assert flag.is_visible()
    assert "西园路" in page.locator(".unplaced-guess").inner_text()
    page.screenshot(path=str(shots() / "intake-unplaced.png"),
                    clip={"x": 0, "y": 0, "width": 1920, "height": 620})
    assert page.errors == []


def test_the_command_centre_shows_how_often_the_suggestion_was_followed(
        new_page, live_server, cast, assisted):
    model, earlier = assisted  # SJ0102, suggested SJ0102 first
    other = report(cast, description="电线杆上贴满小广告", category="SJ0102")  # suggested SJ0201
    for incident in (earlier, other):
        drive(cast, incident, wf.REGISTERED)
    page = new_page()
    sign_in(page, live_server.url, cast.town_operator.username)
    page.goto(f"{live_server.url}/command/")
    page.wait_for_function("window.__commandReady === true")
    tile = page.locator("[data-intake-tile]")
    page.wait_for_function("document.querySelector('[data-intake=\"rate\"]').textContent"
                           " === '50.0%'")
    detail = tile.locator('[data-intake="detail"]').inner_text()
    # "1 of 2" in English, "2 件中 1 件" in Chinese
    assert "1" in detail and "2" in detail and f"v{model['version']}" in detail
    page.locator(".cc-kpis").screenshot(path=str(shots() / "command-intake.png"))
    assert page.errors == []
