"""The fast paths of the people import and search give the answers of the
plain ones: the COPY text (escapes, empty cells, defaults), the duplicate
look-up per batch, the number search's two ways (narrow ids, broad walk),
the name order, and one date for the identity numbers' birth-date check."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pytest
import time_machine

from shanzhi.accounts.scope import Scope
from shanzhi.core import identity
from shanzhi.core.privacy import mask_id_number
from shanzhi.registry import imports, selectors, services
from shanzhi.registry.models import ImportJob, Person, PersonChange

RNG = random.Random(1408)
HEADER = ["姓名", "公民身份号码", "性别", "联系电话", "网格编码", "人员类别", "居住证有效期至",
          "备注"]


def number(born=None, male=True) -> str:
    born = born or dt.date(1960, 1, 1) + dt.timedelta(days=RNG.randrange(40 * 365))
    return identity.synthetic_id_number(RNG, area="320505", born=born, male=male)


def csv_file(rows) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode("utf-8-sig"))


def run(actor, rows, **kwargs) -> ImportJob:
    return imports.run_import(registry="people", actor=actor, file=csv_file(rows),
                              filename="people.csv", **kwargs)


@pytest.fixture
def grid_code(territory) -> str:
    return territory.west_grids[0].code


def test_text_needing_escapes_and_empty_cells_arrive_as_written(personas, grid_code):
    rows = [["王\\五", number(), "男", "", grid_code, "", "", "C:\\备注\\一"],
            ["李四", number(), "女", "13912345678", grid_code, "流动人口", "2027-06-30", ""]]
    job = run(personas.west_operator, rows)
    assert job.state == ImportJob.State.DONE and job.written == 2, job.errors
    wang = Person.objects.get(id_number=rows[0][1])
    assert (wang.name, wang.note, wang.phone, wang.kind, wang.id_type) == (
        "王\\五", "C:\\备注\\一", "", "registered", "resident")
    assert wang.permit_expires is None and wang.house_id is None and wang.version == 1
    assert wang.path == wang.grid.path
    li = Person.objects.get(id_number=rows[1][1])
    assert (li.kind, li.permit_expires) == ("migrant", dt.date(2027, 6, 30))
    assert li.birth_date == dt.date(int(rows[1][1][6:10]), int(rows[1][1][10:12]),
                                    int(rows[1][1][12:14]))
    # the history: every filled field, the defaults and the birth date included
    assert PersonChange.objects.get(person=li).changes == {
        "name": [None, "李四"], "id_type": [None, "resident"], "id_number": [None, li.id_number],
        "gender": [None, "2"], "birth_date": [None, li.birth_date.isoformat()],
        "phone": [None, "13912345678"], "kind": [None, "migrant"],
        "permit_expires": [None, "2027-06-30"], "job": [None, job.pk]}
    change = PersonChange.objects.get(person=wang)
    assert change.action == "import" and change.changes["name"] == [None, "王\\五"]
    assert change.changes["job"] == [None, job.pk] and "phone" not in change.changes


def test_registered_people_are_found_batch_after_batch(personas, grid_code, monkeypatch):
    """Several batches (the look-up runs per batch, against the rows moved
    before too): a later batch's number already in the registry is reported."""
    monkeypatch.setattr(imports, "BATCH", 3)
    rows = [[f"居民{i}", number(), "女", "", grid_code, "", "", ""] for i in range(7)]
    assert run(personas.west_operator, rows).written == 7
    again = [[f"新人{i}", number(), "男", "", grid_code, "", "", ""] for i in range(5)]
    again[4][1] = rows[6][1]
    job = run(personas.west_operator, again, good_only=True)
    assert job.written == 4 and job.error_count == 1
    assert [(e["line"], e["column"]) for e in job.errors] == [(6, "公民身份号码")]
    assert mask_id_number(rows[6][1]) in job.errors[0]["message"]  # named: in scope


def test_an_identity_number_born_after_the_imports_day_is_refused(personas, grid_code):
    with time_machine.travel(dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC), tick=False):
        tomorrow = number(born=dt.date(2026, 12, 3))
        today = number(born=dt.date(2026, 12, 2))
        job = run(personas.west_operator, [["甲", tomorrow, "男", "", grid_code, "", "", ""],
                                           ["乙", today, "女", "", grid_code, "", "", ""]],
                  good_only=True)
    assert job.written == 1 and [e["line"] for e in job.errors] == [2]


def test_person_check_takes_the_day_it_is_given(db):
    born = dt.date(2026, 12, 3)
    values = {"id_type": "resident", "id_number": number(born=born), "kind": "registered"}
    assert services.person_check(dict(values), today=dt.date(2026, 12, 3)) == []
    problems = services.person_check(dict(values), today=dt.date(2026, 12, 2))
    assert [p.field for p in problems] == ["id_number"]


@pytest.fixture
def numbered(territory):
    grid = territory.west_grids[0]
    people = []
    for i in range(6):
        people.append(Person.objects.create(
            grid=grid, name=f"号{i}", id_number=number(), gender="1",
            phone=f"1395555{i:04d}" if i % 2 else f"1380000{i:04d}"))
    return people


@pytest.mark.parametrize("narrow", [1000, 1])
def test_a_number_prefix_gives_the_same_page_whether_narrow_or_broad(personas, numbered,
                                                                   monkeypatch, narrow):
    monkeypatch.setattr(selectors, "NARROW", narrow)
    scope = Scope.for_user(personas.west_operator)
    found = list(selectors.people_list(scope=scope, q="1395555"))
    assert found == sorted([p for p in numbered if p.phone.startswith("1395555")],
                           key=lambda p: p.pk)
    prefix = numbered[0].id_number[:6]
    assert list(selectors.people_list(scope=scope, q=prefix)) == sorted(
        numbered, key=lambda p: p.pk)
    east = Scope.for_user(personas.east_operator)
    assert list(selectors.people_list(scope=east, q="1395555")) == []


def test_names_are_ordered_bytewise_with_or_without_a_prefix(personas, territory):
    grid = territory.west_grids[0]
    for name in ("张伟", "张三", "Zhang", "张伟明", "阿明"):
        Person.objects.create(grid=grid, name=name, id_number=number(), gender="1")
    scope = Scope.for_user(personas.west_operator)
    listed = [p.name for p in selectors.people_list(scope=scope)]
    assert listed == sorted(listed, key=lambda n: n.encode())
    assert [p.name for p in selectors.people_list(scope=scope, q="张伟")] == ["张伟", "张伟明"]
