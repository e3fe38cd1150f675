"""Patrol fixtures: the shared territory and personas, a part-time worker of
west grid 002, the community's operator, and helpers for instants and ids."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shanzhi.accounts.models import GridWorker, Role, User
from shanzhi.accounts.services import user_create
from shanzhi.core.calendar import SHANGHAI
from shanzhi.core.models import calendar_sync_package, reset_calendar
from tests.conftest import PASSWORD

#: An ordinary working day, mid-morning.
TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
WEST_001 = {"lng": 120.005, "lat": 31.015}  # west grid 001 (the worker's)
WEST_002 = {"lng": 120.015, "lat": 31.015}  # west grid 002 (the part-time worker's)
EAST_004 = {"lng": 120.035, "lat": 31.005}  # east grid 004


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture(autouse=True)
def _official_schedule(db):
    calendar_sync_package()
    reset_calendar()
    yield
    reset_calendar()


@pytest.fixture
def frozen():
    with time_machine.travel(TUESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def part_timer(personas, territory) -> User:
    return user_create(username="part_timer", password=PASSWORD, role=Role.GRID_WORKER,
                       grid_codes=[territory.west_grids[1].code],
                       worker_kind=GridWorker.Kind.PART_TIME)


@pytest.fixture
def community_operator(personas, territory) -> User:
    return user_create(username="community_operator", password=PASSWORD, role=Role.OPERATOR,
                       region_code=territory.west_community.code)


@pytest.fixture
def jpeg():
    """A small photo, made afresh each call (an upload is read once)."""
    def make() -> SimpleUploadedFile:
        out = io.BytesIO()
        Image.new("RGB", (8, 8), (120, 90, 60)).save(out, format="JPEG")
        return SimpleUploadedFile("checkin.jpg", out.getvalue(), content_type="image/jpeg")
    return make
