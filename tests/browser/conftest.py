"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Chromium is not downloaded by Playwright: ``scripts/install-browser.sh`` installs
/usr/bin/chromium and a CJK font. Without it the browser tests are skipped, or
fail when ``SHANZHI_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from django.core.cache import cache

from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
VIEWPORT = {"width": 1920, "height": 1080}
#: Where the tests' screenshots go: docs/screenshots/ with SHANZHI_SCREENSHOTS=1
#: (`make screenshots`), else var/screenshots/.
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("SHANZHI_SCREENSHOTS") == "1"
               else ROOT / "var" / "screenshots")
#: Rendering through SwiftShader is slow; a first map load may take several seconds.
TIMEOUT_MS = 60_000


def _unavailable(reason: str) -> None:
    if os.environ.get("SHANZHI_REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _unavailable("Chromium not installed: run scripts/install-browser.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright not installed: pip install -e '.[dev]'")
    # Playwright's sync API runs an event loop in this thread from here to the
    # session's end; Django would refuse the ORM calls made from it (fixtures;
    # the live server's thread is unaffected). Its async-safety check is off
    # for that time only — never at import, which would switch it off for every
    # test of the session (tests/core/test_async_safety.py proves it is on).
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    """Personas and demo users are created for every test: hash their passwords quickly."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_map_cache() -> Iterator[None]:
    """The GeoJSON cache is keyed by territory revision and region id, both of
    which start again in every test database: never serve another test's shapes."""
    cache.clear()
    yield
    cache.clear()


#: Run in every page before its own scripts: a violation of the
#: Content-Security-Policy (core/middleware.py) is written to the console.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.effectiveDirective} refused ${e.blockedURI || "inline"}`
                + ` (${e.sourceFile || document.URL}:${e.lineNumber}) ${e.sample || ""}`);
});
"""


def _wait_for_function(page, expression: str, *, arg=None, timeout: float | None = None,
                       polling: float | str | None = None):
    """``Page.wait_for_function`` that the CSP does not refuse: Playwright's
    own compiles the predicate with eval inside the page, which a policy
    without 'unsafe-eval' blocks; this one polls ``page.evaluate`` (run
    through the devtools protocol, outside the page's policy)."""
    import time

    from playwright.sync_api import Error

    deadline = time.monotonic() + (TIMEOUT_MS if timeout is None else timeout) / 1000
    while True:
        try:
            value = page.evaluate(expression, arg)
        except Error as error:  # the page is navigating: ask the next one
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"wait_for_function: still false after the timeout: {expression}")
        page.wait_for_timeout(polling if isinstance(polling, int | float) else 100)


def _is_csp_violation(text: str) -> bool:
    # ours, and Chromium's own "Refused to … because it violates … Content Security Policy"
    return text.startswith("CSP violation:") or "Content Security Policy" in text


@pytest.fixture(autouse=True)
def _no_csp_violation(monkeypatch) -> Iterator[list[str]]:
    """Every browser context a test opens (``new_page``, or a browser of its
    own) listens for CSP violations; the test fails if a page broke the policy,
    so every browser test proves its pages run under it."""
    try:
        from playwright.sync_api import Browser, Page
    except ImportError:
        yield []
        return
    violations: list[str] = []
    new_context = Browser.new_context

    def listening(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        context.add_init_script(script=CSP_LISTENER)
        context.on("console", lambda message: _is_csp_violation(message.text)
                   and violations.append(f"{message.text} [{message.location.get('url', '')}]"))
        return context

    monkeypatch.setattr(Browser, "new_context", listening)
    monkeypatch.setattr(Page, "wait_for_function", _wait_for_function)
    yield violations
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations),
                    pytrace=False)


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(locale="zh-CN")``: a fresh browser context (no cookies) and page."""
    contexts = []

    def make(locale: str = "zh-CN"):
        context = browser.new_context(viewport=VIEWPORT, locale=locale,
                                      device_scale_factor=1)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def log_in(live_server) -> Callable:
    """``log_in(page, user)`` fills the log-in form and waits for the map to be ready."""

    def do(page, user, password: str = PASSWORD) -> None:
        page.goto(f"{live_server.url}/login/?next=/map/")  # else the home page
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("form.login-form button[type=submit]")
        pass_second_factor(page, user)
        page.wait_for_url(f"{live_server.url}/map/")
        wait_for_map(page)

    return do


def pass_second_factor(page, user) -> None:
    """When the log-in asks for a code (a city admin's required second factor),
    enrol with the key the page shows, or type the code of the enrolled key, as
    a person with an authenticator app would."""
    from shanzhi.accounts.models import TwoFactor

    page.wait_for_url(lambda url: "/login/code/" in url or "/login/" not in url)
    if "/login/code/" not in page.url:
        return
    shown = page.locator(".otp-secret")
    secret = ("".join(shown.inner_text().split()) if shown.count()
              else TwoFactor.objects.get(user=user).secret)
    page.fill("#id_code", pyotp.TOTP(secret).now())
    page.click("form.login-form button[type=submit]")


def wait_for_map(page, condition: str = "true") -> None:
    """Wait until the map is idle with its data and ``condition`` (JS) holds."""
    page.wait_for_function(
        f"window.__mapReady === true && window.__mapState && ({condition})",
        timeout=TIMEOUT_MS)


def rendered_codes(page, *layers: str) -> set[str]:
    """Codes of the features drawn in these map layers, inside the viewport."""
    return set(page.evaluate(
        """(layers) => window.__map.queryRenderedFeatures({layers})
                          .map((f) => f.properties.code)""", list(layers)))


def click_map_at(page, lng: float, lat: float) -> None:
    """Click the map where this WGS-84 point is drawn."""
    point = page.evaluate("([lng, lat]) => window.__map.project([lng, lat])", [lng, lat])
    box = page.locator("#map canvas").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
