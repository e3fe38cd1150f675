"""The command centre in a real browser: a case goes through the desks in
three sessions (the town's operator registers a 12345 call through the
intake form, accepts and dispatches it, the handler signs
and reports the result, the operator verifies and closes) while a fourth
session's command centre shows each step in its live feed without a reload;
the east's operator sees nothing of it. The feed and the map's popups are
readable (WCAG contrast ≥ 4.5:1 at 1920×1080 and on the wall); clusters carry
their counts, the names stay above them, a click on a name or an area drills
into it and a click on a cluster zooms. The last test builds the Suzhou demo
with some history and saves the command centre's screenshots (1920×1080 and
the big screen at 3840×2160)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from shanzhi.accounts.models import User
from shanzhi.demo.history import build_history
from shanzhi.demo.load import DEMO_PASSWORD, build_demo
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_desk import (
    _hotline_call,
    _housing_work,
    act,
    chinese_page,
    photo_png,
    sign_in,
    zh_browser,  # noqa: F401 (a fixture)
)
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import WEST_POINT, ZJJ, report, step

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar


def open_command(page, base: str) -> None:
    page.goto(f"{base}/command/")
    page.wait_for_function("window.__commandReady === true")


def click_intake_map_at(page, lng: float, lat: float) -> None:
    """Click the intake form's map where this WGS-84 point is drawn."""
    point = page.evaluate("([lng, lat]) => window.__intakeMap.project([lng, lat])", [lng, lat])
    box = page.locator("#intake-map canvas").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def feed_shows(page, number: str, action: str) -> None:
    page.wait_for_selector(f"#feed-list li[data-number='{number}'][data-action='{action}']",
                           timeout=30_000)


def test_the_command_centre_follows_a_case_through_three_sessions_without_reload(
        new_page, live_server, cast, tmp_path):
    base = live_server.url
    watcher = new_page()
    sign_in(watcher, base, "west_operator")
    open_command(watcher, base)
    watcher.evaluate("window.__sameDocument = true")  # gone if the page reloads
    assert watcher.locator("[data-kpi='open'] .kpi-value").inner_text() == "0"

    # the report: a 12345 call typed into the intake form by the town's operator
    operator = new_page()
    sign_in(operator, base, "town_operator")
    operator.click(".entrance-new")
    operator.wait_for_url(f"{base}/incidents/new/")
    operator.wait_for_function("window.__intakeMapReady === true")
    assert operator.locator("#i-channel").input_value() == "hotline_12345"
    operator.select_option("#i-category", "SJ0102")
    operator.check("input[name='urgency'][value='urgent']")
    operator.fill("#i-description", "市民来电：西街路口有暴露垃圾，气味很大")
    operator.fill("#i-extra-SJ0102-location_desc", "路口东北角")
    click_intake_map_at(operator, **WEST_POINT)
    operator.wait_for_function("document.getElementById('point-status').textContent"
                               ".includes('西第1网格')")
    operator.fill("#i-address", "西街1号门口")
    operator.fill("#i-contact-name", "张三")
    operator.fill("#i-contact-phone", "13812345678")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _shot(operator, "intake.png")
    operator.click("#intake-form button[type=submit]")
    operator.wait_for_url(f"{base}/incidents/SJ*/")
    assert "已登记事件" in operator.locator(".flash-success").inner_text()
    incident = Incident.objects.get()
    assert (incident.channel, incident.urgency, incident.grid.code) == (
        "hotline_12345", "urgent", cast.worker.grid_worker.grids.get().code)
    assert abs(incident.lng - WEST_POINT["lng"]) < 1e-4
    feed_shows(watcher, incident.number, "report")

    act(operator, "accept", "已立案")
    operator.select_option("#dispatch-department", ZJJ)
    act(operator, "dispatch", "已派遣")
    feed_shows(watcher, incident.number, "dispatch")

    handler = new_page()
    sign_in(handler, base, "handler")
    handler.goto(f"{base}/incidents/{incident.number}/")
    act(handler, "sign", "处置中")
    handler.fill("#report_result-result", "垃圾已清运")
    handler.set_input_files("#report_result-photos", photo_png(tmp_path / "after.png"))
    act(handler, "report_result", "待核查")
    feed_shows(watcher, incident.number, "report_result")

    operator.reload()
    act(operator, "verify_pass", "已结案")
    feed_shows(watcher, incident.number, "verify_pass")

    actions = watcher.eval_on_selector_all(
        f"#feed-list li[data-number='{incident.number}']", "els => els.map(e => e.dataset.action)")
    assert actions == ["verify_pass", "report_result", "sign", "dispatch", "accept", "report"]
    assert watcher.locator("#feed-list li strong").first.inner_text() == "核查通过"
    # the figures follow the feed: one reported today, none open, closed
    watcher.wait_for_function(
        "document.querySelector(\"[data-kpi='closure_rate'] .kpi-value\").textContent === '100.0%'")
    assert watcher.locator("[data-kpi='today_reported'] .kpi-value").inner_text() == "1"
    assert watcher.locator("[data-kpi='open'] .kpi-value").inner_text() == "0"
    assert watcher.evaluate("window.__sameDocument") is True
    for page in (watcher, operator, handler):
        assert page.errors == []


