"""The desks in a real browser: a case driven through the pages by three
sessions (the operator dispatches, the handler signs and reports with a
photo, the operator verifies), a stale page meeting a conflict, filters that
live in the address, and nothing of the west for the east's operator. The
last test builds the Suzhou demo with some history and saves the desks'
screenshots of docs/screenshots/."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from django.core.cache import cache

from shanzhi.accounts.models import User
from shanzhi.demo.history import build_history
from shanzhi.demo.load import DEMO_PASSWORD, build_demo
from shanzhi.geo.models import Grid
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, TIMEOUT_MS, VIEWPORT
from tests.conftest import PASSWORD
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import ZHZF, ZJJ, incident_in, report

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

# the incident fixtures: the west district's departments and the cast of personas
desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar



def photo_png(path: Path, width: int = 480, height: int = 360) -> Path:
    """A small PNG that looks like a street photo: sky, a wall, a green bin."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            if y < height * 0.4:
                pixel = (150 + y // 4, 190 + y // 8, 235)
            elif y < height * 0.75:
                pixel = (176, 160, 140) if (x // 40 + y // 20) % 2 else (168, 150, 132)
            else:
                pixel = (96, 96, 100)
            if width * 0.4 < x < width * 0.6 and height * 0.45 < y < height * 0.85:
                pixel = (34, 139, 34)
            row += bytes(pixel)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))
    return path


def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the form and land on the home page."""
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(f"{base}/")


def restoring(response) -> bool:
    """htmx's request for a page the back button returns to."""
    return response.request.headers.get("hx-history-restore-request") == "true"


def state_of(page) -> str:
    return page.locator(".incident-head .state-big").inner_text()


def act(page, action: str, expect_state: str | None = None) -> None:
    """Submit the open form of ``action`` and wait for the refreshed incident."""
    page.locator(f"form[data-action='{action}'] button[type=submit]").click()
    if expect_state:
        page.wait_for_function(
            "(s) => document.querySelector('.incident-head .state-big')?.textContent.trim() === s",
            arg=expect_state)


def test_a_case_goes_through_both_desks_in_three_sessions(new_page, live_server, cast,
                                                          tmp_path):
    incident = report(cast, contact_name="张三", contact_phone="13812345678",
                      address="西街1号门口")
    base = live_server.url

    operator = new_page()
    sign_in(operator, base, "town_operator")
    assert operator.locator(".tile-primary .tile-count").first.inner_text() == "1"  # to accept
    operator.click(".topnav a[data-menu='incidents']")
    operator.click(f".incidents a:text('{incident.number}')")
    operator.wait_for_url(f"**/incidents/{incident.number}/")
    assert state_of(operator) == "待受理"
    act(operator, "accept", "已立案")
    # the dispatch form opens with the routing suggestion chosen
    assert operator.locator("#dispatch-department").input_value() == ZHZF
    assert "建议" in operator.locator("form[data-action='dispatch'] .suggestion").inner_text()
    operator.select_option("#dispatch-department", ZJJ)
    operator.fill("#dispatch-note", "请尽快清理")
    act(operator, "dispatch", "已派遣")
    assert "已派遣。" in operator.locator(".outcome-success").inner_text()

    handler = new_page()
    sign_in(handler, base, "handler")
    handler.click(".topnav a[data-menu='department_desk']")
    assert handler.locator(".tabs a.active .tab-count").inner_text() == "1"
    handler.click(f".incidents a:text('{incident.number}')")
    act(handler, "sign", "处置中")
    handler.fill("#report_result-result", "垃圾已清运，现场已清洁")
    handler.set_input_files("#report_result-photos", photo_png(tmp_path / "after.png"))
    act(handler, "report_result", "待核查")
    photo = handler.locator(".photos img").first
    photo.wait_for()
    handler.wait_for_function("() => document.querySelector('.photos img').naturalWidth === 480")
    assert handler.locator(".incident-actions .action-buttons button").count() == 0

    operator.reload()
    assert state_of(operator) == "待核查"
    assert operator.locator(".photos img").count() == 1
    act(operator, "verify_pass", "已结案")
    labels = operator.locator(".timeline strong").all_inner_texts()
    assert labels == ["事件上报", "受理立案", "派遣", "签收", "反馈处置结果", "核查通过"]
    assert operator.locator(".contact-phone").inner_text() == "138****5678"
    for page in (operator, handler):
        assert page.errors == []


