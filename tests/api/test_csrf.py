"""A write to the API made with the page's session must carry the CSRF token,
so that a page of another site cannot report an incident or act on one in the
name of a logged-in operator; a program with a bearer token needs none."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import WEST_POINT, counts, incident_in

desk = incident_fixtures.desk
cast = incident_fixtures.cast

URL = "/api/v1/incidents"
REPORT = {"channel": "hotline_12345", "description": "路边有暴露垃圾", "category": "SJ0102",
          **WEST_POINT}


@pytest.fixture
def browser() -> Client:
    """A client that checks CSRF as a real browser's requests are checked."""
    return Client(enforce_csrf_checks=True)


def csrf_token(client: Client) -> str:
    """The token a page of the site hands its own scripts (the csrftoken cookie)."""
    assert client.get("/").status_code == 200
    return client.cookies[settings.CSRF_COOKIE_NAME].value


def test_a_session_write_without_the_token_is_403_and_writes_nothing(browser, cast):
    browser.force_login(cast.town_operator)
    before = counts()
    response = browser.post(URL, REPORT, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert counts() == before


def test_a_cross_site_form_post_with_the_session_cookie_creates_nothing(browser, cast):
    browser.force_login(cast.town_operator)
    response = browser.post(URL, {**REPORT, "lng": "120.005", "lat": "31.015"},
                            headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert Incident.objects.count() == 0


def test_a_session_action_without_the_token_is_403_and_the_state_stays(browser, cast):
    incident = incident_in(cast, wf.REPORTED)
    browser.force_login(cast.town_operator)
    response = browser.post(f"{URL}/{incident.number}/reject", {"reason": "重复"},
                            content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    incident.refresh_from_db()
    assert incident.state == wf.REPORTED


def test_a_session_write_with_the_x_csrftoken_header_goes_through(browser, cast):
    browser.force_login(cast.town_operator)
    token = csrf_token(browser)
    response = browser.post(URL, REPORT, content_type="application/json",
                            headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.content
    assert Incident.objects.count() == 1


def test_a_session_action_with_the_token_goes_through(browser, cast):
    incident = incident_in(cast, wf.REPORTED)
    browser.force_login(cast.town_operator)
    response = browser.post(f"{URL}/{incident.number}/reject", {"reason": "重复"},
                            content_type="application/json",
                            headers={"X-CSRFToken": csrf_token(browser)})
    assert response.status_code == 200, response.content
    incident.refresh_from_db()
    assert incident.state == wf.REJECTED


def test_a_bearer_token_write_needs_no_csrf_token(browser, cast, bearer):
    response = browser.post(URL, REPORT, content_type="application/json",
                            headers=bearer(cast.town_operator))
    assert response.status_code == 201, response.content


def test_a_session_read_needs_no_csrf_token(browser, cast):
    browser.force_login(cast.town_operator)
    assert browser.get("/api/v1/geo/territory").status_code == 200


def test_a_write_without_any_log_in_is_401_not_403(browser, cast):
    response = browser.post(URL, REPORT, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert Incident.objects.count() == 0
