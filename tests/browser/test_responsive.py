"""The desktop pages on a tablet (1024×768) and a phone (390×844): no page
scrolls sideways (a wide table scrolls inside its own box), no part of the
top bar or of a page's layout lies over another, no field sticks out of its
card, the phone gets a link to the phone app (/m/), and a click on the
incident page's primary action (核查通过 for the operator, 反馈处置结果 for
the handler) reaches its button, not the map. One browser context per size,
logged in once per persona. Screenshots of the incident page and the
department desk at 390 px go to SCREENSHOTS/mobile/desktop-*.png."""

from __future__ import annotations

import pytest

from shanzhi.incidents import workflow as wf
from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS
from tests.browser.test_desk import sign_in
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import incident_in
from tests.mediation import conftest as mediation_fixtures
from tests.mediation.conftest import mediating

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded_taxonomy")]

desk = incident_fixtures.desk
cast = incident_fixtures.cast
seeded_taxonomy = incident_fixtures.seeded_taxonomy
_fresh_calendar = incident_fixtures._fresh_calendar
med = mediation_fixtures.med

TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}

#: What sticks out to the right of the window: the innermost elements wider
#: than it, for a readable failure.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = document.documentElement.scrollWidth;
  const out = [];
  if (wide > width + 1) {
    for (const el of document.querySelectorAll("body *")) {
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && box.width > 0 && el.offsetParent !== null
          && ![...el.children].some((c) => c.getBoundingClientRect().right > width + 1)) {
        out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`
                 + `#${el.id} right=${Math.round(box.right)}`);
      }
      if (out.length >= 8) break;
    }
  }
  return {width, wide, out};
}"""

#: Pairs of these elements whose boxes overlap (by more than a pixel each way).
OVERLAPS = """(selector) => {
  const boxes = [...document.querySelectorAll(selector)]
    .map((el) => [el, el.getBoundingClientRect()]).filter(([, b]) => b.width && b.height);
  const name = (el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`;
  const hits = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      if (Math.min(p.right, q.right) - Math.max(p.left, q.left) > 1
          && Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 1) {
        hits.push(`${name(a)} × ${name(b)}`);
      }
    }
  }
  return hits;
}"""

#: The parts of the top bar and the blocks of the pages' layouts: none may
#: lie over another.
PARTS = ", ".join([
    ".topbar .brand", ".topbar .topnav a", ".topbar .whoami > *", ".topbar .langswitch",
    ".topbar .logout", ".topbar .to-mobile",
    ".incident-head", ".incident-details", ".incident-timeline", ".incident-map",
    ".incident-actions", ".intake-form > .card", ".intake-buttons", ".home-columns > section",
    ".cc > *", ".sidepanel", ".mapwrap",
])

#: Controls, pictures and tables that stick out of their card (or form, or
#: section) sideways, unless a box on the way scrolls or clips them.
STICKING_OUT = """() => {
  const out = [];
  const query = "main :is(input:not([type=hidden]), select, textarea, button, .btn, img, table)";
  for (const el of document.querySelectorAll(query)) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    let holder = null, clipped = false;
    for (let p = el.parentElement; p && p.tagName !== "MAIN"; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") { clipped = true; break; }
      if (p.matches(".card, .filters, .results, fieldset, section, form")) { holder = p; break; }
    }
    if (clipped || !holder) continue;
    const outer = holder.getBoundingClientRect();
    if (box.right > outer.right + 1 || box.left < outer.left - 1) {
      out.push(`${el.tagName.toLowerCase()}#${el.id}.${[...el.classList].join(".")}`
               + ` [${Math.round(box.left)}–${Math.round(box.right)}] out of`
               + ` ${holder.tagName.toLowerCase()}.${[...holder.classList].join(".")}`
               + ` [${Math.round(outer.left)}–${Math.round(outer.right)}]`);
    }
    if (out.length >= 6) break;
  }
  return out;
}"""


def _fits(page, problems: list[str], what: str) -> None:
    width = page.viewport_size["width"]
    seen = page.evaluate(OVERFLOW)
    if seen["wide"] > seen["width"] + 1:
        problems.append(f"{what} at {width} px is {seen['wide']} px wide: {seen['out']}")
    overlaps = page.evaluate(OVERLAPS, PARTS)
    if overlaps:
        problems.append(f"{what} at {width} px, overlapping: {overlaps}")
    out = page.evaluate(STICKING_OUT)
    if out:
        problems.append(f"{what} at {width} px, sticking out: {out}")


def _visit(page, url: str, problems: list[str], *, ready: str | None = None) -> None:
    page.goto(url)
    if ready:
        page.wait_for_function(ready, timeout=TIMEOUT_MS)
    _fits(page, problems, url)


def _incident(page, base: str, number: str, action: str, problems: list[str],
              shot: str | None = None) -> None:
    """Open the incident, check the layout, and tap its primary action's button."""
    _visit(page, f"{base}/incidents/{number}/", problems,
           ready="window.__incidentMapReady === true")
    button = f".incident-actions .action-buttons button[data-action='{action}']"
    page.click(button)  # fails when the map (or anything) lies over the button
    form = page.locator(f"form.action-form[data-action='{action}']")
    assert form.is_visible()
    form.locator("button[type=submit]").click(trial=True)  # reachable too
    if shot:
        page.mouse.move(0, 0)
        page.screenshot(path=str(SCREENSHOTS / "mobile" / shot), full_page=True)