def test_the_east_operator_sees_nothing_of_the_west_in_the_command_centre(new_page, live_server,
                                                                         cast):
    base = live_server.url
    east = new_page()
    sign_in(east, base, "east_operator")
    open_command(east, base)
    incident = report(cast, description="西街路口暴露垃圾")
    east.wait_for_timeout(4500)  # longer than the feed's poll under WSGI
    assert east.locator("#feed-list li").count() == 0
    assert incident.number not in east.content()
    assert east.locator("[data-kpi='today_reported'] .kpi-value").inner_text() == "0"
    assert east.locator("[data-kpi='open'] .kpi-value").inner_text() == "0"
    summary = east.evaluate("fetch('/api/v1/command/summary').then(r => r.json())")
    assert summary["kpis"]["window"]["reported"] == 0
    points = east.evaluate("fetch('/api/v1/command/points').then(r => r.json())")
    assert points["items"] == []
    status = east.evaluate("fetch('/api/v1/command/summary?region=320505').then(r => r.status)")
    assert status == 404
    assert east.errors == []


#: The WCAG contrast ratio of each element's text colour against the first
#: opaque background behind it (relative luminance of sRGB, WCAG 2.x).
CONTRASTS = """(selector) => {
  const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const channel = (v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = (c) => { const [r, g, b] = rgba(c);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const colour = getComputedStyle(e).backgroundColor, c = rgba(colour);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return colour;
    }
    return "rgb(255, 255, 255)";
  };
  return [...document.querySelectorAll(selector)].filter((el) => el.textContent.trim())
    .map((el) => { const a = luminance(getComputedStyle(el).color), b = luminance(background(el));
                   return [el.textContent.trim().slice(0, 24),
                           (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; });
}"""


def unreadable(page, selector: str) -> list:
    """The texts under ``selector`` whose contrast is below 4.5:1 (none must be)."""
    found = page.evaluate(CONTRASTS, selector)
    assert found, f"nothing to read at {selector}"
    return [(text, round(ratio, 2)) for text, ratio in found if ratio < 4.5]


