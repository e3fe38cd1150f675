"""The access log: who, what, when, from where and why — searched by an
auditor in the admin, never written or changed there."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client

from shanzhi.accounts.models import User
from shanzhi.core.models import AccessLog
from tests.conftest import PASSWORD

ADMIN_URL = "/admin/core/accesslog/"


@pytest.fixture
def auditor(personas) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("auditor", password=PASSWORD))
    return client


@pytest.fixture
def history(client, personas):
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        client.post("/login/", {"username": "west_operator", "password": PASSWORD},
                    REMOTE_ADDR="10.9.8.7")
        Client().post("/login/", {"username": "ghost", "password": "x"},
                      REMOTE_ADDR="10.6.6.6")
        AccessLog.record(action="view", user=personas.east_operator, obj=personas.worker,
                         fields=["phone"], reason="核实身份")


def test_a_failed_log_in_keeps_the_name_typed_and_no_user(history):
    row = AccessLog.objects.get(action="login_failed")
    assert (row.user, row.username, row.address) == (None, "ghost", "10.6.6.6")


def test_the_auditor_searches_by_user_object_address_and_reason(auditor, history, personas):
    def found(q: str) -> str:
        return auditor.get(ADMIN_URL, {"q": q}).content.decode()

    assert "10.9.8.7" in found("west_operator") and "10.6.6.6" not in found("west_operator")
    assert "核实身份" in found(str(personas.worker.pk))
    assert "ghost" in found("10.6.6.6")
    assert "east_operator" in found("核实")


def test_the_auditor_filters_by_action_and_date(auditor, history):
    page = auditor.get(ADMIN_URL, {"action__exact": "login"}).content.decode()
    assert "west_operator" in page and "ghost" not in page
    assert auditor.get(ADMIN_URL, {"at__year": "2026", "at__month": "12"}).status_code == 200


def test_nobody_adds_changes_or_deletes_a_row_in_the_admin(auditor, history):
    row = AccessLog.objects.first()
    assert auditor.get(f"{ADMIN_URL}add/").status_code == 403
    page = auditor.get(f"{ADMIN_URL}{row.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert auditor.post(f"{ADMIN_URL}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert auditor.post(ADMIN_URL, {"action": "delete_selected",
                                    "_selected_action": [row.pk]}).status_code in (200, 302)
    assert AccessLog.objects.filter(pk=row.pk).exists()


def test_the_searches_an_auditor_runs_have_indexes(db):
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, AccessLog._meta.db_table)
    columns = {tuple(c["columns"]) for c in indexes.values() if c["index"]}
    assert {("username", "at"), ("object_type", "object_id", "at"), ("address", "at"),
            ("action", "at"), ("user_id",), ("at",)} <= columns
