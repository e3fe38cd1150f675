"""网格通 and the follow-up visits: the worker's day lists their open tasks
with lights, the phone page shows the person masked and the record form (an
outbox form to the API action), and a worker of another grid gets a 404."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import Resolver404, resolve

from shanzhi.accounts.models import GridWorker, Role
from shanzhi.accounts.services import user_create
from shanzhi.core.models import calendar_sync_package, reset_calendar
from shanzhi.registry import visits
from shanzhi.registry.models import KeyPlace, Member, Person
from shanzhi.web.mobile.worker import day_tasks
from tests.conftest import PASSWORD

TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ID_NUMBER = "320505199001011234"


@pytest.fixture(autouse=True)
def _official_schedule(db):
    calendar_sync_package()
    reset_calendar()


@pytest.fixture
def task(personas, places):
    person = Person.objects.create(grid=places.west_house.grid, house=places.west_house,
                                   name="张三丰", id_number=ID_NUMBER, gender="1",
                                   phone="13812345678")
    member = Member.objects.create(grid=person.grid, person=person, group="mental",
                                   level="high", since=dt.date(2026, 1, 5))
    with time_machine.travel(TUESDAY, tick=False):
        return visits.plan_member(member)


def test_the_workers_day_lists_the_follow_up_with_its_light(personas, task):
    late = task.due_at + dt.timedelta(hours=1)
    tasks, counts = day_tasks(personas.worker, late)
    (mine,) = [t for t in tasks if t["kind"] == "visit"]
    assert mine["number"] == task.number and mine["title"] == "张三丰"
    assert mine["light"] == "red" and mine["url"] == f"/m/visits/{task.number}/"
    assert "1单元101室" in mine["sub"]
    assert counts["visits"] == 1 and counts["overdue"] == 1


def test_the_day_orders_follow_ups_by_deadline(personas, places, task):
    place = KeyPlace.objects.create(grid=places.west_house.grid, name="平江出租屋",
                                    kind="rental", address="西园路1号")
    with time_machine.travel(TUESDAY, tick=False):
        inspection = visits.plan_place(place)
    tasks, _counts = day_tasks(personas.worker, TUESDAY)
    numbers = [t["number"] for t in tasks if t["kind"] == "visit"]
    assert numbers == [task.number, inspection.number]  # 5 working days before 20


def test_the_home_page_shows_the_task(client, personas, task):
    client.force_login(personas.worker)
    with time_machine.travel(TUESDAY, tick=False):
        page = client.get("/m/").content.decode()
    assert task.number in page and f"/m/visits/{task.number}/" in page


def test_the_visit_page_shows_the_person_masked_and_the_record_form(client, personas, task):
    client.force_login(personas.worker)
    with time_machine.travel(TUESDAY, tick=False):
        response = client.get(f"/m/visits/{task.number}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "张三丰" in page
    assert "320505********1234" in page and ID_NUMBER not in page
    assert "138****5678" in page and "13812345678" not in page
    assert f'action="/api/v1/registry/visits/{task.number}/record"' in page
    assert "data-outbox" in page and 'name="note"' in page and 'name="finding"' in page
    assert 'name="photos"' in page and "data-resize" in page
    assert 'name="lng"' in page and 'name="permit_expires"' not in page


def test_an_operator_sees_the_page_but_a_viewer_gets_no_form(client, personas, task):
    client.force_login(personas.viewer)
    page = client.get(f"/m/visits/{task.number}/").content.decode()
    assert task.number in page and "/record" not in page


def test_a_worker_of_another_grid_gets_a_404(client, territory, personas, task):
    other = user_create(username="worker2", password=PASSWORD, role=Role.GRID_WORKER,
                        grid_codes=[territory.west_grids[1].code],
                        worker_kind=GridWorker.Kind.FULL_TIME)
    client.force_login(other)
    assert client.get(f"/m/visits/{task.number}/").status_code == 404
    tasks, counts = day_tasks(other, TUESDAY)
    assert not [t for t in tasks if t["kind"] == "visit"] and counts["visits"] == 0
    client.force_login(personas.east_operator)
    assert client.get(f"/m/visits/{task.number}/").status_code == 404


def test_asked_by_id_the_page_redirects_to_the_number(client, personas, task):
    client.force_login(personas.worker)
    response = client.get(f"/m/visits/{task.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/m/visits/{task.number}/"


def test_the_phone_form_as_the_outbox_sends_it_records_the_visit(client, personas, task):
    """The record form's fields, multipart with an empty position (no fix yet)."""
    try:
        resolve(f"/api/v1/registry/visits/{task.number}/record")
    except Resolver404:
        pytest.skip("the registry API is not mounted yet (api/main.py)")
    client.force_login(personas.worker)
    with time_machine.travel(TUESDAY + dt.timedelta(days=1), tick=False):
        response = client.post(f"/api/v1/registry/visits/{task.number}/record",
                               {"version": str(task.version), "finding": "concern",
                                "note": "情绪低落，已联系家属", "lng": "", "lat": "",
                                "accuracy": ""},
                               headers={"Idempotency-Key": "phone-1"})
    assert response.status_code == 200, response.content
    task.refresh_from_db()
    assert task.state == "done" and task.finding == "concern" and task.lng is None
    assert Member.objects.get(pk=task.member_id).visits.filter(state="due").count() == 1
