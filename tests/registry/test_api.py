"""The registry API: people (201/400/409 of a registration, the
Idempotency-Key, the reveal and its access log, a stale edit, history,
merge), houses, organisations, special-group members, key places, rules and
follow-up tasks — each scoped (an out-of-territory operator and a handler
see nothing, a viewer reads but does not write) and masked in every answer."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shanzhi.core.identity import id_check, synthetic_credit_code
from shanzhi.core.models import AccessAction, AccessLog, calendar_sync_package, reset_calendar
from shanzhi.core.privacy import mask_id_number, mask_phone
from shanzhi.registry.models import (
    FollowUpRule,
    KeyPlace,
    Member,
    Organisation,
    Person,
    PersonChange,
    Visit,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
API = "/api/v1/registry"


def id_number(first17: str) -> str:
    return first17 + id_check(first17)


WEST_ID = id_number("32050519800101123")
EAST_ID = id_number("32050619850505234")
NEW_ID = id_number("32050519900202345")
WEST_PHONE, EAST_PHONE, NEW_PHONE = "13812345678", "13987654321", "13700001111"
#: Every full number of the fixtures and the registrations below: none may
#: appear in an answer, but a revealed one.
SECRETS = (WEST_ID, EAST_ID, NEW_ID, WEST_PHONE, EAST_PHONE, NEW_PHONE)


@pytest.fixture(autouse=True)
def _official_schedule(db):
    calendar_sync_package()
    reset_calendar()


@pytest.fixture
def frozen():
    with time_machine.travel(TUESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def call(client, bearer):
    """``call(user, method, url, body, expect=…)``: the answer's JSON, after
    checking its status and that it shows no full identity number or phone
    (``revealed`` names those it may)."""
    tokens: dict = {}

    def send(user, method, url, body=None, expect=200, revealed=(), headers=None, **kwargs):
        if user.username not in tokens:
            tokens[user.username] = bearer(user)
        sent = {**tokens[user.username], **(headers or {})}
        if method == "get":
            response = client.get(url, headers=sent)
        elif kwargs.get("multipart"):
            response = client.post(url, body, headers=sent)
        else:
            response = getattr(client, method)(url, json.dumps(body or {}),
                                               content_type="application/json", headers=sent)
        assert response.status_code == expect, response.content.decode()
        text = response.content.decode()
        for secret in SECRETS:
            if secret not in revealed:
                assert secret not in text, f"{secret} unmasked in {url}: {text}"
        return response.json()
    return send


@pytest.fixture
def people(territory, places):
    """A registered resident of the west house, a migrant of the east house."""
    west = Person.objects.create(grid=territory.west_grids[0], house=places.west_house,
                                 name="王建国", id_number=WEST_ID, gender="1", phone=WEST_PHONE)
    east = Person.objects.create(grid=territory.east_grids[0], house=places.east_house,
                                 name="李秀英", id_number=EAST_ID, gender="2", phone=EAST_PHONE,
                                 kind="migrant")
    return west, east


@pytest.fixture
def organisation(territory, places):
    code = synthetic_credit_code(random.Random(7), area="320505")
    return Organisation.objects.create(grid=territory.west_grids[0], name="西园物业有限公司",
                                       credit_code=code, building=places.west_building,
                                       phone="051265221234")


@pytest.fixture
def place(territory, places):
    return KeyPlace.objects.create(grid=territory.west_grids[0], name="西园小饭店", kind="fire",
                                   house=places.west_house, contact_name="赵六",
                                   contact_phone=NEW_PHONE)


@pytest.fixture
def member(people, personas):
    return Member.objects.create(grid=people[0].grid, person=people[0], group="correction",
                                 level="low", since=dt.date(2026, 1, 5), worker=personas.worker)


def registration(territory, **fields) -> dict:
    return {"name": "陈小明", "id_number": NEW_ID, "gender": "1", "phone": NEW_PHONE,
            "grid": territory.west_grids[0].code, **fields}


def jpeg() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 90, 60)).save(out, format="JPEG")
    return SimpleUploadedFile("visit.jpg", out.getvalue(), content_type="image/jpeg")


# ---------------------------------------------------------------- registering a person

def test_a_person_registered_with_a_grid_is_answered_201_masked(call, personas, territory):
    answer = call(personas.west_operator, "post", f"{API}/people", registration(territory),
                  expect=201)
    assert answer["id_number"] == mask_id_number(NEW_ID)
    assert answer["phone"] == mask_phone(NEW_PHONE)
    person = Person.objects.get(pk=answer["id"])
    assert person.id_number == NEW_ID and person.grid == territory.west_grids[0]
    assert PersonChange.objects.filter(person=person, action="create").exists()


def test_a_grid_worker_registers_a_person_in_a_house_of_their_grid(call, personas, places):
    body = {"name": "陈小明", "id_number": NEW_ID, "gender": "男", "phone": NEW_PHONE,
            "house": places.west_house.pk}
    answer = call(personas.worker, "post", f"{API}/people", body, expect=201)
    person = Person.objects.get(pk=answer["id"])
    assert person.house == places.west_house and person.gender == "1"


def test_a_retry_with_the_same_idempotency_key_answers_the_first_person(call, personas,
                                                                        territory):
    key = {"Idempotency-Key": "phone-42"}
    first = call(personas.west_operator, "post", f"{API}/people", registration(territory),
                 expect=201, headers=key)
    again = call(personas.west_operator, "post", f"{API}/people", registration(territory),
                 expect=200, headers=key)
    assert again["id"] == first["id"] and Person.objects.count() == 1
    other = call(personas.west_operator, "post", f"{API}/people",
                 registration(territory, name="陈大明"), expect=422, headers=key)
    assert other["error"]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(("change", "field"), [
    ({"name": None}, "name"),
    ({"id_number": NEW_ID[:-1] + ("0" if NEW_ID[-1] != "0" else "1")}, "id_number"),
    ({"phone": "12345"}, "phone"),
    ({"gender": "9"}, "gender"),
    ({"grid": "999999999999999"}, "grid"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_registration_is_a_400_naming_the_field(call, personas, territory, change, field):
    body = registration(territory, **change)
    if change.get("name", "") is None:
        del body["name"]
    answer = call(personas.west_operator, "post", f"{API}/people", body, expect=400)
    assert answer["error"]["field"] == field
    assert not Person.objects.exists()


def test_a_registration_without_a_place_is_a_400(call, personas, territory):
    body = registration(territory)
    del body["grid"]
    answer = call(personas.west_operator, "post", f"{API}/people", body, expect=400)
    assert answer["error"]["field"] in ("grid", "house")


def test_a_duplicate_in_my_territory_is_a_409_naming_the_person_masked(call, personas, people,
                                                                       territory):
    west, _east = people
    answer = call(personas.west_operator, "post", f"{API}/people",
                  registration(territory, id_number=WEST_ID), expect=409)
    assert answer["error"]["code"] == "duplicate"
    assert answer["error"]["details"] == {"person": west.pk}
    assert mask_id_number(WEST_ID) in answer["error"]["message"]
    assert Person.objects.count() == 2


def test_a_duplicate_outside_my_territory_is_a_plain_409(call, personas, people, territory):
    answer = call(personas.east_operator, "post", f"{API}/people",
                  registration(territory, id_number=WEST_ID, grid=territory.east_grids[0].code),
                  expect=409)
    assert answer["error"]["code"] == "duplicate"
    assert "details" not in answer["error"]
    assert "王" not in answer["error"]["message"]
    assert mask_id_number(WEST_ID) not in answer["error"]["message"]


def test_a_place_outside_my_grids_is_refused_naming_it(call, personas, territory, places):
    answer = call(personas.worker, "post", f"{API}/people",
                  registration(territory, grid=territory.west_grids[1].code), expect=400)
    assert answer["error"]["field"] == "grid"
    body = {**registration(territory), "house": places.west_house.pk}
    del body["grid"]
    answer = call(personas.east_operator, "post", f"{API}/people", body, expect=400)
    assert answer["error"]["field"] == "house"
    assert not Person.objects.exists()


# ---------------------------------------------------------------- reading, revealing, editing

def test_a_person_is_masked_unless_revealed_and_each_reveal_is_logged(call, personas, people):
    west, _east = people
    url = f"{API}/people/{west.pk}"
    masked = call(personas.west_operator, "get", url)
    assert masked["id_number"] == mask_id_number(WEST_ID)
    assert not AccessLog.objects.filter(action=AccessAction.VIEW).exists()
    shown = call(personas.west_operator, "get", f"{url}?reveal=true",
                 revealed=(WEST_ID, WEST_PHONE))
    assert shown["id_number"] == WEST_ID and shown["phone"] == WEST_PHONE
    log = AccessLog.objects.get(action=AccessAction.VIEW)
    assert log.user == personas.west_operator and log.object_id == str(west.pk)
    assert "id_number" in log.fields
    call(personas.worker, "get", f"{url}?reveal=true", revealed=(WEST_ID, WEST_PHONE))
    assert AccessLog.objects.filter(action=AccessAction.VIEW).count() == 2


def test_a_viewer_reads_masked_but_may_not_reveal(call, personas, people):
    west, _east = people
    url = f"{API}/people/{west.pk}"
    assert call(personas.viewer, "get", url)["name"] == "王建国"
    call(personas.viewer, "get", f"{url}?reveal=true", expect=403)
    assert not AccessLog.objects.filter(action=AccessAction.VIEW).exists()


@pytest.mark.parametrize("who", ["east_operator", "handler", "nobody"])
def test_a_person_outside_my_territory_is_a_404_even_to_reveal(call, personas, people, who):
    west, _east = people
    for url in (f"{API}/people/{west.pk}", f"{API}/people/{west.pk}?reveal=true",
                f"{API}/people/{west.pk}/history"):
        call(getattr(personas, who), "get", url, expect=404)
    assert not AccessLog.objects.filter(action=AccessAction.VIEW).exists()


def test_an_edit_carries_the_version_and_a_stale_one_is_a_409(call, personas, people):
    west, _east = people
    url = f"{API}/people/{west.pk}"
    edited = call(personas.worker, "patch", url, {"version": 1, "occupation": "教师"})
    assert edited["version"] == 2
    west.refresh_from_db()
    assert west.occupation == "教师" and west.name == "王建国"
    stale = call(personas.west_operator, "patch", url, {"version": 1, "occupation": "医生"},
                 expect=409)
    assert stale["error"]["code"] == "stale"
    west.refresh_from_db()
    assert west.occupation == "教师"


def test_an_edit_is_refused_to_a_viewer_and_outside_the_territory(call, personas, people):
    west, _east = people
    url = f"{API}/people/{west.pk}"
    call(personas.viewer, "patch", url, {"version": 1, "occupation": "教师"}, expect=403)
    call(personas.east_operator, "patch", url, {"version": 1, "occupation": "教师"}, expect=404)
    call(personas.handler, "patch", url, {"version": 1, "occupation": "教师"}, expect=404)
    west.refresh_from_db()
    assert west.occupation == "" and west.version == 1


def test_an_edit_with_a_bad_value_is_a_400_naming_the_field(call, personas, people):
    west, _east = people
    answer = call(personas.west_operator, "patch", f"{API}/people/{west.pk}",
                  {"version": 1, "phone": "abc"}, expect=400)
    assert answer["error"]["field"] == "phone"


def test_the_history_shows_each_change_masked(call, personas, territory):
    created = call(personas.west_operator, "post", f"{API}/people", registration(territory),
                   expect=201)
    url = f"{API}/people/{created['id']}"
    call(personas.west_operator, "patch", url, {"version": 1, "phone": WEST_PHONE})
    history = call(personas.west_operator, "get", f"{url}/history")
    assert [c["action"] for c in history] == ["create", "edit"]
    assert "phone" in history[1]["changes"]


def test_only_operators_merge_and_both_histories_stay(call, personas, people, territory):
    west, _east = people
    twin = Person.objects.create(grid=territory.west_grids[0], name="王建国",
                                 id_type="passport", id_number="E12345678", gender="1",
                                 phone=WEST_PHONE)
    url = f"{API}/people/{west.pk}/merge"
    call(personas.worker, "post", url, {"duplicate": twin.pk}, expect=403)
    call(personas.viewer, "post", url, {"duplicate": twin.pk}, expect=403)
    call(personas.east_operator, "post", url, {"duplicate": twin.pk}, expect=404)
    call(personas.west_operator, "post", url, {"duplicate": twin.pk})
    twin.refresh_from_db()
    assert twin.merged_into_id == west.pk
    history = call(personas.west_operator, "get", f"{API}/people/{west.pk}/history")
    assert {c["person"] for c in history} == {west.pk, twin.pk}


# ---------------------------------------------------------------- lists and scope

def test_the_people_list_is_masked_scoped_and_searchable(call, personas, people):
    west, east = people
    everyone = call(personas.admin, "get", f"{API}/people")
    assert everyone["count"] == 2
    assert {p["id_number"] for p in everyone["items"]} == {mask_id_number(WEST_ID),
                                                          mask_id_number(EAST_ID)}
    west_only = call(personas.west_operator, "get", f"{API}/people")
    assert [p["id"] for p in west_only["items"]] == [west.pk]
    assert call(personas.east_operator, "get", f"{API}/people")["count"] == 1
    assert call(personas.handler, "get", f"{API}/people")["count"] == 0
    assert call(personas.worker, "get", f"{API}/people")["count"] == 1
    assert call(personas.viewer, "get", f"{API}/people")["count"] == 2
    assert [p["id"] for p in call(personas.admin, "get", f"{API}/people?q={WEST_ID}")[
        "items"]] == [west.pk]
    assert [p["id"] for p in call(personas.admin, "get", f"{API}/people?q=1398")[
        "items"]] == [east.pk]
    assert [p["id"] for p in call(personas.admin, "get", f"{API}/people?q=李")[
        "items"]] == [east.pk]
    assert [p["id"] for p in call(personas.admin, "get", f"{API}/people?kind=migrant")[
        "items"]] == [east.pk]
    assert call(personas.east_operator, "get", f"{API}/people?q={WEST_ID}")["count"] == 0


def test_the_people_list_pages(call, personas, people):
    first = call(personas.admin, "get", f"{API}/people?limit=1")
    second = call(personas.admin, "get", f"{API}/people?limit=1&offset=1")
    assert first["count"] == second["count"] == 2
    assert first["items"][0]["id"] != second["items"][0]["id"]
    call(personas.admin, "get", f"{API}/people?limit=0", expect=400)


def test_the_people_list_filters(call, personas, people, member, places, territory, frozen):
    west, east = people
    Person.objects.filter(pk=east.pk).update(permit_expires=dt.date(2026, 3, 25),
                                             left_behind="elder")

    def ids(query: str) -> list[int]:
        return [p["id"] for p in call(personas.admin, "get", f"{API}/people?{query}")["items"]]

    assert ids("group=correction") == [west.pk]
    assert ids("group=drug") == []
    assert ids(f"house={places.east_house.pk}") == [east.pk]
    assert ids(f"grid={territory.west_grids[0].code}") == [west.pk]
    assert ids("left_behind=elder") == [east.pk]
    assert ids("permit_expiring=30") == [east.pk]
    assert ids("permit_expiring=10") == []
    answer = call(personas.admin, "get", f"{API}/people?kind=alien", expect=400)
    assert answer["error"]["field"] == "kind"


def test_a_list_costs_the_same_queries_for_more_people(call, personas, people, territory,
                                                       django_assert_max_num_queries):
    call(personas.west_operator, "get", f"{API}/people")  # the token, the caches
    with django_assert_max_num_queries(12) as few:
        call(personas.west_operator, "get", f"{API}/people")
    for n in range(5):
        Person.objects.create(grid=territory.west_grids[0], name=f"王{n}",
                              id_number=id_number(f"3205051980020{n}123"), gender="1",
                              phone=f"1381234000{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert call(personas.west_operator, "get", f"{API}/people")["count"] == 6


LISTS = ["people", "houses", "organisations", "groups", "places", "visits"]


@pytest.fixture
def west_data(people, organisation, place, member, frozen):
    """One row of each registry in the west grid 001 (and a planned visit)."""
    from shanzhi.registry import visits
    visits.plan_member(member)
    return people, organisation, place, member


@pytest.mark.parametrize("registry", LISTS)
def test_every_list_is_empty_out_of_territory_and_for_a_handler(call, personas, west_data,
                                                                registry):
    assert call(personas.west_operator, "get", f"{API}/{registry}")["count"] >= 1
    assert call(personas.worker, "get", f"{API}/{registry}")["count"] >= 1
    assert call(personas.viewer, "get", f"{API}/{registry}")["count"] >= 1
    for who in ("handler", "nobody"):
        assert call(getattr(personas, who), "get", f"{API}/{registry}")["count"] == 0
    east = call(personas.east_operator, "get", f"{API}/{registry}")
    west_ids = {i["id"] for i in call(personas.west_operator, "get", f"{API}/{registry}")[
        "items"]}
    assert not west_ids & {i["id"] for i in east["items"]}


def _details(west_data, places) -> list[str]:
    (west, _east), organisation, place, member = west_data
    visit = Visit.objects.get(member=member)
    return [f"{API}/people/{west.pk}", f"{API}/houses/{places.west_house.pk}",
            f"{API}/organisations/{organisation.pk}", f"{API}/groups/{member.pk}",
            f"{API}/places/{place.pk}", f"{API}/visits/{visit.number}",
            f"{API}/visits/{visit.pk}/timeline"]


def test_every_detail_is_a_404_out_of_territory_and_read_by_a_viewer(call, personas, west_data,
                                                                    places):
    for url in _details(west_data, places):
        call(personas.viewer, "get", url)
        call(personas.worker, "get", url)
        for who in ("east_operator", "handler", "nobody"):
            call(getattr(personas, who), "get", url, expect=404)


def test_every_write_is_refused_to_a_viewer(call, personas, west_data, places, territory):
    (west, _east), organisation, place, member = west_data
    viewer = personas.viewer
    writes = [
        ("post", f"{API}/people", registration(territory)),
        ("patch", f"{API}/people/{west.pk}", {"version": 1, "note": "x"}),
        ("post", f"{API}/houses", {"building": places.west_building.pk, "room": "102"}),
        ("patch", f"{API}/houses/{places.west_house.pk}", {"version": 1, "room": "103"}),
        ("post", f"{API}/organisations",
         {"name": "新公司", "credit_code": synthetic_credit_code(random.Random(9), area="320505"),
          "grid": territory.west_grids[0].code}),
        ("patch", f"{API}/organisations/{organisation.pk}", {"version": 1, "industry": "物业"}),
        ("post", f"{API}/groups", {"person": west.pk, "group": "drug", "since": "2026-01-01"}),
        ("patch", f"{API}/groups/{member.pk}", {"version": 1, "level": "high"}),
        ("post", f"{API}/groups/{member.pk}/end", {}),
        ("post", f"{API}/places", {"name": "网吧", "kind": "entertainment",
                                   "grid": territory.west_grids[0].code}),
        ("patch", f"{API}/places/{place.pk}", {"version": 1, "level": "high"}),
        ("put", f"{API}/rules", {"rules": [{"group": "drug", "level": "low", "interval": 15}]}),
    ]
    for method, url, body in writes:
        call(viewer, method, url, body, expect=403)
    assert Person.objects.count() == 2 and Member.objects.count() == 1
    assert not FollowUpRule.objects.exists()
    assert not Member.objects.filter(ended_on__isnull=False).exists()


# ---------------------------------------------------------------- houses

def test_a_house_is_found_by_its_address_and_shows_its_people_masked(call, personas, people,
                                                                    places):
    west, _east = people
    found = call(personas.west_operator, "get", f"{API}/houses?q=西园路")
    assert [h["id"] for h in found["items"]] == [places.west_house.pk]
    assert call(personas.east_operator, "get", f"{API}/houses?q=西园路")["count"] == 0
    house = call(personas.worker, "get", f"{API}/houses/{places.west_house.pk}")
    assert [p["id"] for p in house["people"]] == [west.pk]
    assert house["people"][0]["id_number"] == mask_id_number(WEST_ID)


def test_a_house_is_added_and_edited(call, personas, places):
    added = call(personas.worker, "post", f"{API}/houses",
                 {"building": places.west_building.pk, "unit": "1", "room": "202",
                  "owner_name": "周七", "owner_phone": NEW_PHONE}, expect=201)
    assert added["people"] == [] and "202" in added["address"]
    url = f"{API}/houses/{added['id']}"
    edited = call(personas.worker, "patch", url, {"version": 1, "use": "rented"})
    assert edited["version"] == 2
    call(personas.worker, "patch", url, {"version": 1, "use": "empty"}, expect=409)
    call(personas.east_operator, "post", f"{API}/houses",
         {"building": places.west_building.pk, "room": "203"}, expect=404)


# ---------------------------------------------------------------- organisations

def test_an_organisation_is_registered_found_and_edited(call, personas, territory):
    code = synthetic_credit_code(random.Random(11), area="320505")
    body = {"name": "西园科技有限公司", "credit_code": code, "phone": NEW_PHONE,
            "grid": territory.west_grids[0].code}
    made = call(personas.west_operator, "post", f"{API}/organisations", body, expect=201)
    assert made["credit_code"] == code
    again = call(personas.west_operator, "post", f"{API}/organisations", body, expect=409)
    assert again["error"]["code"] in ("duplicate", "conflict")
    bad = call(personas.west_operator, "post", f"{API}/organisations",
               {**body, "credit_code": code[:-1] + ("0" if code[-1] != "0" else "1")},
               expect=400)
    assert bad["error"]["field"] == "credit_code"
    url = f"{API}/organisations/{made['id']}"
    assert call(personas.west_operator, "get", f"{API}/organisations?q=西园")["count"] == 1
    assert call(personas.west_operator, "patch", url, {"version": 1, "industry": "软件"})[
        "version"] == 2
    call(personas.east_operator, "get", url, expect=404)


# ---------------------------------------------------------------- groups, rules, visits

def test_a_member_is_added_filtered_changed_and_ended(call, personas, people, frozen):
    west, _east = people
    made = call(personas.west_operator, "post", f"{API}/groups",
                {"person": west.pk, "group": "drug", "level": "medium", "since": "2026-03-01",
                 "worker": personas.worker.username}, expect=201)
    assert Visit.objects.filter(member_id=made["id"], state="due").count() == 1
    listed = call(personas.worker, "get", f"{API}/groups?group=drug&level=medium")
    assert [m["id"] for m in listed["items"]] == [made["id"]]
    assert call(personas.worker, "get", f"{API}/groups?level=high")["count"] == 0
    url = f"{API}/groups/{made['id']}"
    changed = call(personas.west_operator, "patch", url, {"version": made["version"],
                                                          "level": "high"})
    assert changed["level"] == "high"
    call(personas.west_operator, "patch", url, {"version": made["version"], "level": "low"},
         expect=409)
    call(personas.east_operator, "post", f"{API}/groups",
         {"person": west.pk, "group": "mental", "since": "2026-03-01"}, expect=404)
    call(personas.west_operator, "post", f"{url}/end", {})
    assert Member.objects.get(pk=made["id"]).ended_on is not None
    assert not Visit.objects.filter(member_id=made["id"], state="due").exists()


def test_a_key_place_is_registered_and_read_masked(call, personas, territory, frozen):
    made = call(personas.worker, "post", f"{API}/places",
                {"name": "西园网吧", "kind": "entertainment", "grid": territory.west_grids[0].code,
                 "contact_name": "孙八", "contact_phone": NEW_PHONE}, expect=201)
    assert mask_phone(NEW_PHONE) in json.dumps(made, ensure_ascii=False)
    assert Visit.objects.filter(place_id=made["id"], state="due").exists()
    assert call(personas.worker, "get", f"{API}/places?kind=entertainment")["count"] == 1
    call(personas.east_operator, "get", f"{API}/places/{made['id']}", expect=404)


def test_the_rules_are_read_by_all_and_set_by_operators_only(call, personas):
    rules = call(personas.worker, "get", f"{API}/rules")
    drug_high = next(r for r in rules if (r["group"], r["level"]) == ("drug", "high"))
    assert drug_high == {"group": "drug", "level": "high", "interval": 5, "custom": False}
    body = {"rules": [{"group": "drug", "level": "high", "interval": 3}]}
    call(personas.worker, "put", f"{API}/rules", body, expect=403)
    call(personas.handler, "put", f"{API}/rules", body, expect=403)
    after = call(personas.west_operator, "put", f"{API}/rules", body)
    assert {"group": "drug", "level": "high", "interval": 3, "custom": True} in after
    assert FollowUpRule.objects.get(group="drug", level="high").interval == 3
    bad = call(personas.west_operator, "put", f"{API}/rules",
               {"rules": [{"group": "drug", "level": "high", "interval": 0}]}, expect=400)
    assert bad["error"]["field"].endswith("interval")


def test_a_grid_worker_records_a_visit_with_a_photo(call, personas, member, frozen):
    from shanzhi.registry import visits
    visit = visits.plan_member(member)
    listed = call(personas.worker, "get", f"{API}/visits?state=due&kind=group")
    assert [v["number"] for v in listed["items"]] == [visit.number]
    assert listed["items"][0]["person"]["name"] == "王建国"
    assert call(personas.worker, "get", f"{API}/visits?worker=admin")["count"] == 0
    assert call(personas.worker, "get", f"{API}/visits?worker=worker")["count"] == 1
    url = f"{API}/visits/{visit.number}"
    detail = call(personas.worker, "get", url)
    assert "record" in detail["actions"]
    frozen.shift(dt.timedelta(hours=2))
    done = call(personas.worker, "post", f"{url}/record",
                {"note": "情况稳定", "finding": "normal", "lng": "120.005", "lat": "31.015",
                 "version": str(detail["version"]), "photos": jpeg()}, multipart=True)
    assert done["state"] == "done" and done["finding"] == "normal"
    assert len(done["attachments"]) == 1
    call(personas.east_operator, "post", f"{url}/supervise", {"note": "抓紧"}, expect=404)
    timeline = call(personas.west_operator, "get", f"{url}/timeline")
    assert [e["action"] for e in timeline][-1] == "record"
    # the next visit was planned
    assert Visit.objects.filter(member=member, state="due").count() == 1
