"""Incident fixtures: departments with kinds in the west district, a town
operator, and a helper that drives the API."""

from __future__ import annotations

import pytest

from shanzhi.accounts.models import Department, Role
from shanzhi.accounts.services import user_create
from shanzhi.core.models import reset_calendar
from tests.conftest import PASSWORD

WEST_POINT = {"lng": 120.005, "lat": 31.015}  # west grid 001
EAST_POINT = {"lng": 120.035, "lat": 31.005}  # east grid 004


@pytest.fixture(autouse=True)
def _fresh_calendar():
    reset_calendar()
    yield
    reset_calendar()


@pytest.fixture
def desk(personas, territory):
    """The west district's departments (kinds ZJJ and CGJ), the town's
    ZHZF, a handler of CGJ and an operator of the west town."""
    Department.objects.filter(code="320505-ZJJ").update(kind="ZJJ")
    cgj = Department.objects.create(code="320505-CGJ", name="虎丘区城管局", region=territory.west,
                                    kind="CGJ")
    Department.objects.create(code="320505001-ZHZF", name="西街道综合执法局",
                              region=territory.west_town, kind="ZHZF")
    user_create(username="cgj_handler", password=PASSWORD, role=Role.HANDLER,
                department_code=cgj.code)
    user_create(username="town_operator", password=PASSWORD, role=Role.OPERATOR,
                region_code=territory.west_town.code)
    return personas


class Api:
    """Drive the incident API as one user at a time."""

    def __init__(self, client, bearer):
        self.client = client
        self.bearer = bearer
        self._headers: dict[str, dict] = {}

    def headers(self, user):
        if user.username not in self._headers:
            self._headers[user.username] = self.bearer(user)
        return self._headers[user.username]

    def report(self, user, expect=201, headers=None, **fields):
        body = {"channel": "grid_patrol", "description": "路边有暴露垃圾",
                "category": "SJ0102", **WEST_POINT, **fields}
        response = self.client.post("/api/v1/incidents", body, content_type="application/json",
                                    headers={**self.headers(user), **(headers or {})})
        assert response.status_code == expect, response.content
        return response.json()

    def act(self, user, incident, action, expect=200, **fields):
        number = incident["number"] if isinstance(incident, dict) else incident
        response = self.client.post(f"/api/v1/incidents/{number}/{action}", fields,
                                    content_type="application/json",
                                    headers=self.headers(user))
        assert response.status_code == expect, response.content
        return response.json()

    def get(self, user, url, expect=200):
        response = self.client.get(url, headers=self.headers(user))
        assert response.status_code == expect, response.content
        return response.json()


@pytest.fixture
def api(client, bearer):
    return Api(client, bearer)
