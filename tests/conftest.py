"""Shared fixtures: a small square territory whose edges are exact, and the
personas who act in it (one of them out of territory)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from shapely.geometry import box

from shanzhi.accounts.models import GridWorker, Role, User
from shanzhi.accounts.services import department_create, token_create, user_create
from shanzhi.core.memo import reset_all
from shanzhi.geo.index import reset_index
from shanzhi.geo.models import Grid, Level, Region
from shanzhi.geo.services import NewNode, grids_add, regions_add

PASSWORD = "correct horse battery staple"


def _sqlite_test_database_on_disk() -> None:
    """Two threads at once (the sweep's two workers, two people acting on one
    incident) need what production has: a SQLite *file* in WAL mode, where a
    writer waits for the other (busy_timeout). Django's default in-memory test
    database shares one cache between connections, and there a second writer
    fails at once with "database table is locked". So, for SQLite, the test
    database is a file in a fresh temporary directory (PostgreSQL is left alone)."""
    from django.db import connections

    database = connections.settings["default"]
    if database["ENGINE"].endswith("sqlite3") and not database["TEST"].get("NAME"):
        folder = tempfile.mkdtemp(prefix="shanzhi-test-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        database["TEST"]["NAME"] = str(Path(folder) / "test.sqlite3")


_sqlite_test_database_on_disk()


def _file_cache_of_this_process() -> None:
    """The file cache lives in the data directory, which the workers of a
    parallel run (``pytest -n``, pytest-xdist) and the two halves of CI share:
    one process's ``cache.clear()`` or entries must not reach another. Each test
    process gets a cache folder of its own, removed at its end."""
    from django.conf import settings

    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("FileBasedCache"):
            folder = tempfile.mkdtemp(prefix="shanzhi-cache-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            cache["LOCATION"] = folder


_file_cache_of_this_process()


def pytest_collection_modifyitems(items):
    """Browser tests last: Playwright's sync API keeps an event loop running in
    the main thread for the rest of the session, and ``asyncio.run`` in a
    later test would refuse to start. With pytest-xdist's ``load`` scheduling
    every worker receives the tests in this order, so the rule holds per worker.
    Among the browser tests, the screenshot tests (each builds the whole demo,
    minutes long) go first, so that the workers share them instead of one worker
    finishing alone on the last of them."""
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None,
                                 not item.name.startswith("test_screenshots")))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_memos():
    """What one test wrote (and rolled back) must not be remembered by the next."""
    reset_all()
    yield
    reset_all()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _models_in_tmp(settings, tmp_path_factory):
    """No test reads (or writes) the category models of a developer's data dir."""
    settings.INTAKE_MODEL_DIR = tmp_path_factory.mktemp("models")


@dataclass
class Territory:
    """City 320500 → districts 320505 (west) and 320506 (east) → one town each →
    one community each → four 0.01° square grids each.

    West district: lng 120.00–120.02, lat 31.00–31.02; east: lng 120.02–120.04.
    Grids are numbered 001–004: north-west, north-east, south-west, south-east.
    """

    city: Region
    west: Region
    east: Region
    west_town: Region
    east_town: Region
    west_community: Region
    east_community: Region
    west_grids: list[Grid]
    east_grids: list[Grid]


def _square_family(parent: Region, town_code: str, lng0: float, name: str):
    (town,) = regions_add(level=Level.TOWN, nodes=[NewNode(
        code=town_code, name=f"{name}街道", geometry=box(lng0, 31.0, lng0 + 0.02, 31.02),
        parent=parent)])
    (community,) = regions_add(level=Level.COMMUNITY, nodes=[NewNode(
        code=town_code + "001", name=f"{name}社区", geometry=box(lng0, 31.0, lng0 + 0.02, 31.02),
        parent=town)])
    cells = [box(lng0, 31.01, lng0 + 0.01, 31.02), box(lng0 + 0.01, 31.01, lng0 + 0.02, 31.02),
             box(lng0, 31.0, lng0 + 0.01, 31.01), box(lng0 + 0.01, 31.0, lng0 + 0.02, 31.01)]
    grids = grids_add(nodes=[NewNode(code=f"{community.code}{i:03d}", name=f"{name}第{i}网格",
                                     geometry=cell, parent=community)
                             for i, cell in enumerate(cells, start=1)])
    return town, community, grids


@pytest.fixture
def territory(db) -> Territory:
    (city,) = regions_add(level=Level.CITY, nodes=[NewNode(
        code="320500", name="苏州市", geometry=box(120.0, 31.0, 120.04, 31.02))])
    west, east = regions_add(level=Level.DISTRICT, nodes=[
        NewNode(code="320505", name="虎丘区", geometry=box(120.0, 31.0, 120.02, 31.02),
                parent=city),
        NewNode(code="320506", name="吴中区", geometry=box(120.02, 31.0, 120.04, 31.02),
                parent=city)])
    west_town, west_community, west_grids = _square_family(west, "320505001", 120.0, "西")
    east_town, east_community, east_grids = _square_family(east, "320506001", 120.02, "东")
    reset_index()
    yield Territory(city, west, east, west_town, east_town, west_community, east_community,
                    west_grids, east_grids)
    reset_index()


@dataclass
class Personas:
    admin: User            # city admin of 320500
    west_operator: User    # operator of the west district
    east_operator: User    # operator of the east district: out of territory for west data
    handler: User          # handler of the west district's 住建局
    worker: User           # full-time grid worker of west grid 001
    viewer: User           # viewer of the whole city
    nobody: User           # an operator without territory


@pytest.fixture
def personas(territory: Territory) -> Personas:
    department_create(code="320505-ZJJ", name="虎丘区住建局", region_code="320505")

    def make(username, role, **anchor):
        return user_create(username=username, password=PASSWORD, role=role, **anchor)

    nobody = User.objects.create_user(username="nobody", password=PASSWORD, role=Role.OPERATOR)
    return Personas(
        admin=make("admin", Role.CITY_ADMIN, region_code="320500"),
        west_operator=make("west_operator", Role.OPERATOR, region_code="320505"),
        east_operator=make("east_operator", Role.OPERATOR, region_code="320506"),
        handler=make("handler", Role.HANDLER, department_code="320505-ZJJ"),
        worker=make("worker", Role.GRID_WORKER, grid_codes=[territory.west_grids[0].code],
                    worker_kind=GridWorker.Kind.FULL_TIME),
        viewer=make("viewer", Role.VIEWER, region_code="320500"),
        nobody=nobody,
    )


@pytest.fixture
def bearer():
    """Authorization headers for a user: ``client.get(url, headers=bearer(user))``."""
    def headers(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_create(username=user.username)}"}
    return headers
