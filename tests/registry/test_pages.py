"""基础数据 at the desk (web/registry.py): every page for the city admin, the
district's operator, the grid worker and the viewer; nothing for the
outsider (the east operator) and the handler; no full identity number or
phone in any page unless revealed, the reveal logged and refused to a
viewer; a stale edit; the new person form; the merge; the import with its
errors by line and column; the export; a follow-up's case page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from shanzhi.core.identity import id_check
from shanzhi.core.models import AccessAction, AccessLog, calendar_sync_package, reset_calendar
from shanzhi.core.privacy import mask_id_number
from shanzhi.registry import services
from shanzhi.registry.models import (
    Household,
    ImportJob,
    KeyPlace,
    Member,
    Organisation,
    Person,
    PersonChange,
    Visit,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)


def id_number(first17: str) -> str:
    return first17 + id_check(first17)


WEST_ID = id_number("32050519800101123")
EAST_ID = id_number("32050619850505234")
NEW_ID = id_number("32050519900202345")
WEST_PHONE, EAST_PHONE, NEW_PHONE = "13812345678", "13987654321", "13700001111"
PERMIT = "3205059988776655"
#: Full numbers that no page may show, but a revealed one.
SECRETS = (WEST_ID, EAST_ID, WEST_PHONE, EAST_PHONE, PERMIT)


@pytest.fixture(autouse=True)
def _official_schedule(db):
    calendar_sync_package()
    reset_calendar()


@pytest.fixture
def frozen():
    with time_machine.travel(TUESDAY, tick=False) as traveller:
        yield traveller


class Data:
    """West: a migrant in the west house, in a special group with a due
    follow-up, an organisation and a key place; east: one person."""

    def __init__(self, personas, places, territory):
        admin = personas.admin
        self.west = services.person_create(actor=admin, data={
            "name": "王西园", "id_number": WEST_ID, "gender": "1", "phone": WEST_PHONE,
            "house": places.west_house.pk, "kind": "migrant", "permit_number": PERMIT,
            "permit_expires": "2026-12-31", "occupation": "厨师"})
        self.east = services.person_create(actor=admin, data={
            "name": "赵东园", "id_number": EAST_ID, "gender": "2", "phone": EAST_PHONE,
            "house": places.east_house.pk})
        household = Household.objects.create(number="H-001", house=places.west_house,
                                             head=self.west)
        Person.objects.filter(pk=self.west.pk).update(household=household)
        self.member = services.member_create(actor=admin, person=self.west,
                                             group="correction", level="high",
                                             since=dt.date(2026, 1, 5),
                                             worker=personas.worker.username)
        self.visit = Visit.objects.get(member=self.member, state="due")
        self.organisation = Organisation.objects.create(
            grid=territory.west_grids[0], name="西园餐饮有限公司",
            credit_code="91320505MA1W2X3Y4B", kind="company", phone="051265221234")
        self.place = KeyPlace.objects.create(grid=territory.west_grids[0], name="西园网吧",
                                             kind="entertainment", level="medium",
                                             contact_name="钱老板", contact_phone="13611112222")


@pytest.fixture
def data(personas, places, territory, frozen) -> Data:
    return Data(personas, places, territory)


def html_of(client, user, url, *, status=200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def pages(data: Data, territory) -> list[str]:
    return [
        "/registry/", "/registry/?q=王", f"/registry/?q={WEST_ID[:6]}",
        f"/registry/people/{data.west.pk}/", "/registry/houses/",
        f"/registry/houses/{data.west.house_id}/", "/registry/organisations/",
        f"/registry/organisations/{data.organisation.pk}/", "/registry/members/",
        f"/registry/members/{data.member.pk}/", "/registry/places/",
        f"/registry/places/{data.place.pk}/", "/registry/visits/",
        f"/registry/visits/{data.visit.number}/",
        f"/registry/grids/{territory.west_grids[0].code}/",
    ]


def assert_masked(html: str) -> None:
    for secret in SECRETS:
        assert secret not in html


# ---------------------------------------------------------------- every page, every reader

@pytest.mark.parametrize("who", ["admin", "west_operator", "worker", "viewer"])
def test_every_page_answers_each_reader_with_the_numbers_masked(client, personas, data,
                                                                territory, who):
    user = getattr(personas, who)
    for url in pages(data, territory):
        html = html_of(client, user, url)
        assert_masked(html)
    people = html_of(client, user, "/registry/")
    assert "王西园" in people and mask_id_number(WEST_ID) in people
    assert 'data-menu="registry"' in people
    assert ("赵东园" in people) == (who in ("admin", "viewer"))  # the city's, not the west's


def test_the_admin_sees_the_east_too(client, personas, data):
    html = html_of(client, personas.admin, "/registry/?q=赵")
    assert "赵东园" in html and EAST_ID not in html


@pytest.mark.parametrize("who", ["east_operator", "handler"])
def test_the_outsider_and_the_handler_get_nothing(client, personas, data, territory, who):
    user = getattr(personas, who)
    for url in ("/registry/", "/registry/houses/", "/registry/organisations/",
                "/registry/members/", "/registry/places/", "/registry/visits/"):
        html = html_of(client, user, url)
        for name in ("王西园", "西园餐饮有限公司", "西园网吧", data.visit.number):
            assert name not in html, (url, name)
    for url in pages(data, territory)[3:]:
        if "?" in url or url.endswith(("/houses/", "/organisations/", "/members/",
                                       "/places/", "/visits/")):
            continue
        html_of(client, user, url, status=404)
    client.force_login(user)
    assert client.post(f"/registry/people/{data.west.pk}/reveal/").status_code == 404
    assert not AccessLog.objects.filter(action=AccessAction.VIEW).exists()


def test_the_menu_offers_the_base_data_to_its_readers_only(client, personas, data):
    assert 'data-menu="registry"' in html_of(client, personas.viewer, "/")
    assert 'data-menu="registry"' not in html_of(client, personas.handler, "/")


# ---------------------------------------------------------------- the reveal

def test_the_reveal_shows_the_numbers_once_and_writes_the_access_log(client, personas, data):
    client.force_login(personas.west_operator)
    detail = client.get(f"/registry/people/{data.west.pk}/").content.decode()
    assert f'action="/registry/people/{data.west.pk}/reveal/"' in detail
    response = client.post(f"/registry/people/{data.west.pk}/reveal/")
    assert response.status_code == 200
    html = response.content.decode()
    assert WEST_ID in html and WEST_PHONE in html and PERMIT in html
    assert response["Cache-Control"] == "private, no-store"
    log = AccessLog.objects.get(action=AccessAction.VIEW)
    assert log.user == personas.west_operator and log.object_id == str(data.west.pk)
    assert "id_number" in log.fields and "phone" in log.fields
    # once: the next view is masked again and logs nothing
    assert_masked(client.get(f"/registry/people/{data.west.pk}/").content.decode())
    assert AccessLog.objects.filter(action=AccessAction.VIEW).count() == 1


def test_a_viewer_has_no_reveal_button_and_a_forged_post_is_refused(client, personas, data):
    html = html_of(client, personas.viewer, f"/registry/people/{data.west.pk}/")
    assert "/reveal/" not in html
    response = client.post(f"/registry/people/{data.west.pk}/reveal/")
    assert response.status_code == 403
    assert_masked(response.content.decode())
    assert not AccessLog.objects.filter(action=AccessAction.VIEW).exists()


def test_the_reveal_answers_only_a_post(client, personas, data):
    client.force_login(personas.admin)
    assert client.get(f"/registry/people/{data.west.pk}/reveal/").status_code == 405
    assert not AccessLog.objects.exists()


# ---------------------------------------------------------------- edit, new, merge

def edit_form(client, person) -> dict:
    """The edit form's fields as the page fills them."""
    response = client.get(f"/registry/people/{person.pk}/edit/")
    assert response.status_code == 200
    form = response.context["form"]
    return {name: ("" if value is None else value)
            for name, value in ((n, form[n].value()) for n in form.fields)}


