"""基础数据 in a real browser, under the strict CSP: the district's operator
finds the people from the menu, opens a person (numbers masked), reveals
them (the access log keeps it), looks at a grid on the map (its boundary and
its buildings drawn without a tile server), and imports a CSV through the
browser's upload: strict first (the bad row listed with its line and
column, nothing written), then the good rows only. With
SHANZHI_SCREENSHOTS=1 the pages go to docs/screenshots/registry/."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from django.utils import timezone

from shanzhi.core.identity import id_check
from shanzhi.core.models import AccessAction, AccessLog, calendar_sync_package, reset_calendar
from shanzhi.core.privacy import mask_id_number
from shanzhi.registry import services
from shanzhi.registry.models import Building, House, ImportJob, KeyPlace, Person, Visit
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_desk import sign_in
from tests.registry import conftest as registry_fixtures

pytestmark = pytest.mark.browser
places = registry_fixtures.places

NAMES = ("王建国", "李秀英", "张伟", "刘芳", "陈静", "杨洋", "赵磊", "黄敏", "周杰", "吴霞",
         "徐明", "孙丽", "马超", "朱红", "胡斌", "郭燕")
ROADS = (("西园路", "1号", 120.0030, 31.0170), ("西园路", "15号", 120.0062, 31.0176),
         ("枫桥路", "8号", 120.0041, 31.0128), ("枫桥路", "26号", 120.0080, 31.0139),
         ("寒山弄", "3号", 120.0021, 31.0112))


def id_number(first17: str) -> str:
    return first17 + id_check(first17)


def shot(page, name: str) -> None:
    folder = SCREENSHOTS / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name))


@pytest.fixture
def town(transactional_db, territory, personas, places):
    """A few buildings of the west grid 001 with their flats, sixteen people,
    special-group members at every risk level and a key place."""
    calendar_sync_package()
    reset_calendar()
    grid = territory.west_grids[0]
    admin = personas.admin
    houses = [places.west_house]
    for road, number, lng, lat in ROADS[1:]:
        building = Building.objects.create(
            grid=grid, community=territory.west_community, road=road, number=number,
            estate="西园新村", building="", lng=lng, lat=lat,
            address=f"{territory.west_community.name}{road}{number}",
            key=f"{territory.west_community.code}|{road}|{number}")
        for room in ("101", "202"):
            houses.append(House.objects.create(
                grid=grid, building=building, unit="1", room=room, use="own",
                address=f"{building.address}1单元{room}室", key=f"{building.key}|1|{room}",
                owner_name="业主", owner_phone="13500001111"))
    people = []
    for i, name in enumerate(NAMES):
        data = {"name": name, "id_number": id_number(f"3205051975{(i % 12) + 1:02d}1{i:02d}42"),
                "gender": "1" if i % 2 == 0 else "2", "phone": f"1380000{i:04d}",
                "house": houses[i % len(houses)].pk}
        if i % 4 == 1:
            ends = timezone.localdate() + dt.timedelta(days=20 + i)
            data.update(kind="migrant", permit_number=f"32050500{i:06d}",
                        permit_expires=ends.isoformat(), moved_in="2024-03-01", reason="务工")
        if i % 5 == 2:
            data["left_behind"] = "elder"
        people.append(services.person_create(actor=admin, data=data))
    for person, group, level in ((people[0], "correction", "high"),
                                 (people[3], "mental", "medium"),
                                 (people[5], "released", "low"),
                                 (people[8], "drug", "medium"),
                                 (people[11], "youth", "low")):
        services.member_create(actor=admin, person=person, group=group, level=level,
                               since=dt.date(2025, 11, 3), worker=personas.worker.username)
    KeyPlace.objects.create(grid=grid, name="西园网吧", kind="entertainment", level="medium",
                            contact_name="钱老板", contact_phone="13611112222",
                            house=houses[1])
    return people


def import_file(tmp_path, territory) -> str:
    grid = territory.west_grids[1].code
    path = tmp_path / "实有人口导入.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["姓名", "公民身份号码", "性别", "联系电话", "网格编码"])
        writer.writerow(["钱一", id_number("32050519910101001"), "男", "13800100001", grid])
        writer.writerow(["钱二", "320505199101010020", "女", "13800100002", grid])
        writer.writerow(["钱三", id_number("32050519910101003"), "男", "1380010", grid])
        writer.writerow(["钱四", id_number("32050519910101004"), "女", "13800100004", grid])
    return str(path)


def test_the_base_data_through_the_pages(new_page, live_server, town, personas, territory,
                                         tmp_path):
    base = live_server.url
    page = new_page()
    sign_in(page, base, personas.west_operator.username)

    # the people: from the menu, numbers masked
    page.click(".topnav a[data-menu='registry']")
    page.wait_for_selector("table.people-table tbody tr")
    first = town[0]
    assert page.locator("table.people-table tbody tr").count() == len(NAMES)
    assert mask_id_number(first.id_number) in page.inner_text("table.people-table")
    assert first.id_number not in page.content()
    shot(page, "people.png")

    # a person: masked, then revealed once (and logged)
    page.click(f"a[href='/registry/people/{first.pk}/']")
    page.wait_for_selector(".person-facts")
    assert page.inner_text(".person-facts .id-number") == mask_id_number(first.id_number)
    page.click(".reveal-button")
    page.wait_for_selector(".revealed-note")
    assert page.inner_text(".person-facts .id-number") == first.id_number
    assert AccessLog.objects.filter(action=AccessAction.VIEW, object_id=str(first.pk)).count() == 1
    shot(page, "person.png")

    # the grid on the map: its boundary and its buildings, no tile server
    page.goto(f"{base}/registry/grids/{territory.west_grids[0].code}/")
    page.wait_for_function("window.__gridMapReady === true")
    drawn = page.evaluate("() => window.__gridMap.queryRenderedFeatures({layers: ['buildings']})"
                          ".length")
    assert drawn == len(ROADS)
    assert page.evaluate("() => window.__gridMap.queryRenderedFeatures({layers: ['grid-line']})"
                         ".length") >= 1
    assert "王建国" in page.text_content(".grid-list")
    shot(page, "grid-map.png")

    # the follow-ups and the special groups
    page.click(".registry-tabs a[data-section='members']")
    page.wait_for_selector("table.members-table tbody tr")
    assert page.locator("table.members-table .light").count() == 5
    shot(page, "members.png")
    page.click(".registry-tabs a[data-section='visits']")
    page.wait_for_selector("table.visits-table tbody tr")
    assert page.locator("table.visits-table tbody tr").count() >= 5
    shot(page, "visits.png")

    # the import: strict first, the bad rows with their line and column
    path = import_file(tmp_path, territory)
    page.click(".registry-tabs a[data-section='imports']")
    page.set_input_files("#i-file", path)
    page.check("input[name='good_only'][value='0']")
    page.click(".import-form button[type=submit]")
    page.wait_for_selector("table.import-errors")
    rows = page.locator("table.import-errors tbody tr").all_inner_texts()
    assert any(r.startswith("3\t") and "公民身份号码" in r for r in rows), rows
    assert any(r.startswith("4\t") and "联系电话" in r for r in rows), rows
    assert not Person.objects.filter(name__startswith="钱").exists()
    assert ImportJob.objects.get().state == ImportJob.State.REFUSED
    shot(page, "import.png")

    # then the good rows only
    page.click(".backline a")
    page.set_input_files("#i-file", path)
    page.check("input[name='good_only'][value='1']")
    page.click(".import-form button[type=submit]")
    page.wait_for_selector(".import-result.outcome-success")
    assert sorted(Person.objects.filter(name__startswith="钱").values_list("name", flat=True)) \
        == ["钱一", "钱四"]
    assert page.locator("table.import-errors tbody tr").count() == 2
    assert page.errors == []


def test_the_grid_worker_records_a_visit_on_its_case_page(new_page, live_server, town,
                                                          personas):
    visit = Visit.objects.filter(member__person=town[0], state="due").get()
    page = new_page()
    sign_in(page, live_server.url, personas.worker.username)
    page.goto(f"{live_server.url}/registry/visits/{visit.number}/")
    form = page.locator("form.action-form[data-action='record']")
    form.locator("select[name='finding']").select_option("normal")
    form.locator("textarea[name='note']").fill("在家，情绪稳定，按时报到")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".incident-head .state-v-done")
    assert "在家，情绪稳定，按时报到" in page.inner_text(".incident-timeline")
    visit.refresh_from_db()
    assert visit.state == "done" and visit.finding == "normal"
    assert Visit.objects.filter(member__person=town[0], state="due").exists()  # the next one
    assert page.errors == []
