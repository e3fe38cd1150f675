"""The pages: log-in, log-out, the map page, its language, and the map's API
seen through the page's session (an out-of-territory operator gets nothing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_map_cache():
    """GeoJSON is cached by territory revision and region id, which start again
    in every test database."""
    cache.clear()
    yield
    cache.clear()


def map_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="map-config" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def test_logging_in_leads_to_the_home_page(client, personas):
    # not the city admin: that role gives a second factor first (tests/accounts/test_two_factor.py)
    response = client.post("/login/", {"username": "west_operator", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    response = client.get("/")
    assert response.status_code == 200
    assert 'class="home-tiles"' in response.content.decode()


def test_logging_in_returns_to_the_page_asked_for(client, personas):
    response = client.post("/login/?next=/map/", {"username": "west_operator",
                                                   "password": PASSWORD, "next": "/map/"})
    assert response["Location"] == "/map/"


def test_a_wrong_password_is_refused(client, personas):
    response = client.post("/login/", {"username": "admin", "password": "wrong"})
    assert response.status_code == 200
    assert 'class="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_anonymous_visitor_is_sent_to_the_log_in_page(client, db):
    for url in ("/", "/map/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_a_logged_in_user_skips_the_log_in_page(client, personas):
    client.force_login(personas.admin)
    assert client.get("/login/")["Location"] == "/"


def test_logging_out_is_a_post_and_ends_the_session(client, personas):
    client.force_login(personas.admin)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/map/").status_code == 302


def test_the_map_page_is_chinese_by_default(client, personas):
    client.force_login(personas.admin)
    response = client.get("/map/")
    html = response.content.decode()
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-CN">' in html
    # Django's own catalogue already translates these two
    assert "搜索" in html            # "Search"
    assert "Log out" not in html     # "注销"
    assert '<span class="whoami-territory">苏州市</span>' in html


ZH_CATALOGUE = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES" / "django.mo"


@pytest.mark.skipif(not ZH_CATALOGUE.exists(), reason="the zh_Hans catalogue is not compiled")
def test_the_map_page_speaks_chinese_with_the_projects_catalogue(client, personas):
    client.force_login(personas.admin)
    response = client.get("/map/")
    html = response.content.decode()
    assert "网格" in html
    assert "Territory map" not in html
    assert map_config(response)["messages"]["levels"] == {
        "city": "市", "district": "区县", "town": "镇街", "community": "村社区", "grid": "网格"}


def test_the_map_page_is_english_when_the_browser_asks_for_it(client, personas):
    client.force_login(personas.admin)
    response = client.get("/map/", headers={"Accept-Language": "en-US,en;q=0.9"})
    html = response.content.decode()
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in html
    assert "Territory map" in html and "Log out" in html
    assert map_config(response)["messages"]["levels"]["community"] == "Community/village"


def test_the_language_switch_sets_the_language_cookie(client, personas):
    client.force_login(personas.admin)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/map/"})
    assert response["Location"] == "/map/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert '<html lang="en">' in client.get("/map/").content.decode()
    # the cookie wins over the browser's wish
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/map/"})
    response = client.get("/map/", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in response.content.decode()


def test_the_header_names_the_user_their_role_and_territory(client, personas):
    client.force_login(personas.east_operator)
    html = client.get("/map/", headers={"Accept-Language": "en"}).content.decode()
    assert re.search(r'<a class="whoami-name" href="/account/security/"[^>]*>east_operator</a>',
                     html)
    assert '<span class="whoami-role">Linkage-centre operator</span>' in html
    assert '<span class="whoami-territory">吴中区</span>' in html
    assert "虎丘区" not in html


def test_a_grid_worker_is_shown_their_grid(client, personas, territory):
    client.force_login(personas.worker)
    html = client.get("/map/").content.decode()
    assert f'<span class="whoami-territory">{territory.west_grids[0].name}</span>' in html


def test_the_map_config_holds_relative_api_urls_and_the_tile_url(client, personas, settings):
    settings.MAP_TILE_URL = "https://tiles.example.gov.cn/{z}/{x}/{y}.png"
    client.force_login(personas.admin)
    config = map_config(client.get("/map/"))
    assert config["apiBase"] == "/api/v1/geo/"
    assert config["tileUrl"] == "https://tiles.example.gov.cn/{z}/{x}/{y}.png"
    assert config["loginUrl"] == "/login/"


def test_the_map_reads_the_api_with_the_page_session(client, personas):
    client.force_login(personas.admin)
    territory = client.get("/api/v1/geo/territory").json()
    assert [r["code"] for r in territory["roots"]] == ["320500"]
    children = client.get("/api/v1/geo/regions/320500/children.geojson?zoom=14").json()
    assert sorted(f["properties"]["code"] for f in children["features"]) == ["320505", "320506"]


def test_the_out_of_territory_operator_gets_nothing_of_the_west(client, personas):
    client.force_login(personas.east_operator)
    response = client.get("/api/v1/geo/regions/320505/children.geojson")
    assert response.status_code == 404
    assert client.get("/api/v1/geo/regions/320505/grids.geojson").status_code == 404
    assert client.get("/api/v1/geo/search", {"q": "320505"}).json() == []
    codes = [hit["code"] for hit in client.get("/api/v1/geo/search", {"q": "3205"}).json()]
    assert codes and all(code.startswith("320506") for code in codes)
    roots = client.get("/api/v1/geo/territory").json()["roots"]
    assert [r["code"] for r in roots] == ["320506"]


def test_an_anonymous_visitor_gets_401_from_the_map_api(client, territory):
    response = client.get("/api/v1/geo/territory")
    assert response.status_code == 401