def test_an_edit_saves_and_keeps_the_numbers_left_empty(client, personas, data):
    client.force_login(personas.worker)
    fields = edit_form(client, data.west)
    assert fields["id_number"] == "" and fields["phone"] == ""
    fields["occupation"] = "面点师"
    response = client.post(f"/registry/people/{data.west.pk}/edit/", fields)
    assert response.status_code == 302
    person = Person.objects.get(pk=data.west.pk)
    assert person.occupation == "面点师"
    assert person.id_number == WEST_ID and person.phone == WEST_PHONE
    assert person.version == data.west.version + 1
    change = PersonChange.objects.filter(person=person, action="edit").get()
    assert change.changes["occupation"] == ["厨师", "面点师"]


def test_the_edit_form_never_holds_the_full_numbers(client, personas, data):
    client.force_login(personas.admin)
    assert_masked(client.get(f"/registry/people/{data.west.pk}/edit/").content.decode())


def test_a_stale_edit_shows_the_conflict_and_keeps_the_users_input(client, personas, data):
    client.force_login(personas.west_operator)
    fields = edit_form(client, data.west)
    services.person_update(actor=personas.admin, person=data.west, version=data.west.version,
                           data={"occupation": "厨师长"})
    fields["occupation"] = "木匠"
    fields["note"] = "我刚写的备注"
    response = client.post(f"/registry/people/{data.west.pk}/edit/", fields)
    assert response.status_code == 409
    html = response.content.decode()
    assert "stale-conflict" in html
    assert 'value="木匠"' in html and "我刚写的备注" in html  # the input kept
    assert "厨师长" in html  # the record as it is now, beside it
    assert Person.objects.get(pk=data.west.pk).occupation == "厨师长"
    assert_masked(html)
    # a second save, deliberate, goes through
    form = response.context["form"]
    again = {n: ("" if form[n].value() is None else form[n].value()) for n in form.fields}
    assert client.post(f"/registry/people/{data.west.pk}/edit/", again).status_code == 302
    assert Person.objects.get(pk=data.west.pk).occupation == "木匠"


