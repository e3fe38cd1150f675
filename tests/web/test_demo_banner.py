"""While ``shanzhi demo`` builds its history, the home page and the command
centre say how far it is and how long it will still take (at the rate so
far); the command centre's banner asks again every ten seconds
(``demo_progress.js`` and ``/demo-progress.json``); when nothing is being
built, or the build is done, nothing shows."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from shanzhi.demo.progress import record_progress

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
HALF = "演示数据正在生成：已生成 25,000 / 50,000 起事件，预计还需 10 分钟"


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def half_done():
    """25,000 of 50,000 in the 10 minutes since the start: 10 more to go."""
    record_progress(made=25_000, total=50_000, started_at=NOW - dt.timedelta(minutes=10))


def page(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url, **ZH)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("url", ["/", "/command/"])
def test_half_way_the_pages_show_the_numbers_and_the_time_left(client, personas, frozen, url):
    half_done()
    html = page(client, personas.west_operator, url)
    assert HALF in html
    assert 'id="demo-banner"' in html and 'data-url="/demo-progress.json"' in html
    assert "web/demo_progress.js" in html


def test_the_banner_speaks_english_too(client, personas, frozen):
    half_done()
    client.force_login(personas.west_operator)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Demo data is being built: 25,000 / 50,000 incidents made, about 10 minutes to go" \
        in html


def test_the_estimate_follows_the_rate_so_far(client, personas, frozen):
    half_done()
    frozen.shift(dt.timedelta(minutes=10))  # no more incidents in ten minutes: slower
    assert "预计还需 20 分钟" in page(client, personas.west_operator, "/")


def test_before_the_first_incident_the_time_left_is_being_estimated(client, personas, frozen):
    record_progress(made=0, total=50_000, started_at=NOW)
    assert "已生成 0 / 50,000 起事件，正在估算剩余时间" in page(client, personas.west_operator, "/")


def test_the_json_answer_gives_the_banner_s_text(client, personas, frozen):
    half_done()
    client.force_login(personas.west_operator)
    response = client.get("/demo-progress.json", **ZH)
    assert response.json() == {"text": HALF}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/", "/command/"])
def test_with_nothing_being_built_nothing_shows(client, personas, frozen, url):
    html = page(client, personas.west_operator, url)
    assert "demo-banner" not in html and "demo_progress.js" not in html


@pytest.mark.parametrize("url", ["/", "/command/"])
def test_when_the_build_is_done_nothing_shows(client, personas, frozen, url):
    record_progress(made=50_000, total=50_000, started_at=NOW - dt.timedelta(minutes=20))
    assert "demo-banner" not in page(client, personas.west_operator, url)
    assert client.get("/demo-progress.json").json() == {"text": None}


def test_a_record_nobody_writes_any_more_is_ignored(client, personas, frozen):
    half_done()
    frozen.shift(dt.timedelta(minutes=11))  # the builder was killed
    assert "demo-banner" not in page(client, personas.west_operator, "/")
