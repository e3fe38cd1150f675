"""Incident fixtures: departments with kinds in the west district, a town
operator, the cast of personas, a helper that drives the API, and helpers
that drive an incident to any state through the real services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from shanzhi.accounts.models import Department, Role, User
from shanzhi.accounts.services import user_create
from shanzhi.cases.models import IdempotencyKey, Notification
from shanzhi.core.calendar import SHANGHAI
from shanzhi.core.models import reset_calendar
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import (
    Attachment,
    Category,
    CategoryRules,
    Incident,
    IncidentStage,
    TimelineEntry,
)
from shanzhi.incidents.taxonomy import seed
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


# ---------------------------------------------------------------- the cast

ZJJ = "320505-ZJJ"            # 虎丘区住建局: the handler persona's department
CGJ = "320505-CGJ"            # 虎丘区城管局: the cgj_handler persona's department
ZHZF = "320505001-ZHZF"       # 西街道综合执法局: the town's default department


def at(*args) -> dt.datetime:
    """A wall-clock instant in the city's zone: ``at(2026, 2, 13, 16)``."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


@dataclass
class Cast:
    """Everyone who acts on a west incident, and those who must see nothing of it."""

    admin: User              # city admin of 320500
    town_operator: User      # operator of the west town: holds new west incidents
    west_operator: User      # operator of the west district (the centre above the town)
    east_operator: User      # operator of the east district: out of territory
    handler: User            # handler of 虎丘区住建局 (ZJJ): the usual dispatch target
    cgj_handler: User        # handler of 虎丘区城管局 (CGJ): another department
    worker: User             # grid worker of west grid 001, where WEST_POINT lies
    neighbour_worker: User   # grid worker of west grid 002: another grid
    viewer: User             # viewer of the whole city
    nobody: User             # an operator without territory


@pytest.fixture
def cast(desk, territory) -> Cast:
    neighbour = user_create(username="neighbour_worker", password=PASSWORD,
                            role=Role.GRID_WORKER, grid_codes=[territory.west_grids[1].code])
    return Cast(admin=desk.admin, town_operator=User.objects.get(username="town_operator"),
                west_operator=desk.west_operator, east_operator=desk.east_operator,
                handler=desk.handler, cgj_handler=User.objects.get(username="cgj_handler"),
                worker=desk.worker, neighbour_worker=neighbour, viewer=desk.viewer,
                nobody=desk.nobody)


def keep_memos(monkeypatch) -> None:
    """The per-process memos never expire for the rest of the test, however
    slow the machine: the clock they read (``core.memo.clock``, and
    ``time.monotonic`` as the spatial index and the working calendar read it)
    stands still. A write in this process still rebuilds them at once. For
    tests that count queries: a memo's ttl passing between two counts would
    add its stamp query to one of them."""
    from shanzhi.core import memo
    from shanzhi.core import models as core_models
    from shanzhi.geo import index as geo_index

    stopped = SimpleNamespace(monotonic=lambda: 1_000_000.0)
    monkeypatch.setattr(memo, "clock", stopped.monotonic)
    monkeypatch.setattr(geo_index, "time", stopped)
    monkeypatch.setattr(core_models, "time", stopped)


@pytest.fixture
def memos_kept(monkeypatch) -> None:
    keep_memos(monkeypatch)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# ---------------------------------------------------------------- driving an incident

def report(cast: Cast, *, actor: User | None = None, **fields) -> Incident:
    """A 暴露垃圾 (SJ0102) report at WEST_POINT by the grid worker, through the service."""
    fields = {"channel": "grid_patrol", "description": "路边有暴露垃圾", "category": "SJ0102",
              **WEST_POINT, **fields}
    incident, _created = services.incident_report(actor=actor or cast.worker, **fields)
    return incident


#: The usual way to each state, one action at a time.
PATH_TO = {
    wf.REPORTED: (),
    wf.REGISTERED: ("accept",),
    wf.DISPATCHED: ("accept", "dispatch"),
    wf.IN_PROGRESS: ("accept", "dispatch", "sign"),
    wf.HANDLED: ("accept", "dispatch", "sign", "report_result"),
    wf.CLOSED: ("accept", "dispatch", "sign", "report_result", "verify_pass"),
    wf.REJECTED: ("reject",),
}


def step(cast: Cast, incident: Incident, action: str, *, department: str = ZJJ) -> Incident:
    """One action of the usual way, by the persona who usually takes it (a
    dispatch goes to ZJJ, whose handler is ``cast.handler``, unless told)."""
    s = services
    if action == "accept":
        return s.incident_accept(actor=cast.town_operator, incident=incident)
    if action == "dispatch":
        return s.incident_dispatch(actor=cast.town_operator, incident=incident,
                                   department=department)
    sent_to_cgj = incident.department_id is not None and incident.department.code == CGJ
    handler = cast.cgj_handler if sent_to_cgj else cast.handler
    if action == "sign":
        return s.incident_sign(actor=handler, incident=incident)
    if action == "report_result":
        return s.incident_report_result(actor=handler, incident=incident, result="已清理")
    if action == "verify_pass":
        return s.incident_verify_pass(actor=cast.worker, incident=incident)
    if action == "reject":
        return s.incident_reject(actor=cast.town_operator, incident=incident, reason="无效")
    raise AssertionError(f"no usual step {action}")


def drive(cast: Cast, incident: Incident, state: str, *, department: str = ZJJ) -> Incident:
    """Take an incident on from where it is, the usual way, to ``state``."""
    done, path = PATH_TO[incident.state], PATH_TO[state]
    assert path[:len(done)] == done, f"the usual way does not lead from {incident.state} to {state}"
    for action in path[len(done):]:
        incident = step(cast, incident, action, department=department)
    assert incident.state == state
    return incident


def incident_in(cast: Cast, state: str, **report_fields) -> Incident:
    """A new incident in ``state``, reached through the real services."""
    return drive(cast, report(cast, **report_fields), state)


def counts() -> dict[str, int]:
    """How many rows of what an intake or an action may write."""
    return {model.__name__: model.objects.count() for model in (
        Incident, TimelineEntry, Notification, Attachment, IdempotencyKey, IncidentStage)}


@pytest.fixture
def seeded_taxonomy(db):
    """Transactional tests flush the migration-seeded categories: seed them again."""
    seed(Category, CategoryRules)