def test_a_viewer_may_not_edit(client, personas, data):
    html_of(client, personas.viewer, f"/registry/people/{data.west.pk}/edit/", status=403)
    assert "/edit/" not in html_of(client, personas.viewer, f"/registry/people/{data.west.pk}/")


def test_a_new_person_is_registered_through_the_form(client, personas, data, places):
    client.force_login(personas.worker)
    assert client.get(f"/registry/people/new/?house={places.west_house.pk}").status_code == 200
    response = client.post("/registry/people/new/", {
        "name": "孙新", "id_type": "resident", "id_number": NEW_ID, "gender": "1",
        "phone": NEW_PHONE, "kind": "registered", "house": places.west_house.pk})
    assert response.status_code == 302
    person = Person.objects.get(id_number=NEW_ID)
    assert response["Location"] == f"/registry/people/{person.pk}/"
    assert person.house == places.west_house and person.grid == places.west_house.grid
    assert PersonChange.objects.filter(person=person, action="create").exists()


def test_a_duplicate_identity_number_is_refused_naming_the_record(client, personas, data,
                                                                  territory):
    client.force_login(personas.west_operator)
    response = client.post("/registry/people/new/", {
        "name": "王重复", "id_type": "resident", "id_number": WEST_ID, "gender": "1",
        "phone": NEW_PHONE, "kind": "registered", "grid": territory.west_grids[1].code})
    assert response.status_code == 409
    html = response.content.decode()
    assert mask_id_number(WEST_ID) in html and f"/registry/people/{data.west.pk}/" in html
    assert_masked(html)


def test_a_bad_identity_number_is_shown_at_its_field(client, personas, data, territory):
    client.force_login(personas.west_operator)
    response = client.post("/registry/people/new/", {
        "name": "钱错", "id_type": "resident", "id_number": NEW_ID[:-1] + "0"
        if NEW_ID[-1] != "0" else NEW_ID[:-1] + "1", "gender": "1", "phone": NEW_PHONE,
        "kind": "registered",
        "grid": territory.west_grids[1].code})
    assert response.status_code == 400
    assert response.context["form"].has_error("id_number")
    assert not Person.objects.filter(name="钱错").exists()


def test_an_operator_merges_a_duplicate_and_both_histories_show(client, personas, data,
                                                                territory):
    twin = services.person_create(actor=personas.admin, data={
        "name": "王西园", "id_type": "passport", "id_number": "E12345678", "gender": "1",
        "phone": "13900001234", "grid": territory.west_grids[0].code})
    client.force_login(personas.west_operator)
    response = client.post(f"/registry/people/{data.west.pk}/merge/", {"duplicate": twin.pk})
    assert response.status_code == 302
    assert Person.objects.get(pk=twin.pk).merged_into_id == data.west.pk
    html = client.get(f"/registry/people/{data.west.pk}/").content.decode()
    assert f"#{twin.pk}" in html  # the merged record's changes, marked as such
    client.force_login(personas.worker)
    assert client.post(f"/registry/people/{data.west.pk}/merge/",
                       {"duplicate": twin.pk}).status_code == 403


# ---------------------------------------------------------------- import and export

def upload(rows, name="people.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "公民身份号码", "性别", "联系电话", "网格编码"])
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode("utf-8-sig"), content_type="text/csv")


def test_a_strict_import_with_a_bad_row_writes_nothing_and_lists_it(client, personas, data,
                                                                   territory):
    grid = territory.west_grids[0].code
    client.force_login(personas.west_operator)
    assert client.get("/registry/imports/").status_code == 200
    response = client.post("/registry/imports/", {
        "registry": "people", "good_only": "0", "file": upload([
            ["李一", id_number("32050519910101001"), "男", "13800000001", grid],
            ["李二", "320505199101010020", "女", "13800000002", grid]])})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == f"/registry/imports/{job.pk}/"
    assert job.state == ImportJob.State.REFUSED and job.written == 0
    html = client.get(response["Location"]).content.decode()
    assert "import-errors" in html and "公民身份号码" in html
    assert '<td class="col-num">3</td>' in html  # the second data row is line 3
    assert not Person.objects.filter(name__startswith="李").exists()
    progress = client.get(f"/registry/imports/{job.pk}/progress.json").json()
    assert progress["running"] is False and progress["errors"] == 1