def test_a_stale_page_is_told_kindly_and_shows_the_incident_as_it_is(new_page, live_server,
                                                                    cast):
    incident = incident_in(cast, wf.REGISTERED)
    base = live_server.url
    first, second = new_page(), new_page()
    sign_in(first, base, "town_operator")
    sign_in(second, base, "west_operator")
    for page in (first, second):
        page.goto(f"{base}/incidents/{incident.number}/")
    first.select_option("#dispatch-department", ZJJ)
    act(first, "dispatch", "已派遣")

    second.select_option("#dispatch-department", ZJJ)
    act(second, "dispatch", "已派遣")
    warning = second.locator(".outcome-warning").inner_text()
    assert "此事件已被他人处理" in warning
    assert second.locator("form[data-action='dispatch']").count() == 0
    assert Incident.objects.get(pk=incident.pk).state == wf.DISPATCHED
    assert second.errors == []


def test_the_filters_live_in_the_address_and_the_back_button_restores_them(new_page,
                                                                            live_server,
                                                                            cast):
    for state in (wf.REPORTED, wf.REGISTERED, wf.REGISTERED, wf.DISPATCHED):
        incident_in(cast, state)
    base = live_server.url
    page = new_page()
    sign_in(page, base, "town_operator")
    page.goto(f"{base}/incidents/")
    assert page.locator(".incidents tbody tr").count() == 4

    page.select_option("#f-state", wf.REGISTERED)
    page.wait_for_url("**/incidents/?state=registered")
    page.wait_for_function("document.querySelectorAll('.incidents tbody tr').length === 2")
    assert set(page.locator(".incidents .state").all_inner_texts()) == {"已立案"}
    assert "state=registered" in page.locator("#export-link").get_attribute("href")

    page.locator("th a.sort", has_text="事件编号").click()
    page.wait_for_url("**/incidents/?state=registered&sort=number")
    numbers = page.locator(".incidents tbody .col-number a").all_inner_texts()
    assert numbers == sorted(numbers)

    # htmx keeps no history cache (historyCacheSize 0): each back asks the
    # server again; wait for that answer, or a late one lands after the next back
    with page.expect_response(restoring):
        page.go_back()
    page.wait_for_url("**/incidents/?state=registered")
    page.wait_for_function("document.querySelectorAll('.incidents tbody tr').length === 2")
    assert page.locator("#f-state").input_value() == wf.REGISTERED
    with page.expect_response(restoring):
        page.go_back()
    page.wait_for_url("**/incidents/")
    page.wait_for_function("document.querySelectorAll('.incidents tbody tr').length === 4")
    assert page.errors == []


def test_the_east_operator_sees_nothing_of_the_west(new_page, live_server, cast):
    incident = incident_in(cast, wf.REGISTERED)
    base = live_server.url
    page = new_page()
    sign_in(page, base, "east_operator")
    page.goto(f"{base}/incidents/")
    assert page.locator(".incidents tbody tr.empty").count() == 1
    assert incident.number not in page.content()
    response = page.goto(f"{base}/incidents/{incident.number}/")
    assert response.status == 404


# ---------------------------------------------------------------- screenshots

def _shot(page, name: str) -> None:
    page.mouse.move(1910, 1070)  # no hover in the picture
    page.wait_for_timeout(300)
    page.screenshot(path=SCREENSHOTS / name)


def _open_incident(page, base: str, incident: Incident, map_ready: bool = True) -> None:
    page.goto(f"{base}/incidents/{incident.number}/")
    if map_ready and incident.lng is not None:
        page.wait_for_function("window.__incidentMapReady === true")


def _hotline_call(operator: User) -> Incident:
    """A 12345 call entered and accepted by the district's operator: registered,
    at 观前街 in 姑苏区, waiting to be dispatched."""
    incident, _ = services.incident_report(
        actor=operator, channel="hotline_12345", category="SJ0102", lng=120.6265, lat=31.3115,
        description="观前街北侧人行道上堆放大量生活垃圾，散发异味，影响行人通行，请尽快清理。",
        address="姑苏区观前街北侧（近玄妙观）", contact_name="王建国",
        contact_phone="13962101234")
    return services.incident_accept(actor=operator, incident=incident, note="已核实，予以立案")


#: Work of 姑苏区住建局 for its desk's picture: (category, description, address, how far).
HOUSING_WORK = [
    ("SJ0301", "十全街沿街工地夜间施工，噪声扰民。", "十全街188号对面工地", "dispatch"),
    ("SJ0302", "干将西路施工工地未覆盖土方，扬尘严重。", "干将西路与养育巷交叉口", "dispatch"),
    ("SJ0303", "平江路北段人行道地砖破损松动，老人易绊倒。", "平江路北段（近白塔东路）", "sign"),
    ("SJ0303", "人民路公交站台旁路面破损，雨后积水。", "人民路乐桥公交站", "sign"),
    ("SJ0301", "凤凰街小区旁工地周末清晨打桩，影响休息。", "凤凰街小区东侧", "sign"),
    ("SJ0302", "山塘街改造工地渣土车未密闭，沿路洒落。", "山塘街西段", "dispatch"),
]


