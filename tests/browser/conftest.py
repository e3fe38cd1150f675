"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Chromium is not downloaded by Playwright: ``scripts/install-browser.sh`` installs
/usr/bin/chromium and a CJK font. Without it the browser tests are skipped, or
fail when ``SHANZHI_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; Django would refuse
# ORM calls made from it (fixtures, the live server's thread is unaffected).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
VIEWPORT = {"width": 1920, "height": 1080}
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
    with sync_playwright() as playwright:
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
        page.wait_for_url(f"{live_server.url}/map/")
        wait_for_map(page)

    return do


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