def test_the_desktop_pages_fit_a_tablet_and_a_phone(browser, live_server, med):
    cast = med.cast
    to_verify = incident_in(cast, wf.HANDLED, address="西街1号门口，靠近公交站台的绿化带旁",
                            description="路边有暴露垃圾，" * 12)
    to_report = incident_in(cast, wf.IN_PROGRESS)
    case = mediating(med)
    base = live_server.url
    (SCREENSHOTS / "mobile").mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    for viewport in (TABLET, PHONE):
        phone = viewport is PHONE
        context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1,
                                      has_touch=phone, is_mobile=phone)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            page.errors = []
            page.on("pageerror", lambda error, page=page: page.errors.append(str(error)))

            sign_in(page, base, cast.town_operator.username)
            _fits(page, problems, "home")
            mobile = page.locator(".topbar a.to-mobile")
            assert mobile.is_visible() == phone  # the link to the phone app, on a phone only
            assert mobile.get_attribute("href").endswith("/m/")
            for path in ("/incidents/", "/incidents/new/", "/notifications/", "/mediation/",
                         "/mediation/new/", "/mediation/roster/",
                         f"/mediation/cases/{case.number}/", "/account/security/", "/patrols/"):
                _visit(page, base + path, problems)
            _visit(page, f"{base}/map/", problems, ready="window.__mapReady === true")
            # the menu's row scrolls sideways on a phone: the current entry is in view
            entry = page.locator(".topnav a.active").bounding_box()
            assert entry["x"] >= 0 and entry["x"] + entry["width"] <= viewport["width"]
            _visit(page, f"{base}/command/", problems, ready="window.__commandReady === true")
            _incident(page, base, to_verify.number, "verify_pass", problems,
                      shot="desktop-incident.png" if phone else None)

            page.click(".logout button")
            sign_in(page, base, cast.handler.username)
            _visit(page, f"{base}/desk/", problems)
            if phone:  # the table is wider than the phone: it scrolls in its own box
                assert page.evaluate("() => { const box = document.querySelector('.table-wrap');"
                                     " return box.scrollWidth > box.clientWidth; }")
                page.screenshot(path=str(SCREENSHOTS / "mobile" / "desktop-desk.png"),
                                full_page=True)
            _incident(page, base, to_report.number, "report_result", problems,
                      shot="desktop-incident-handler.png" if phone else None)
            assert page.errors == []
        finally:
            context.close()

    assert not problems, "\n".join(problems)
