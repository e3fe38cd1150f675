"""The registries' writes (``registry.services``): people (create, edit,
merge, history), organisations, special-group members, key places and the
follow-up rules — valid input, each kind of bad input naming its field,
duplicates inside and outside the actor's scope, stale versions."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
import time_machine

from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from shanzhi.core.identity import synthetic_credit_code
from shanzhi.core.models import calendar_sync_package, reset_calendar
from shanzhi.registry import services
from shanzhi.registry import workflow as wf
from shanzhi.registry.models import (
    FollowUpRule,
    Household,
    Member,
    Organisation,
    Person,
    PersonChange,
    Visit,
)
from tests.registry.conftest import fresh_id_number

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
_rng = random.Random(14)


def id_number(area: str = "320505", born: dt.date = dt.date(1980, 5, 17),
              male: bool = True) -> str:
    return fresh_id_number(_rng, area=area, born=born, male=male)


def corrupt(number: str) -> str:
    """The same number with its check character wrong."""
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


@pytest.fixture(autouse=True)
def _official_schedule(db):
    calendar_sync_package()
    reset_calendar()


@pytest.fixture
def person_data(places):
    def make(**over):
        return {"name": "张三", "id_number": id_number(), "gender": "男",
                "phone": "13812345678", "house": places.west_house.pk} | over
    return make


@pytest.fixture
def west_person(personas, person_data):
    return services.person_create(actor=personas.west_operator, data=person_data())


@pytest.fixture
def east_person(personas, places, person_data):
    return services.person_create(actor=personas.east_operator,
                                  data=person_data(name="李四", house=places.east_house.pk))


def _problem(call) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------- person_create

def test_it_creates_a_person_at_a_house_taking_the_birth_date_from_the_id_number(
        personas, places, person_data):
    data = person_data(id_number=id_number(born=dt.date(1975, 2, 3)))
    person = services.person_create(actor=personas.west_operator, data=data)
    person.refresh_from_db()
    assert person.grid_id == places.west_house.grid_id
    assert person.path == places.west_house.grid.path
    assert person.house_id == places.west_house.pk
    assert person.gender == "1"
    assert person.birth_date == dt.date(1975, 2, 3)
    (change,) = PersonChange.objects.filter(person=person)
    assert change.action == "create" and change.actor == personas.west_operator
    assert change.changes["id_number"] == [None, data["id_number"]]


def test_it_takes_codes_or_chinese_labels_for_gender_and_kind(personas, person_data):
    person = services.person_create(actor=personas.west_operator,
                                    data=person_data(gender="女", kind="流动人口"))
    assert (person.gender, person.kind) == ("2", "migrant")
    other = services.person_create(actor=personas.west_operator,
                                   data=person_data(gender="2", kind="overseas"))
    assert (other.gender, other.kind) == ("2", "overseas")


def test_it_places_a_person_by_grid_code(personas, territory, person_data):
    grid = territory.west_grids[1]
    person = services.person_create(actor=personas.west_operator,
                                    data=person_data(house=None, grid=grid.code))
    assert person.grid_id == grid.pk and person.house_id is None


def test_an_import_is_recorded_as_an_import(personas, person_data):
    person = services.person_create(actor=personas.west_operator, data=person_data(),
                                    source="import")
    assert list(person.changes.values_list("action", flat=True)) == ["import"]


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"name": " "}, "name", "required"),
    ({"id_number": "32050519800517001"}, "id_number", "id_number_form"),
    ({"id_number": "corrupt"}, "id_number", "id_number_checksum"),
    ({"gender": "X"}, "gender", "choice"),
    ({"phone": "12345"}, "phone", "phone"),
    ({"kind": "alien"}, "kind", "choice"),
    ({"birth_date": "1990-01-01"}, "birth_date", "birth_date_mismatch"),
    ({"birth_date": "2999-01-01"}, "birth_date", "date_future"),
    ({"permit_expires": "2027-01-01"}, "permit_expires", "migrant_only"),
    ({"id_type": "passport", "id_number": "E1"}, "id_number", "document_number"),
    ({"ethnicity": "han"}, "ethnicity", "code"),
    ({"house": None, "grid": "999999"}, "grid", "not_found"),
    ({"house": None}, "grid", "required"),
])
def test_it_refuses_bad_input_naming_the_field(personas, person_data, change, field, code):
    if change.get("id_number") == "corrupt":
        change = {"id_number": corrupt(id_number())}
    error = _problem(lambda: services.person_create(actor=personas.west_operator,
                                                    data=person_data(**change)))
    assert (error.field, error.code) == (field, code)
    assert Person.objects.count() == 0


def test_it_accepts_a_passport_number_for_a_passport(personas, person_data):
    person = services.person_create(actor=personas.west_operator, data=person_data(
        id_type="护照", id_number="e12345678", kind="境外人员", nationality="usa"))
    assert (person.id_type, person.id_number, person.nationality) == ("passport", "E12345678",
                                                                      "USA")
    assert person.birth_date is None


def test_a_person_without_a_phone_such_as_a_child_is_registered(personas, person_data):
    person = services.person_create(actor=personas.west_operator, data=person_data(phone=""))
    assert person.phone == ""


def test_it_lists_every_problem_when_there_are_several(personas, person_data):
    error = _problem(lambda: services.person_create(
        actor=personas.west_operator, data=person_data(name="", gender="?", phone="1")))
    assert error.field == "name"
    assert [p["field"] for p in error.details["problems"]] == ["name", "gender", "phone"]


def test_a_house_outside_the_territory_is_not_found(personas, places, person_data):
    error = _problem(lambda: services.person_create(
        actor=personas.west_operator, data=person_data(house=places.east_house.pk)))
    assert (error.field, error.code) == ("house", "not_found")


def test_a_grid_worker_registers_only_in_their_own_grid(personas, territory, person_data):
    person = services.person_create(actor=personas.worker, data=person_data())
    assert person.grid_id == territory.west_grids[0].pk
    error = _problem(lambda: services.person_create(
        actor=personas.worker, data=person_data(house=None, grid=territory.west_grids[1].code,
                                                id_number=id_number())))
    assert error.field == "grid"


@pytest.mark.parametrize("who", ["viewer", "handler"])
def test_readers_and_handlers_may_not_register(personas, person_data, who):
    with pytest.raises(PermissionDenied):
        services.person_create(actor=getattr(personas, who), data=person_data())


def test_a_duplicate_within_scope_names_the_person_masked(personas, person_data, west_person):
    with pytest.raises(Conflict) as caught:
        services.person_create(actor=personas.west_operator,
                               data=person_data(name="张三丰", id_number=west_person.id_number))
    error = caught.value
    assert (error.status, error.code, error.field) == (409, "duplicate", "id_number")
    assert error.details == {"person": west_person.pk}
    masked = west_person.id_number[:6] + "********" + west_person.id_number[-4:]
    assert "张*" in error.message and masked in error.message
    assert west_person.id_number not in error.message


def test_a_duplicate_outside_scope_is_a_plain_refusal(personas, person_data, east_person):
    with pytest.raises(Conflict) as caught:
        services.person_create(actor=personas.west_operator,
                               data=person_data(id_number=east_person.id_number))
    error = caught.value
    assert (error.status, error.code) == (409, "duplicate")
    assert error.details == {}
    assert "李" not in error.message and east_person.id_number[-4:] not in error.message


def test_a_lowercase_x_is_the_same_identity_number(personas, person_data):
    number = next(n for n in (id_number() for _ in range(200)) if n.endswith("X"))
    services.person_create(actor=personas.west_operator, data=person_data(id_number=number))
    with pytest.raises(Conflict):
        services.person_create(actor=personas.west_operator,
                               data=person_data(id_number=number.lower()))


def test_a_migrant_with_a_permit_ending_soon_gets_a_renewal_task(personas, person_data):
    with time_machine.travel(TUESDAY, tick=False):
        person = services.person_create(actor=personas.west_operator, data=person_data(
            kind="migrant", permit_number="P1234567", permit_issued="2025-04-01",
            permit_expires="2026-03-31"))
    (task,) = Visit.objects.filter(person=person)
    assert (task.kind, task.state) == (wf.PERMIT, wf.DUE)


# ---------------------------------------------------------------- person_update

def test_an_edit_changes_the_fields_given_and_records_before_and_after(personas, west_person):
    person = services.person_update(actor=personas.west_operator, person=west_person,
                                    version=1, data={"phone": "13900001111"})
    person.refresh_from_db()
    assert (person.phone, person.version, person.name) == ("13900001111", 2, "张三")
    change = person.changes.get(action="edit")
    assert change.changes == {"phone": ["13812345678", "13900001111"]}


def test_an_edit_with_a_stale_version_is_a_conflict(personas, west_person):
    services.person_update(actor=personas.west_operator, person=west_person, version=1,
                           data={"occupation": "教师"})
    with pytest.raises(Conflict) as caught:
        services.person_update(actor=personas.worker, person=Person.objects.get(),
                               version=1, data={"occupation": "医生"})
    assert caught.value.code == "stale"
    assert Person.objects.get().occupation == "教师"


def test_an_edit_to_another_persons_number_is_a_duplicate(personas, person_data, west_person):
    other = services.person_create(actor=personas.west_operator,
                                   data=person_data(name="王五"))
    with pytest.raises(Conflict) as caught:
        services.person_update(actor=personas.west_operator, person=other, version=1,
                               data={"id_number": west_person.id_number})
    assert caught.value.code == "duplicate"
    assert caught.value.details == {"person": west_person.pk}


def test_an_edit_of_the_number_takes_the_new_birth_date(personas, west_person):
    number = id_number(born=dt.date(2001, 12, 24))
    person = services.person_update(actor=personas.west_operator, person=west_person,
                                    version=1, data={"id_number": number})
    assert person.birth_date == dt.date(2001, 12, 24)


def test_an_edit_of_a_bad_field_names_it_and_changes_nothing(personas, west_person):
    error = _problem(lambda: services.person_update(
        actor=personas.west_operator, person=west_person, version=1,
        data={"permit_number": "P123"}))
    assert (error.field, error.code) == ("permit_number", "migrant_only")
    assert Person.objects.get().version == 1


def test_a_person_outside_the_territory_cannot_be_edited(personas, west_person):
    with pytest.raises(NotFound):
        services.person_update(actor=personas.east_operator, person=west_person, version=1,
                               data={"name": "x"})


# ---------------------------------------------------------------- person_merge

def test_a_merge_moves_everything_and_keeps_both_histories(personas, places, person_data):
    admin = personas.admin
    keep = services.person_create(actor=admin, data=person_data(phone="13811112222"))
    dup = services.person_create(actor=admin, data=person_data(
        name="张三", id_number=id_number(), occupation="厨师"))
    services.person_update(actor=admin, person=dup, version=1, data={"note": "重复登记"})
    household = Household.objects.create(number="H1", house=places.west_house, head=dup)
    Person.objects.filter(pk=dup.pk).update(household=household)
    with time_machine.travel(TUESDAY, tick=False):
        member = services.member_create(actor=admin, person=dup, group="drug", level="high",
                                        since="2025-01-01")
    dup.refresh_from_db()

    merged = services.person_merge(actor=personas.west_operator, keep=keep, duplicate=dup)

    dup.refresh_from_db()
    member.refresh_from_db()
    household.refresh_from_db()
    assert dup.merged_into_id == keep.pk
    assert member.person_id == keep.pk
    assert Visit.objects.get(member=member).person_id == keep.pk
    assert household.head_id == keep.pk
    assert merged.household_id == household.pk and dup.household_id is None
    assert merged.occupation == "厨师" and merged.phone == "13811112222"
    history = services.person_history(merged)
    assert [(c.person_id, c.action) for c in history] == [
        (keep.pk, "create"), (dup.pk, "create"), (dup.pk, "edit"), (keep.pk, "merge"),
        (dup.pk, "merge")]
    keep_merge = history[3].changes
    assert keep_merge["merged"] == [None, dup.pk]
    assert keep_merge["occupation"] == ["", "厨师"]
    assert history[4].changes == {"merged_into": [None, keep.pk]}
    # the merged record keeps its own history too, and frees its number
    assert [c.action for c in services.person_history(dup)] == ["create", "edit", "merge"]
    assert Person.objects.filter(merged_into__isnull=True).count() == 1


def test_a_merge_ends_a_second_membership_of_the_same_group(personas, person_data):
    admin = personas.admin
    keep = services.person_create(actor=admin, data=person_data())
    dup = services.person_create(actor=admin, data=person_data())
    with time_machine.travel(TUESDAY, tick=False):
        kept = services.member_create(actor=admin, person=keep, group="mental", level="low",
                                      since="2025-01-01")
        second = services.member_create(actor=admin, person=dup, group="mental",
                                        level="high", since="2025-01-01")
        services.person_merge(actor=admin, keep=keep, duplicate=dup)
    second.refresh_from_db()
    assert second.person_id == keep.pk and second.ended_on is not None
    assert Member.objects.filter(person=keep, ended_on__isnull=True).get() == kept
    assert Visit.objects.get(member=second).state == wf.CANCELLED


def test_only_operators_merge(personas, person_data):
    keep = services.person_create(actor=personas.admin, data=person_data())
    dup = services.person_create(actor=personas.admin, data=person_data())
    for who in (personas.worker, personas.viewer, personas.handler):
        with pytest.raises(PermissionDenied):
            services.person_merge(actor=who, keep=keep, duplicate=dup)
    with pytest.raises(NotFound):
        services.person_merge(actor=personas.east_operator, keep=keep, duplicate=dup)
    with pytest.raises(ValidationError):
        services.person_merge(actor=personas.admin, keep=keep, duplicate=keep)
    services.person_merge(actor=personas.admin, keep=keep, duplicate=dup)
    dup.refresh_from_db()
    with pytest.raises(Conflict):
        services.person_merge(actor=personas.admin, keep=keep, duplicate=dup)


# ---------------------------------------------------------------- organisations

@pytest.fixture
def organisation_data(places):
    def make(**over):
        return {"name": "苏州示例科技有限公司", "credit_code": synthetic_credit_code(
            _rng, area="320505"), "kind": "企业", "building": places.west_building.pk} | over
    return make


def test_it_creates_an_organisation_at_a_building(personas, places, organisation_data):
    organisation = services.organisation_create(actor=personas.west_operator,
                                                data=organisation_data(phone="051265221234"))
    assert organisation.grid_id == places.west_building.grid_id
    assert organisation.kind == "company"
    assert organisation.address == places.west_building.address
    assert organisation.lng == places.west_building.lng


@pytest.mark.parametrize(("change", "field"), [
    ({"credit_code": "91320505MA1X2Y3Z4"}, "credit_code"),
    ({"credit_code": "corrupt"}, "credit_code"),
    ({"name": ""}, "name"),
    ({"kind": "club"}, "kind"),
    ({"employees": "-3"}, "employees"),
    ({"phone": "110"}, "phone"),
    ({"building": 999999}, "building"),
])
def test_it_refuses_a_bad_organisation_naming_the_field(personas, organisation_data, change,
                                                        field):
    if change.get("credit_code") == "corrupt":
        good = synthetic_credit_code(_rng, area="320505")
        change = {"credit_code": good[:-1] + ("0" if good[-1] != "0" else "1")}
    error = _problem(lambda: services.organisation_create(actor=personas.west_operator,
                                                          data=organisation_data(**change)))
    assert error.field == field
    assert Organisation.objects.count() == 0


def test_a_duplicate_credit_code_is_a_conflict(personas, places, organisation_data):
    data = organisation_data()
    first = services.organisation_create(actor=personas.west_operator, data=data)
    with pytest.raises(Conflict) as inside:
        services.organisation_create(actor=personas.west_operator, data=data)
    assert inside.value.code == "duplicate"
    assert inside.value.details == {"organisation": first.pk}
    with pytest.raises(Conflict) as outside:
        services.organisation_create(actor=personas.east_operator,
                                     data=data | {"building": places.east_building.pk})
    assert outside.value.code == "duplicate" and outside.value.details == {}
    assert first.name not in outside.value.message


def test_an_organisation_edit_checks_the_version(personas, organisation_data):
    organisation = services.organisation_create(actor=personas.west_operator,
                                                data=organisation_data())
    services.organisation_update(actor=personas.west_operator, organisation=organisation,
                                 version=1, data={"employees": "12"})
    organisation.refresh_from_db()
    assert (organisation.employees, organisation.version) == (12, 2)
    with pytest.raises(Conflict) as caught:
        services.organisation_update(actor=personas.west_operator, organisation=organisation,
                                     version=1, data={"employees": "13"})
    assert caught.value.code == "stale"


# ---------------------------------------------------------------- members and rules

def test_a_new_member_gets_a_follow_up_task_by_the_rule(personas, west_person):
    services.rule_set("correction", "high", 3, actor=personas.admin)
    with time_machine.travel(TUESDAY, tick=False):
        member = services.member_create(actor=personas.worker, person=west_person,
                                        group="社区矫正", level="高", since="2025-06-01",
                                        worker=personas.worker, details={"类别": "缓刑"})
    assert (member.group, member.level, member.worker_id) == ("correction", "high",
                                                               personas.worker.pk)
    assert member.grid_id == west_person.grid_id and member.path == west_person.path
    (task,) = Visit.objects.filter(member=member)
    assert (task.kind, task.state, task.interval) == (wf.GROUP, wf.DUE, 3)


@pytest.mark.parametrize(("change", "field"), [
    ({"group": "chess"}, "group"),
    ({"level": "extreme"}, "level"),
    ({"since": ""}, "since"),
    ({"since": "2999-01-01"}, "since"),
    ({"worker": "west_operator"}, "worker"),
    ({"details": ["a"]}, "details"),
])
def test_it_refuses_a_bad_member_naming_the_field(personas, west_person, change, field):
    arguments = {"group": "drug", "level": "low", "since": "2025-01-01"} | change
    error = _problem(lambda: services.member_create(actor=personas.west_operator,
                                                    person=west_person, **arguments))
    assert error.field == field
    assert Member.objects.count() == 0


def test_a_second_active_membership_of_a_group_is_a_conflict(personas, west_person):
    with time_machine.travel(TUESDAY, tick=False):
        first = services.member_create(actor=personas.west_operator, person=west_person,
                                       group="drug", level="low", since="2025-01-01")
        with pytest.raises(Conflict) as caught:
            services.member_create(actor=personas.west_operator, person=west_person,
                                   group="drug", level="high", since="2025-02-01")
    assert caught.value.details == {"member": first.pk}


def test_a_level_change_replans_and_an_end_cancels(personas, west_person):
    with time_machine.travel(TUESDAY, tick=False):
        member = services.member_create(actor=personas.west_operator, person=west_person,
                                        group="released", level="low", since="2025-01-01")
        member = services.member_update(actor=personas.west_operator, member=member,
                                        version=1, data={"level": "high"})
        assert member.version == 2
        tasks = Visit.objects.filter(member=member).order_by("id")
        assert [(t.state, t.interval) for t in tasks] == [(wf.CANCELLED, 20), (wf.DUE, 5)]
        with pytest.raises(Conflict):
            services.member_update(actor=personas.west_operator, member=member, version=1,
                                   data={"level": "medium"})
        services.member_end(actor=personas.west_operator, member=member)
    member.refresh_from_db()
    assert member.ended_on == TUESDAY.date()
    assert not Visit.objects.filter(member=member, state=wf.DUE).exists()


def test_rules_are_set_by_operators_with_a_sane_interval(personas):
    rule = services.rule_set("mental", "medium", 7, actor=personas.west_operator)
    assert FollowUpRule.objects.get(group="mental", level="medium").interval == 7
    services.rule_set("mental", "medium", 8)
    rule.refresh_from_db()
    assert rule.interval == 8
    assert _problem(lambda: services.rule_set("mental", "medium", 0)).field == "interval"
    assert _problem(lambda: services.rule_set("chess", "medium", 5)).field == "group"
    with pytest.raises(PermissionDenied):
        services.rule_set("mental", "low", 5, actor=personas.worker)


# ---------------------------------------------------------------- key places

def test_a_key_place_gets_an_inspection_and_closing_it_cancels_it(personas, places):
    with time_machine.travel(TUESDAY, tick=False):
        place = services.place_create(actor=personas.west_operator, data={
            "name": "西园KTV", "kind": "娱乐场所", "level": "medium",
            "house": places.west_house.pk, "contact_phone": "13700001234"})
        assert place.building_id == places.west_building.pk
        assert place.address == places.west_house.address
        (task,) = Visit.objects.filter(place=place)
        assert (task.kind, task.interval) == (wf.PLACE, wf.PLACE_INTERVAL)
        services.place_update(actor=personas.west_operator, place=place, version=1,
                              data={"is_active": "否"})
    task.refresh_from_db()
    assert task.state == wf.CANCELLED


def test_it_refuses_a_bad_key_place_naming_the_field(personas, places):
    error = _problem(lambda: services.place_create(actor=personas.west_operator, data={
        "name": "仓库", "kind": "warehouse", "grid": places.west_house.grid.code}))
    assert error.field == "kind"
    error = _problem(lambda: services.place_create(actor=personas.west_operator, data={
        "name": "仓库", "kind": "chemical", "house": places.east_house.pk}))
    assert error.field == "house"