def _housing_work(operator: User) -> None:
    """Calls in 姑苏区 dispatched to its 住建局 (some signed for), each at a grid of its own."""
    grids = Grid.objects.current().filter(community__path__startswith=operator.region.path)
    step = max(1, grids.count() // (len(HOUSING_WORK) + 1))
    for i, (category, description, address, how_far) in enumerate(HOUSING_WORK):
        point = grids.order_by("code")[(i + 1) * step].shape.representative_point()
        incident, _ = services.incident_report(
            actor=operator, channel="hotline_12345", category=category, lng=point.x,
            lat=point.y, description=description, address=address,
            contact_phone=f"1391234{i:04d}")
        incident = services.incident_accept(actor=operator, incident=incident)
        incident = services.incident_dispatch(actor=operator, incident=incident,
                                              department="320508-ZJJ")
        if how_far == "sign":
            services.incident_sign(actor=User.objects.get(username="gusu_handler"),
                                   incident=incident)


@pytest.fixture
def zh_browser(browser):
    """Chromium with a Chinese interface: date fields read 年/月/日 as in a city office."""
    chinese = browser.browser_type.launch(executable_path=str(CHROMIUM),
                                          args=[*CHROMIUM_ARGS, "--lang=zh-CN"])
    yield chinese
    chinese.close()


def chinese_page(zh_browser, locale: str = "zh-CN"):
    context = zh_browser.new_context(viewport=VIEWPORT, locale=locale, device_scale_factor=1)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def test_screenshots_of_the_desks(zh_browser, live_server, transactional_db, tmp_path):
    """The Suzhou demo with ten days of history; every page of the desks at 1920×1080."""
    build_demo(progress=lambda message: None)
    build_history(days=10, incidents=800, seed=2026, progress=lambda message: None)
    cache.clear()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    operator_user = User.objects.get(username="gusu_operator")

    _housing_work(operator_user)
    incident = _hotline_call(operator_user)

    operator = chinese_page(zh_browser)
    sign_in(operator, base, "gusu_operator", DEMO_PASSWORD)
    _shot(operator, "home-operator.png")

    operator.goto(f"{base}/incidents/?state={','.join(sorted(wf.OPEN_STATES))}&sort=due_at")
    assert operator.locator(".incidents tbody tr").count() > 10
    _shot(operator, "case-desk.png")

    _open_incident(operator, base, incident)
    assert operator.locator("form[data-action='dispatch']").is_visible()
    _shot(operator, "incident-dispatch.png")

    stale = chinese_page(zh_browser)
    sign_in(stale, base, "city_operator", DEMO_PASSWORD)
    _open_incident(stale, base, incident)
    operator.select_option("#dispatch-department", "320508-ZJJ")
    operator.fill("#dispatch-note", "请于时限内签收处置")
    act(operator, "dispatch", "已派遣")
    stale.select_option("#dispatch-department", "320508-ZJJ")
    act(stale, "dispatch", "已派遣")
    assert stale.locator(".outcome-warning").is_visible()
    _shot(stale, "incident-conflict.png")

    handler = chinese_page(zh_browser)
    sign_in(handler, base, "gusu_handler", DEMO_PASSWORD)
    _shot(handler, "home-handler.png")
    handler.click(".topnav a[data-menu='department_desk']")
    handler.wait_for_selector(".incidents tbody tr")
    _shot(handler, "department-desk.png")
    _open_incident(handler, base, incident)
    act(handler, "sign", "处置中")
    handler.fill("#report_result-result", "已组织人员现场清理，恢复整洁")
    handler.set_input_files("#report_result-photos", photo_png(tmp_path / "after.png"))
    _shot(handler, "incident-report.png")
    act(handler, "report_result", "待核查")

    _open_incident(operator, base, incident)
    act(operator, "verify_pass", "已结案")
    operator.wait_for_function("document.querySelector('.photos img')?.naturalWidth > 0")
    _shot(operator, "incident-closed.png")

    operator.goto(f"{base}/incidents/?sort=-reported_at")
    operator.locator(".langswitch button[value='en']").click()
    operator.wait_for_url("**/incidents/**")
    assert operator.locator("html").get_attribute("lang") == "en"
    _shot(operator, "case-desk-en.png")
    for page in (operator, stale, handler):
        assert page.errors == []