def test_a_good_rows_import_writes_the_good_ones(client, personas, data, territory):
    grid = territory.west_grids[0].code
    client.force_login(personas.admin)
    client.post("/registry/imports/", {"registry": "people", "good_only": "1", "file": upload([
        ["李一", id_number("32050519910101001"), "男", "13800000001", grid],
        ["李二", "320505199101010020", "女", "13800000002", grid]])})
    job = ImportJob.objects.get()
    assert job.state == ImportJob.State.DONE and job.written == 1 and job.error_count == 1
    assert list(Person.objects.filter(name__startswith="李").values_list("name", flat=True)) \
        == ["李一"]
    assert "1" in client.get(f"/registry/imports/{job.pk}/").content.decode()


def test_import_and_export_are_for_the_operators(client, personas, data):
    for user in (personas.worker, personas.viewer):
        html_of(client, user, "/registry/imports/", status=403)
        html_of(client, user, "/registry/export/people.xlsx", status=403)
        assert "/registry/export/" not in html_of(client, user, "/registry/")
    client.force_login(personas.west_operator)
    workbook = client.get("/registry/templates/people.xlsx")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    template = client.get("/registry/templates/people.csv")
    assert "公民身份号码" in template.content.decode("utf-8-sig")


def test_an_import_of_someone_else_is_not_found(client, personas, data, territory):
    job = ImportJob.objects.create(registry="people", filename="x.csv", actor=personas.admin)
    html_of(client, personas.west_operator, f"/registry/imports/{job.pk}/", status=404)


def test_the_export_is_masked_and_logged(client, personas, data):
    client.force_login(personas.west_operator)
    response = client.get("/registry/export/people.xlsx?q=王")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "王西园" in sheet and mask_id_number(WEST_ID) in sheet
    for secret in (WEST_ID, WEST_PHONE, EAST_ID, EAST_PHONE):
        assert secret not in sheet
    log = AccessLog.objects.get(action=AccessAction.EXPORT)
    assert log.user == personas.west_operator


# ---------------------------------------------------------------- the grid, the follow-up

def test_the_grid_page_draws_the_boundary_and_the_buildings(client, personas, data, places,
                                                            territory):
    html = html_of(client, personas.worker, f"/registry/grids/{territory.west_grids[0].code}/")
    assert 'id="grid-map-config"' in html and "120.005" in html
    assert "王西园" in html and mask_id_number(WEST_ID) in html
    assert '"Polygon"' in html
    html_of(client, personas.worker, f"/registry/grids/{territory.west_grids[1].code}/",
            status=404)
    html_of(client, personas.east_operator,
            f"/registry/grids/{territory.west_grids[0].code}/", status=404)


def test_the_members_list_shows_the_level_and_the_next_visit(client, personas, data):
    html = html_of(client, personas.west_operator, "/registry/members/")
    assert "risk-high" in html and data.visit.number in html
    assert 'class="light light-' in html


def test_the_grid_worker_records_a_visit_on_its_case_page(client, personas, data):
    client.force_login(personas.worker)
    html = client.get(f"/registry/visits/{data.visit.number}/").content.decode()
    assert 'data-action="record"' in html
    response = client.post(f"/registry/visits/{data.visit.number}/act/record/", {
        "version": data.visit.version, "finding": "normal", "note": "在家，情绪稳定"})
    assert response.status_code == 302
    visit = Visit.objects.get(pk=data.visit.pk)
    assert visit.state == "done" and visit.note == "在家，情绪稳定"
    assert Visit.objects.filter(member=data.member, state="due").exists()  # the next one


def test_a_stale_visit_action_is_a_conflict(client, personas, data):
    client.force_login(personas.worker)
    response = client.post(f"/registry/visits/{data.visit.number}/act/record/", {
        "version": data.visit.version + 5, "finding": "normal", "note": "晚了"})
    assert response.status_code == 409
    assert Visit.objects.get(pk=data.visit.pk).state == "due"


def test_a_viewer_reads_a_visit_but_may_not_act(client, personas, data):
    html = html_of(client, personas.viewer, f"/registry/visits/{data.visit.number}/")
    assert 'data-action="record"' not in html
    response = client.post(f"/registry/visits/{data.visit.number}/act/record/", {
        "version": data.visit.version, "finding": "normal", "note": "x"})
    assert response.status_code == 403
    assert Member.objects.get(pk=data.member.pk).visits.filter(state="done").count() == 0


def test_an_action_sent_by_htmx_answers_with_the_panel_only(client, personas, data):
    client.force_login(personas.worker)
    response = client.post(f"/registry/visits/{data.visit.number}/act/record/", {
        "version": data.visit.version, "finding": "concern", "note": "需要关注"},
        headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="case-panel"') and "<html" not in html
    assert "outcome-success" in html
    assert Visit.objects.get(pk=data.visit.pk).finding == "concern"
