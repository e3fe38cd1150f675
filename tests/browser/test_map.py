"""The territory map in a real browser: it draws the user's territory, drills
down on a click, finds a grid by its code, and shows nothing out of territory.
The last test builds the Suzhou demo and saves the screenshots of docs/."""

from __future__ import annotations

import pytest

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.services import user_create
from shanzhi.demo.load import DEMO_PASSWORD, build_demo
from shanzhi.geo.models import Grid
from tests.conftest import PASSWORD

from .conftest import SCREENSHOTS, click_map_at, pass_second_factor, rendered_codes, wait_for_map

pytestmark = pytest.mark.browser

#: Where the screenshots go: docs/screenshots/ when SHANZHI_SCREENSHOTS=1 (to
#: refresh the README's pictures), else a scratch folder under var/.


def crumbs(page) -> list[str]:
    return page.locator("#map-crumbs li").all_inner_texts()


def test_the_admin_sees_both_districts_and_drills_into_the_west(new_page, log_in, personas):
    page = new_page()
    log_in(page, personas.admin)

    assert rendered_codes(page, "children-fill") == {"320505", "320506"}
    assert crumbs(page) == ["苏州市"]
    assert page.locator("#info-code").inner_text() == "320500"
    # the grid mesh: all eight grids of the city
    assert len(rendered_codes(page, "mesh-line")) == 8

    click_map_at(page, 120.005, 31.005)
    wait_for_map(page, "window.__mapState.current === '320505'")
    assert crumbs(page) == ["苏州市", "虎丘区"]
    assert rendered_codes(page, "children-fill") == {"320505001"}
    assert page.locator("#info-name").inner_text() == "虎丘区"
    assert page.locator("#children-list button").all_inner_texts() == ["西街道\n1"]

    page.locator("#map-crumbs button", has_text="苏州市").click()
    wait_for_map(page, "window.__mapState.current === '320500'")
    assert rendered_codes(page, "children-fill") == {"320505", "320506"}
    assert page.errors == []


def test_drilling_down_to_a_community_shows_its_grids(new_page, log_in, personas, territory):
    page = new_page()
    log_in(page, personas.admin)
    for code in ("320506", "320506001", "320506001001"):
        page.locator(f"#children-list button[data-code='{code}']").click()
        wait_for_map(page, f"window.__mapState.current === '{code}'")
    assert crumbs(page) == ["苏州市", "吴中区", "东街道", "东社区"]
    assert rendered_codes(page, "children-fill") == {g.code for g in territory.east_grids}
    assert page.locator("#info-children").inner_text() == "4"

    click_map_at(page, 120.035, 31.015)  # the north-east grid, 002
    wait_for_map(page, "window.__mapState.selected === '320506001001002'")
    assert crumbs(page)[-1] == "东第2网格"
    assert page.locator("#info-level-text").inner_text() in {"网格", "Grid"}


def test_searching_a_grid_code_lands_on_that_grid(new_page, log_in, personas):
    page = new_page()
    log_in(page, personas.admin)

    page.fill("#map-search-input", "320506001001002")
    page.press("#map-search-input", "Enter")
    wait_for_map(page, "window.__mapState.selected === '320506001001002'")

    assert crumbs(page) == ["苏州市", "吴中区", "东街道", "东社区", "东第2网格"]
    assert page.locator("#info-code").inner_text() == "320506001001002"
    assert rendered_codes(page, "highlight-line") == {"320506001001002"}
    assert page.locator("#children-list button.active").get_attribute("data-code") == (
        "320506001001002")
    # the grid is in view, around the middle of the map
    centre = page.evaluate("window.__map.getCenter().toArray()")
    assert 120.03 < centre[0] < 120.04 and 31.01 < centre[1] < 31.02


def test_the_search_lists_hits_and_opens_the_chosen_one(new_page, log_in, personas):
    page = new_page()
    log_in(page, personas.admin)

    page.fill("#map-search-input", "西")
    page.wait_for_selector("#map-search-results button")
    hits = page.locator("#map-search-results button").evaluate_all(
        "(buttons) => buttons.map((b) => b.dataset.code)")
    assert "320505001" in hits and all(code.startswith("320505") for code in hits)

    page.locator("#map-search-results button[data-code='320505001']").click()
    wait_for_map(page, "window.__mapState.current === '320505001'")
    assert crumbs(page) == ["苏州市", "虎丘区", "西街道"]
    assert page.locator("#map-search-results").is_hidden()


def test_the_east_operator_sees_only_wu_zhong(new_page, log_in, personas, territory):
    page = new_page()
    log_in(page, personas.east_operator)

    assert crumbs(page) == ["吴中区"]
    drawn = rendered_codes(page, "children-fill", "context-fill", "mesh-line", "focus-line")
    assert drawn == {"320506001", *(g.code for g in territory.east_grids)}
    assert not any(code.startswith("320505") for code in drawn)
    assert "虎丘区" not in page.content()

    page.fill("#map-search-input", "320505")
    page.press("#map-search-input", "Enter")
    page.wait_for_selector("#map-search-results li.message")
    assert page.locator("#map-search-results button").count() == 0


