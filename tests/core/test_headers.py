"""Every answer carries the security headers — pages, the API, Open311, static
files, error pages — with a strict Content-Security-Policy; behind TLS
(``SHANZHI_SECURE=1``) the cookies are Secure, HSTS is sent, and the proxy's
``X-Forwarded-Proto: https`` makes a request count as secure."""

from __future__ import annotations

import importlib.util
from http.cookies import SimpleCookie

import pytest
from django.conf import settings as django_settings

from shanzhi.core.middleware import content_security_policy
from tests.conftest import PASSWORD

ANSWERS = {  # what is asked, and the status it gets
    "a page": ("/login/", 200),
    "an API answer": ("/api/v1/geo/territory", 401),
    "an Open311 answer": ("/open311/v2/discovery.json", 200),
    "the API docs": ("/api/v1/docs", 200),
    "a static file": ("/static/web/base.css", 200),
    "a 404": ("/no-such-page/", 404),
}
SECURITY_SETTINGS = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER",
                     "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                     "SECURE_SSL_REDIRECT")


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: sources}."""
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def settings_module(monkeypatch, tmp_path, **env):
    """settings.py read again with these SHANZHI_* variables."""
    monkeypatch.setenv("SHANZHI_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(f"SHANZHI_{name}", value)
    spec = importlib.util.spec_from_file_location("settings_again", django_settings.BASE_DIR
                                                  / "settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def behind_tls(settings, monkeypatch, tmp_path):
    """This process's settings as ``SHANZHI_SECURE=1`` makes them."""
    secure = settings_module(monkeypatch, tmp_path, SECURE="1")
    for name in SECURITY_SETTINGS:
        setattr(settings, name, getattr(secure, name))
    return settings


def cookies_of(response) -> SimpleCookie:
    return response.cookies


# ---------------------------------------------------------------- every answer

@pytest.mark.parametrize(("path", "status"), ANSWERS.values(), ids=ANSWERS.keys())
def test_every_kind_of_answer_carries_every_security_header(client, db, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "geolocation=(self)" in response["Permissions-Policy"]
    assert "camera=(self)" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]
    assert policy(response)["script-src"] == ["'self'"]


def test_the_policy_allows_no_inline_script_no_eval_and_no_framing(client, db):
    csp = policy(client.get("/login/"))
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["worker-src"] == ["'self'", "blob:"]
    assert csp["connect-src"] == ["'self'"]
    assert not any("unsafe" in source for sources in csp.values() for source in sources)


def test_a_tile_server_is_allowed_for_images_and_requests_only(client, db, settings):
    settings.MAP_TILE_URL = "https://tiles.zwww.example:8443/wmts/{z}/{x}/{y}.png"
    csp = policy(client.get("/login/"))
    assert "https://tiles.zwww.example:8443" in csp["img-src"]
    assert "https://tiles.zwww.example:8443" in csp["connect-src"]
    assert "https://tiles.zwww.example:8443" not in csp["script-src"]


def test_a_tile_url_on_the_site_itself_adds_nothing():
    assert content_security_policy("/tiles/{z}/{x}/{y}.png") == content_security_policy("")


def test_no_page_template_holds_an_inline_script_or_style():
    """The policy would block them: scripts and styles live in static files."""
    import re

    templates = django_settings.BASE_DIR / "web" / "templates"
    for path in templates.rglob("*.html"):
        html = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or "application/json" in tag, f"{path.name}: {tag}"
        assert not re.search(r"\sstyle=|<style\b|\son[a-z]+=|javascript:", html), path.name
        assert not re.search(r'\s(x-[a-z]+|@[a-z]+|:[a-z-]+)="', html), path.name  # Alpine


# ---------------------------------------------------------------- cookies

def test_the_session_cookie_is_http_only_same_site_lax_and_lasts_a_shift(client, personas):
    response = client.post("/login/", {"username": "west_operator", "password": PASSWORD})
    assert response.status_code == 302
    session = cookies_of(response)[django_settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert session["max-age"] == 8 * 3600
    assert not session["secure"]  # plain HTTP (no SHANZHI_SECURE)


def test_without_tls_no_hsts_is_sent(client, db):
    assert "Strict-Transport-Security" not in client.get("/login/", secure=True)


# ---------------------------------------------------------------- behind TLS

def test_shanzhi_secure_turns_on_secure_cookies_hsts_and_the_proxy_header(monkeypatch,
                                                                           tmp_path):
    secure = settings_module(monkeypatch, tmp_path, SECURE="1", SESSION_HOURS="4")
    assert secure.SESSION_COOKIE_SECURE and secure.CSRF_COOKIE_SECURE
    assert secure.SECURE_HSTS_SECONDS == 365 * 24 * 3600
    assert secure.SECURE_HSTS_INCLUDE_SUBDOMAINS is False
    assert secure.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert secure.SECURE_SSL_REDIRECT is False
    assert secure.SESSION_COOKIE_AGE == 4 * 3600
    plain = settings_module(monkeypatch, tmp_path, SECURE="0")
    assert not plain.SESSION_COOKIE_SECURE and plain.SECURE_HSTS_SECONDS == 0
    assert plain.SECURE_PROXY_SSL_HEADER is None


def test_the_proxy_header_and_subdomains_are_configurable(monkeypatch, tmp_path):
    secure = settings_module(monkeypatch, tmp_path, SECURE="1", PROXY_SSL_HEADER="X-Scheme",
                             HSTS_SUBDOMAINS="1", SSL_REDIRECT="1")
    assert secure.SECURE_PROXY_SSL_HEADER == ("HTTP_X_SCHEME", "https")
    assert secure.SECURE_HSTS_INCLUDE_SUBDOMAINS and secure.SECURE_SSL_REDIRECT


def test_behind_tls_the_cookies_are_secure(client, personas, behind_tls):
    response = client.post("/login/", {"username": "west_operator", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 302
    cookies = cookies_of(response)
    assert cookies[django_settings.SESSION_COOKIE_NAME]["secure"]
    page = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert page.status_code == 200
    assert page.cookies[django_settings.CSRF_COOKIE_NAME]["secure"]


def test_behind_tls_a_forwarded_https_request_is_secure_and_gets_hsts(client, db, behind_tls):
    response = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.wsgi_request.is_secure()
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    static = client.get("/static/web/base.css", headers={"X-Forwarded-Proto": "https"})
    assert static["Strict-Transport-Security"] == "max-age=31536000"


def test_behind_tls_a_plain_http_request_is_not_secure_and_gets_no_hsts(client, db,
                                                                        behind_tls):
    response = client.get("/login/")
    assert not response.wsgi_request.is_secure()
    assert "Strict-Transport-Security" not in response


def test_without_the_proxy_setting_a_forged_header_does_not_make_a_request_secure(client, db):
    response = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert not response.wsgi_request.is_secure()
