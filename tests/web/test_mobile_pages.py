"""The phone app's pages (/m/): each role lands on its side, and a log-in
with ``next=/m/`` lands on the app."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["worker", "west_operator", "handler", "viewer"])
def test_every_role_gets_a_phone_home(client, personas, name):
    client.force_login(getattr(personas, name))
    response = client.get("/m/")
    assert response.status_code == 200
    assert b'rel="manifest"' in response.content
    assert b'name="csrf-token"' in response.content


def test_the_worker_has_the_workers_tabs(client, personas):
    client.force_login(personas.worker)
    html = client.get("/m/").content.decode()
    assert 'href="/m/report/"' in html and 'href="/m/patrol/"' in html
    assert 'href="/m/outbox/"' in html


def test_a_manager_has_no_report_tab(client, personas):
    client.force_login(personas.west_operator)
    html = client.get("/m/").content.decode()
    assert 'href="/m/report/"' not in html
    assert 'href="/m/outbox/"' in html


def test_the_app_wants_a_login(client, personas):
    response = client.get("/m/")
    assert response.status_code == 302 and "/login/?next=/m/" in response["Location"]


def test_a_login_with_next_lands_on_the_app(client, personas):
    response = client.post("/login/?next=/m/", {"username": "worker", "password": PASSWORD,
                                                "next": "/m/"})
    assert response.status_code == 302 and response["Location"] == "/m/"


def test_the_manifest_names_the_app_and_its_icons(client, personas):
    response = client.get("/m/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/manifest+json")
    data = response.json()
    assert data["start_url"] == "/m/" and data["scope"] == "/m/"
    assert data["display"] == "standalone"
    assert {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_the_service_worker_is_served_from_the_app_with_its_shell(client, personas):
    response = client.get("/m/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cache-Control"] == "no-cache"
    text = response.content.decode()
    assert "self.SHANZHI_CONFIG" not in text
    assert "/static/m/outbox.js" in text and "/static/m/m.css" in text


def test_the_service_worker_version_follows_the_shell(client, personas, monkeypatch):
    from shanzhi.web.mobile import pwa

    first, _ = pwa.shell()
    files = pwa._shell_files()
    monkeypatch.setattr(pwa, "_shell_files", lambda: files[:-1])
    assert pwa.shell()[0] != first


def test_the_offline_page_answers(client, personas):
    client.force_login(personas.worker)
    assert client.get("/m/offline/").status_code == 200


@pytest.mark.parametrize("path", ["/m/report/", "/m/patrol/", "/m/outbox/"])
def test_the_workers_pages_answer(client, personas, path):
    client.force_login(personas.worker)
    assert client.get(path).status_code == 200


def test_a_manager_gets_no_report_page(client, personas):
    client.force_login(personas.west_operator)
    assert client.get("/m/report/").status_code == 403


def test_a_grid_worker_at_the_desk_intake_goes_to_the_phone(client, personas):
    client.force_login(personas.worker)
    response = client.get("/incidents/new/")
    assert response.status_code == 302 and response["Location"] == "/m/report/"


def test_a_grid_worker_posting_to_the_desk_intake_registers_nothing(client, personas):
    from shanzhi.incidents.models import Incident

    client.force_login(personas.worker)
    response = client.post("/incidents/new/", {"description": "x", "channel": "grid_patrol"})
    assert response.status_code == 302 and Incident.objects.count() == 0
