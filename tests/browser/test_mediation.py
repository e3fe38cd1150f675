"""A dispute through the mediation desk in a real browser, two sessions: the
town centre's operator registers it in the intake form and assigns it to a
mediator; the mediator records a session and the agreement (two clauses,
judicial confirmation), downloads the agreement's PDF, records a follow-up
(it holds) and closes the case. With SHANZHI_SCREENSHOTS=1 the pages go to
docs/screenshots/mediation/."""

from __future__ import annotations

import subprocess

import pytest

from shanzhi.mediation.models import MediationCase, Session
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_desk import sign_in
from tests.mediation import conftest as mediation_fixtures
from tests.mediation.conftest import ID_NUMBER

pytestmark = pytest.mark.browser

med = mediation_fixtures.med
cast = mediation_fixtures.cast
desk = mediation_fixtures.desk
_fresh_calendar = mediation_fixtures._fresh_calendar

CLAUSES = ("李四于2026年3月10日前赔偿张三维修费人民币2000元", "双方就本纠纷不再追究")


def shot(page, name: str) -> None:
    folder = SCREENSHOTS / "mediation"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def state_of(page) -> str:
    """The state's class on the case page (state-m-received …)."""
    classes = page.locator(".incident-head .state-big").get_attribute("class") or ""
    return next(c for c in classes.split() if c.startswith("state-m-")).removeprefix("state-m-")


def act(page, action: str, expect_state: str | None = None) -> None:
    """Open the action's form if closed, submit it, wait for the refreshed case."""
    form = page.locator(f"form.action-form[data-action='{action}']")
    if form.is_hidden():
        page.click(f".case-actions .action-buttons button[data-action='{action}']")
    form.locator("button[type=submit]").click()
    if expect_state:
        page.wait_for_function(
            "(s) => document.querySelector('.incident-head .state-big')"
            "?.classList.contains('state-m-' + s)", arg=expect_state)


def test_a_dispute_is_registered_mediated_agreed_and_closed_through_the_pages(
        new_page, live_server, med, tmp_path):
    base = live_server.url

    operator = new_page()
    sign_in(operator, base, med.cast.town_operator.username)
    operator.click(".topnav a[data-menu='mediation']")
    operator.wait_for_url(f"{base}/mediation/")
    operator.click("a.desk-new")
    operator.wait_for_url(f"{base}/mediation/new/")
    operator.select_option("#m-dispute_type", "neighbour")
    operator.fill("#m-title", "楼上卫生间漏水致楼下天花板受损")
    operator.fill("#m-description", "楼上住户卫生间防水层老化，漏水致楼下天花板霉变。"
                                    "楼下要求赔偿维修费，双方多次协商不成。")
    operator.fill("#m-amount", "2000")
    operator.fill("#m-visits", "2")
    operator.fill("#m-p0-name", "张三")
    operator.fill("#m-p0-id_number", ID_NUMBER)
    operator.fill("#m-p0-phone", "13812345678")
    operator.check("#m-p0-vulnerable")
    operator.fill("#m-p1-name", "李四")
    operator.fill("#m-p1-phone", "13900001111")
    operator.select_option("#m-region", "320505001001")
    shot(operator, "intake.png")
    operator.click("#mediation-form button[type=submit]")
    operator.wait_for_url(f"{base}/mediation/cases/TJ*/")
    case = MediationCase.objects.get()
    assert state_of(operator) == "received"
    assert case.risk_level == "medium" and case.risk_reasons == ["vulnerable"]
    assert operator.locator(".party-id").first.inner_text() == "110105********002X"
    assert operator.locator(".party-phone").first.inner_text() == "138****5678"

    operator.select_option("#assign-assignee", med.mediator.username)
    operator.fill("#assign-note", "请本周内组织调解")
    act(operator, "assign", "mediating")
    operator.goto(f"{base}/mediation/")
    assert operator.locator(f".mediation-cases .col-number a:text('{case.number}')").count() == 1
    shot(operator, "list.png")

    mediator = new_page()
    sign_in(mediator, base, med.mediator.username)
    mediator.click(".topnav a[data-menu='mediation']")
    mediator.click(f".mediation-cases .col-number a:text('{case.number}')")
    mediator.wait_for_url(f"**/mediation/cases/{case.number}/")
    assert state_of(mediator) == "mediating"

    mediator.fill("#record_session-place", "西街道矛调中心调解室")
    mediator.fill("#record_session-participants", "张三、李四、调解员")
    mediator.fill("#record_session-note", "双方陈述，李四同意承担维修费。")
    act(mediator, "record_session")
    mediator.locator(".sessions li").first.wait_for()
    assert Session.objects.filter(case=case).count() == 1

    mediator.click(".case-actions .action-buttons button[data-action='agree']")
    mediator.fill("#agree-terms", "\n".join(CLAUSES))
    mediator.fill("#agree-performance", "李四以银行转账方式一次付清。")
    mediator.check("#agree-judicial_confirmation")
    act(mediator, "agree", "agreed")
    assert mediator.locator(".terms li").all_inner_texts() == list(CLAUSES)
    shot(mediator, "case-agreement.png")

    with mediator.expect_download() as download:
        mediator.click("a.agreement-pdf")
    saved = tmp_path / "agreement.pdf"
    download.value.save_as(saved)
    assert download.value.failure() is None
    assert saved.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(saved), "-"], check=True,
                          capture_output=True, text=True).stdout
    squeezed = "".join(text.split())
    assert CLAUSES[1] in squeezed and "人民调解协议书" in squeezed
    assert ID_NUMBER not in squeezed and "110105********002X" in squeezed

    mediator.click(".case-actions .action-buttons button[data-action='follow_up']")
    assert mediator.locator("#follow_up-holds").is_checked()
    mediator.fill("#follow_up-note", "回访：赔偿款已付清，双方满意。")
    act(mediator, "follow_up")
    mediator.wait_for_function(
        "() => document.querySelectorAll('.timeline li.tl-follow_up').length === 1")
    mediator.click(".case-actions .action-buttons button[data-action='close']")
    mediator.fill("#close-note", "协议履行完毕，结案。")
    act(mediator, "close", "closed")
    case.refresh_from_db()
    assert (case.state, case.holds, case.judicial_confirmation) == ("closed", True, True)
    buttons = mediator.locator(".case-actions .action-buttons button")
    assert [b.get_attribute("data-action") for b in buttons.all()] == ["reopen"]  # all that is left

    mediator.goto(f"{base}/mediation/roster/")
    town = mediator.locator("section.centre", has_text=med.town.name)
    assert "虎丘区住建局" in town.locator(".roster").inner_text()
    shot(mediator, "roster.png")
    for page in (operator, mediator):
        assert page.errors == []
