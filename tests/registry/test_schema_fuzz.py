"""The registry operations keep their schema under schemathesis (the
stateless phases: examples, coverage, fuzzing) as an operator of the west
district and as a grid worker of its grid 001, with a person, a house, an
organisation, a member, a key place and a follow-up task there for the
generated ids to find: no server error, every answer as documented, and no
full identity number or phone in any answer."""

from __future__ import annotations

import datetime as dt

import hypothesis
import pytest

from shanzhi.accounts.services import token_create
from shanzhi.core.identity import id_check
from shanzhi.registry import visits
from shanzhi.registry.models import KeyPlace, Member, Person
from tests.api.test_schema_fuzz import (  # noqa: F401 (an autouse fixture, used by name)
    CHECKS,
    PLAIN,
    SETTINGS,
    _one_connection_per_test,
    schema,
)

registry = schema.include(path_regex=r"^/api/v1/registry")
ID_NUMBER = "32050519800101123" + id_check("32050519800101123")
PHONE = "13812345678"


@pytest.fixture
def west(territory, places, personas):
    person = Person.objects.create(grid=territory.west_grids[0], house=places.west_house,
                                   name="王建国", id_number=ID_NUMBER, gender="1", phone=PHONE)
    member = Member.objects.create(grid=person.grid, person=person, group="correction",
                                   since=dt.date(2026, 1, 5), worker=personas.worker)
    visits.plan_member(member)
    KeyPlace.objects.create(grid=territory.west_grids[0], name="西园小饭店", kind="fire",
                            house=places.west_house, contact_phone=PHONE)
    return personas


def headers(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_create(username=user.username)}", **PLAIN}


def _call(case, who: dict) -> None:
    response = case.call_and_validate(headers=who, checks=CHECKS)
    if response.status_code < 300 and "reveal" not in str(case.query or ""):
        assert ID_NUMBER not in response.text and PHONE not in response.text


@registry.parametrize()
@hypothesis.settings(SETTINGS, max_examples=25)
def test_every_registry_operation_keeps_its_schema_for_an_operator(case, west):
    _call(case, headers(west.west_operator))


@registry.parametrize()
@hypothesis.settings(SETTINGS, max_examples=25)
def test_every_registry_operation_keeps_its_schema_for_a_grid_worker(case, west):
    _call(case, headers(west.worker))
