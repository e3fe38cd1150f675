"""Privacy of the registries: identity numbers and phones masked in every
presented dict, one person revealed only to the roles that may, only inside
their scope, each time with a row in the access log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from shanzhi.core.errors import NotFound, PermissionDenied
from shanzhi.core.models import AccessAction, AccessLog
from shanzhi.registry import selectors
from shanzhi.registry.models import KeyPlace, Member, Organisation, Person

NUMBER = "32050519800517001X"
PHONE = "13812345678"


@pytest.fixture
def person(places) -> Person:
    places.west_house.owner_phone = "13700009999"
    places.west_house.save()
    return Person.objects.create(grid=places.west_house.grid, house=places.west_house,
                                 name="张三", id_number=NUMBER, gender="1", phone=PHONE,
                                 kind="migrant", permit_number="320505202600012345")


def test_a_person_is_presented_masked_with_house_grid_and_memberships(person, places):
    Member.objects.create(grid=person.grid, person=person, group="mental", level="high",
                          since=dt.date(2025, 1, 1))
    shown = selectors.present_person(person)
    assert shown["id_number"] == "320505********001X"
    assert shown["phone"] == "138****5678"
    assert NUMBER not in str(shown) and PHONE not in str(shown)
    assert shown["permit_number"].startswith("320505") and "202600012345" not in str(shown)
    assert shown["masked"] is True
    assert shown["address"] == places.west_house.address
    assert shown["house"]["id"] == places.west_house.pk
    assert shown["grid"]["code"] == places.west_house.grid.code
    assert [m["group"] for m in shown["memberships"]] == ["mental"]


def test_the_others_are_presented_masked(person, places):
    member = Member.objects.create(grid=person.grid, person=person, group="drug",
                                   since=dt.date(2025, 1, 1))
    organisation = Organisation.objects.create(grid=person.grid, name="甲公司",
                                               credit_code="91320505MA1XXXXXX0",
                                               phone="051265221234")
    place = KeyPlace.objects.create(grid=person.grid, name="乙场所", kind="crowd",
                                    contact_phone="13600001111")
    house = selectors.present_house(places.west_house)
    assert house["owner_phone"] == "137****9999"
    assert "13700009999" not in str(house)
    shown = selectors.present_member(member)
    assert shown["person"]["id_number"] == "320505********001X"
    assert shown["person"]["phone"] == "138****5678"
    assert selectors.present_organisation(organisation)["phone"] == "051****1234"
    assert selectors.present_place(place)["contact_phone"] == "136****1111"


@pytest.mark.parametrize("who", ["admin", "west_operator", "worker"])
def test_revealing_one_person_writes_the_access_log(personas, person, who):
    actor = getattr(personas, who)
    request = RequestFactory().get(f"/api/v1/registry/people/{person.pk}?reveal=true",
                                   REMOTE_ADDR="10.1.2.3")
    shown = selectors.reveal_person(request=request, actor=actor, person=person)
    assert (shown["id_number"], shown["phone"], shown["masked"]) == (NUMBER, PHONE, False)
    (row,) = AccessLog.objects.all()
    assert (row.action, row.user, row.username) == (AccessAction.VIEW, actor, actor.username)
    assert (row.object_type, row.object_id) == ("registry.person", str(person.pk))
    assert row.fields == "id_number,phone"
    assert row.address == "10.1.2.3"
    assert row.reason


def test_every_reveal_is_logged_again(personas, person):
    for _ in range(3):
        selectors.reveal_person(request=None, actor=personas.worker, person=person)
    assert AccessLog.objects.filter(object_id=str(person.pk)).count() == 3


def test_a_viewer_may_not_reveal_and_nothing_is_logged(personas, person):
    with pytest.raises(PermissionDenied) as caught:
        selectors.reveal_person(request=None, actor=personas.viewer, person=person)
    assert caught.value.status == 403
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize("who", ["handler", "nobody"])
def test_roles_without_registry_access_may_not_reveal(personas, person, who):
    with pytest.raises((PermissionDenied, NotFound)):
        selectors.reveal_person(request=None, actor=getattr(personas, who), person=person)
    assert not AccessLog.objects.exists()


def test_out_of_territory_people_are_not_revealed(personas, person, territory):
    with pytest.raises(NotFound):
        selectors.reveal_person(request=None, actor=personas.east_operator, person=person)
    other = Person.objects.create(grid=territory.west_grids[1], name="李四",
                                  id_number="32050519800517002X", gender="1")
    with pytest.raises(NotFound):  # a grid worker: only their grid
        selectors.reveal_person(request=None, actor=personas.worker, person=other)
    assert not AccessLog.objects.exists()


def test_the_admin_shows_masked_numbers_only(personas, person):
    admin = site._registry[Person]
    assert admin.masked_id_number(person) == "320505********001X"
    assert admin.masked_phone(person) == "138****5678"
    assert "id_number" not in admin.list_display and "phone" not in admin.list_display
    assert "id_number" not in admin.get_fields(None, person)
    assert not admin.has_change_permission(None, person)