def test_a_grid_worker_of_two_communities_sees_just_their_grids(new_page, log_in, territory):
    worker = user_create(username="roaming", password=PASSWORD, role=Role.GRID_WORKER,
                         grid_codes=[territory.west_grids[0].code, territory.east_grids[3].code])
    page = new_page()
    log_in(page, worker)

    mine = {territory.west_grids[0].code, territory.east_grids[3].code}
    assert page.locator("#map-crumbs li").count() == 1  # "my territory"
    assert rendered_codes(page, "children-fill") == mine
    assert rendered_codes(page, "mesh-line") == mine
    assert page.locator("#info-children").inner_text() == "2"

    page.locator(f"#children-list button[data-code='{territory.east_grids[3].code}']").click()
    wait_for_map(page, f"window.__mapState.selected === '{territory.east_grids[3].code}'")
    assert len(crumbs(page)) == 2


def test_the_language_switch_turns_the_page_english(new_page, log_in, personas):
    page = new_page()
    log_in(page, personas.admin)
    page.locator(".langswitch button[value='en']").click()
    page.wait_for_url("**/map/")
    wait_for_map(page)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator(".topnav a[data-menu='map']").inner_text() == "Territory map"
    assert page.locator("#info-level-text").inner_text() == "City"


def test_screenshots_of_the_suzhou_demo(new_page, live_server, transactional_db):
    """Builds the real demo (10 districts, 10,000+ grids) and saves the
    screenshots of docs/screenshots/ at 1920×1080."""
    build_demo(progress=lambda message: None)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    admin = User.objects.get(username="admin")

    page = new_page()
    page.goto(f"{live_server.url}/login/?next=/map/")
    page.screenshot(path=SCREENSHOTS / "login.png")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url("**/login/code/")
    page.screenshot(path=SCREENSHOTS / "login-second-factor.png")
    pass_second_factor(page, admin)
    wait_for_map(page, "window.__mapState.current === '320500'")

    def shot(name: str) -> None:
        page.mouse.move(1910, 1070)  # no hover outline in the picture
        page.wait_for_timeout(300)
        page.screenshot(path=SCREENSHOTS / name)

    districts = rendered_codes(page, "children-fill")
    assert len(districts) == 10
    # the grid mesh: every grid of the city drawn, the smallest ones too
    grids = set(Grid.objects.current().values_list("code", flat=True))
    assert len(grids) == 10_400
    assert rendered_codes(page, "mesh-line") == grids
    assert page.locator("#legend-grid-count").inner_text() == "10,400"
    shot("map-city.png")

    page.locator("#children-list button[data-code='320508']").click()  # 姑苏区
    wait_for_map(page, "window.__mapState.current === '320508'")
    assert len(rendered_codes(page, "children-fill")) == 8
    shot("map-district.png")

    town = page.locator("#children-list button").first.get_attribute("data-code")
    page.locator(f"#children-list button[data-code='{town}']").click()
    wait_for_map(page, f"window.__mapState.current === '{town}'")
    community = page.locator("#children-list button").first.get_attribute("data-code")
    page.locator(f"#children-list button[data-code='{community}']").click()
    wait_for_map(page, f"window.__mapState.current === '{community}'")
    grids = rendered_codes(page, "children-fill")
    assert grids and all(len(code) == 15 for code in grids)
    shot("map-community.png")

    # a code prefix finds a community and its grids; choose a grid
    community = "320508018002"
    page.fill("#map-search-input", community)
    page.wait_for_selector("#map-search-results button")
    hits = page.locator("#map-search-results button").evaluate_all(
        "(buttons) => buttons.map((b) => b.dataset.code)")
    assert hits[0] == community and all(code.startswith(community) for code in hits)
    grid = hits[2]
    page.locator(f"#map-search-results button[data-code='{grid}']").click()
    wait_for_map(page, f"window.__mapState.selected === '{grid}'")
    assert rendered_codes(page, "highlight-line") == {grid}
    page.locator("#map-search-input").press("End")
    page.keyboard.type(" ")  # the hits again, over the map that landed on the grid
    page.keyboard.press("Backspace")
    page.wait_for_selector("#map-search-results button.active")
    shot("map-search.png")
    page.keyboard.press("Escape")

    page.locator(".langswitch button[value='en']").click()
    page.wait_for_url("**/map/")
    wait_for_map(page, "window.__mapState.current === '320500'")
    assert page.locator("html").get_attribute("lang") == "en"
    assert len(rendered_codes(page, "children-fill")) == 10
    shot("map-en.png")
    assert page.errors == []
