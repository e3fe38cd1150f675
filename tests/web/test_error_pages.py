"""The error pages (400, 403, 404, 500, and the CSRF refusal) speak the
user's language, show the top bar to a known user, say why, and offer a way
back; a 404 never tells an incident outside the territory from one that does
not exist; under /api/ and /open311/ the errors keep their own formats."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from shanzhi.incidents import workflow as wf
from tests.incidents.conftest import incident_in

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


@pytest.fixture
def failing(settings):
    settings.ROOT_URLCONF = "tests.web.error_urls"
    return Client(raise_request_exception=False)


def ways(html: str) -> set[str]:
    """The ways back the page offers."""
    return set(re.findall(r'data-way="([a-z]+)"', html))


def main(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


def test_a_missing_page_says_so_in_chinese_with_the_top_bar_and_the_way_home(client, personas):
    client.force_login(personas.west_operator)
    response = client.get("/no-such-page/", **ZH)
    html = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在" in html and "页面不存在，或不在您的管辖范围内。" in html
    assert 'data-menu="home"' in html and "west_operator" in html
    assert ways(html) == {"home"}


def test_a_missing_page_says_so_in_english(client, personas):
    client.force_login(personas.west_operator)
    html = client.get("/no-such-page/", **EN).content.decode()
    assert "Page not found" in html and "not within your territory" in html
    assert 'data-menu="home"' in html


def test_an_anonymous_visitor_is_offered_to_log_in(client, db):
    html = client.get("/no-such-page/", **ZH).content.decode()
    assert ways(html) == {"home", "login"}
    assert 'href="/login/?next=/no-such-page/"' in html
    assert 'data-menu="home"' not in html


def test_the_page_before_is_offered_when_it_is_ours(client, personas):
    client.force_login(personas.west_operator)
    html = client.get("/no-such-page/", HTTP_REFERER="http://testserver/incidents/?state=open",
                      **ZH).content.decode()
    assert ways(html) == {"back", "home"}
    assert 'href="http://testserver/incidents/?state=open"' in html
    assert "返回上一页" in html


def test_a_page_before_on_another_site_is_not_offered(client, personas):
    client.force_login(personas.west_operator)
    html = client.get("/no-such-page/", HTTP_REFERER="https://evil.example/x",
                      **ZH).content.decode()
    assert ways(html) == {"home"} and "evil.example" not in html


def test_an_incident_outside_the_territory_looks_exactly_like_one_that_does_not_exist(
        client, cast):
    elsewhere = incident_in(cast, wf.REGISTERED)
    client.force_login(cast.east_operator)
    outside = client.get(f"/incidents/{elsewhere.number}/", **ZH)
    missing = client.get("/incidents/SJ20990101000001/", **ZH)
    assert outside.status_code == missing.status_code == 404
    assert main(outside.content.decode()) == main(missing.content.decode())
    assert elsewhere.number not in outside.content.decode().replace(
        f"/incidents/{elsewhere.number}/", "")  # only in the language switch's return address


def test_a_refused_role_is_told_why_in_chinese(client, personas):
    client.force_login(personas.viewer)  # a grid worker is sent to the phone's report
    response = client.get("/incidents/new/", **ZH)
    html = response.content.decode()
    assert response.status_code == 403
    assert "无权访问" in html and "您的角色无权访问此页面。" in html
    assert 'data-menu="home"' in html and ways(html) == {"home"}


def test_a_refused_role_is_told_why_in_english(client, personas):
    client.force_login(personas.viewer)
    html = client.get("/incidents/new/", **EN).content.decode()
    assert "No access" in html and "Your role may not open this page." in html


def test_a_bad_request_gets_the_page_with_the_top_bar_in_chinese(client, personas):
    client.force_login(personas.west_operator)
    response = client.get("/incidents/?q=%00", **ZH)  # refused before any view (core/input.py)
    html = response.content.decode()
    assert response.status_code == 400
    assert "请求有误" in html and "无法处理此请求" in html
    assert 'data-menu="home"' in html and ways(html) == {"home"}


def test_a_bad_request_in_english_for_an_anonymous_visitor(client, db):
    html = client.get("/login/?next=%00", **EN).content.decode()
    assert "Bad request" in html and ways(html) == {"home", "login"}


def test_a_server_error_is_a_static_page_in_chinese_with_english_below(failing, db):
    response = failing.get("/boom/", **ZH)
    html = response.content.decode()
    assert response.status_code == 500
    assert "服务器出错了" in html and "错误已记录" in html
    assert '<p class="error-other" lang="en">Something went wrong on our side' in html
    assert ways(html) == {"home", "login"}


def test_a_server_error_in_english(failing, db):
    html = failing.get("/boom/", **EN).content.decode()
    assert "The server failed" in html and "服务器" not in html.replace("善治", "")


def test_the_server_error_page_reads_no_database(failing, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert failing.get("/boom/", **ZH).status_code == 500


def test_a_server_error_under_the_api_is_the_api_s_json_error(failing, db):
    response = failing.get("/api/v1/boom", **EN)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"error": {
        "code": "server_error", "message": "the server failed to answer: the error was logged",
        "field": None}}


def test_a_server_error_under_open311_is_georeport_s_error(failing, db):
    response = failing.get("/open311/v2/boom.json", **EN)
    assert response.status_code == 500
    assert response.json()[0]["code"] == 500


def test_a_missing_address_under_the_api_stays_json(client, db):
    response = client.get("/api/v1/no-such-thing", **ZH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_refused_form_says_so_in_the_site_s_style(personas):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(personas.west_operator)
    response = browser.post("/notifications/read/", {}, **ZH)
    html = response.content.decode()
    assert response.status_code == 403
    assert "表单已失效" in html and "安全令牌" in html
    assert 'data-menu="home"' in html and ways(html) == {"home"}
    english = browser.post("/notifications/read/", {}, **EN).content.decode()
    assert "The form has expired" in english