def click_command_map_at(page, lng: float, lat: float) -> None:
    point = page.evaluate("([lng, lat]) => window.__map.project([lng, lat])", [lng, lat])
    box = page.locator("#cc-map canvas").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def wall_page(browser):
    context = browser.new_context(viewport={"width": 3840, "height": 2160}, locale="zh-CN",
                                  device_scale_factor=1)
    context.set_default_timeout(120_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return context, page


def test_the_feed_and_the_popups_are_readable_on_the_desk_screen_and_the_wall(
        browser, new_page, live_server, cast):
    base = live_server.url
    incident = report(cast, description="西街路口暴露垃圾")
    desk_screen = new_page()
    wall, big = wall_page(browser)
    for page, address in ((desk_screen, "/command/"), (big, "/command/?screen=big")):
        sign_in(page, base, "viewer")
        page.goto(base + address)
        page.wait_for_function("window.__commandReady === true")
    step(cast, incident, "accept")
    for page in (desk_screen, big):
        feed_shows(page, incident.number, "accept")
        page.wait_for_timeout(1500)  # the new item's highlight has faded
        assert unreadable(page, "#feed-list li > *") == []
        click_command_map_at(page, **WEST_POINT)
        page.wait_for_selector(".cc-popup")
        assert unreadable(page, ".cc-popup > *") == []
        assert page.errors == []
    wall.close()


NEAR_WEST_CENTRE = {"lng": 120.0098, "lat": 31.0102}  # under the west district's name


def test_clusters_show_their_counts_under_the_names_and_a_click_on_a_name_drills_in(
        new_page, live_server, cast):
    base = live_server.url
    for _ in range(4):
        report(cast, **NEAR_WEST_CENTRE)
    for _ in range(3):
        report(cast)
    page = new_page()
    sign_in(page, base, "viewer")
    open_command(page, base)
    drawn = page.evaluate("""() => {
      const clusters = new Map(window.__map.queryRenderedFeatures({ layers: ["cluster-count"] })
        .map((f) => [f.properties.cluster_id, f.properties.point_count]));
      const points = new Set(window.__map.queryRenderedFeatures({ layers: ["point"] })
        .map((f) => f.properties.number));
      const labels = window.__map.queryRenderedFeatures({ layers: ["areas-labels"] })
        .map((f) => [f.properties.code, f.properties.label]);
      return { counts: [...clusters.values()], points: points.size, labels };
    }""")
    assert sorted(drawn["counts"]) == [3, 4] and drawn["points"] == 0  # 7 open drawn, in two
    assert sum(drawn["counts"]) + drawn["points"] == Incident.objects.count()
    labels = dict(drawn["labels"])
    assert labels["320505"] == "虎丘区\n在办 7 · 超期 0"
    assert labels["320506"] == "吴中区\n在办 0 · 超期 0"
    assert "名称下方：在办 N · 超期 N" in page.locator(".cc-legend").inner_text()

    # a click on a cluster zooms to it, and stays in the city
    zoom = page.evaluate("window.__map.getZoom()")
    click_command_map_at(page, **WEST_POINT)
    page.wait_for_function(f"window.__map.getZoom() > {zoom + 0.5} && !window.__map.isMoving()")
    assert page.evaluate("window.__command.region") == ""

    # a click on the west's name, drawn over a cluster, drills into the west
    open_command(page, base)
    centre = page.evaluate("window.__command.labels"
                           ".find((f) => f.properties.code === '320505').geometry.coordinates")
    click_command_map_at(page, *centre)
    page.wait_for_function("window.__command.region === '320505' && window.__commandReady")
    assert "region=320505" in page.url
    assert page.get_attribute("[data-kpi='open']", "href") == (
        "/incidents/?state=" + "%2C".join(sorted(wf.OPEN_STATES, key=wf.STATES.index))
        + "&region=320505")  # the tiles list the region drilled into

    # a click on an area away from the clusters drills into it
    open_command(page, base)
    click_command_map_at(page, 120.035, 31.004)
    page.wait_for_function("window.__command.region === '320506' && window.__commandReady")
    assert page.errors == []


def _shot(page, name: str) -> None:
    page.mouse.move(5, 5)
    page.wait_for_timeout(600)
    page.screenshot(path=SCREENSHOTS / name)


def test_screenshots_of_the_command_centre(zh_browser, live_server, transactional_db):  # noqa: F811
    build_demo(progress=lambda message: None)
    build_history(days=30, incidents=1500, seed=2026, progress=lambda message: None)
    cache.clear()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    operator_user = User.objects.get(username="gusu_operator")
    _housing_work(operator_user)
    _hotline_call(operator_user)

    page = chinese_page(zh_browser)
    sign_in(page, base, "city_operator", DEMO_PASSWORD)
    open_command(page, base)
    assert int(page.locator("[data-kpi='open'] .kpi-value").inner_text().replace(",", "")) > 0
    _shot(page, "command-city.png")
    page.goto(f"{base}/command/?region=320508")
    page.wait_for_function("window.__commandReady === true")
    _shot(page, "command-district.png")
    assert page.errors == []

    wall = zh_browser.new_context(viewport={"width": 3840, "height": 2160}, locale="zh-CN",
                                  device_scale_factor=1)
    wall.set_default_timeout(120_000)
    big = wall.new_page()
    big.errors = []
    big.on("pageerror", lambda error: big.errors.append(str(error)))
    sign_in(big, base, "city_operator", DEMO_PASSWORD)
    big.goto(f"{base}/command/?screen=big")
    big.wait_for_function("window.__commandReady === true")
    scroll = big.evaluate("[document.documentElement.scrollHeight, "
                          "document.documentElement.scrollWidth]")
    assert scroll == [2160, 3840]  # fits the wall: no scrolling
    _shot(big, "command-big-screen.png")
    assert big.errors == []
    wall.close()
