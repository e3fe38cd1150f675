"""GET /api/v1/categories: the taxonomy with codes, current limits, default
departments, urgencies and extra fields."""

from __future__ import annotations

from shanzhi.incidents.categories import category_rules_create
from shanzhi.incidents.models import Category

URL = "/api/v1/categories"


def by_code(api, user) -> dict[str, dict]:
    return {c["code"]: c for c in api.get(user, URL)}


def test_the_categories_list_codes_limits_and_extra_fields(api, cast):
    categories = by_code(api, cast.worker)
    exposed_rubbish = categories["SJ0102"]
    assert exposed_rubbish["name"] == "暴露垃圾" and exposed_rubbish["parent"] == "SJ01"
    assert exposed_rubbish["version"] == 1
    assert exposed_rubbish["limits"]["handle"] == {"amount": 4, "unit": "working_hours"}
    assert set(exposed_rubbish["limits"]) == {"accept", "dispatch", "sign", "handle", "verify"}
    assert [f["code"] for f in exposed_rubbish["extra_fields"]] == ["location_desc"]
    assert {u["code"]: u["factor"] for u in exposed_rubbish["urgencies"]}["urgent"] == 0.5
    assert exposed_rubbish["departments"]["town"] == "ZHZF"
    manhole = categories["BJ0101"]["extra_fields"][0]
    assert (manhole["code"], manhole["required"], manhole["datatype"]) == (
        "component_state", True, "singlevaluelist")
    assert {v["key"] for v in manhole["values"]} == {"damaged", "lost", "abandoned"}


def test_a_class_is_listed_without_rules_of_its_own(api, cast):
    city_look = by_code(api, cast.worker)["SJ01"]
    assert city_look["parent"] is None
    assert city_look["version"] is None and city_look["limits"] is None


def test_the_list_shows_the_newest_version_of_the_rules(api, cast):
    sj0102 = Category.objects.get(code="SJ0102")
    rules = sj0102.current_rules
    category_rules_create(actor=cast.admin, category=sj0102,
                          limits={**rules.limits, "handle": {"amount": 2, "unit": "working_hours"}},
                          departments=rules.departments, urgencies=rules.urgencies,
                          extra_fields=rules.extra_fields, on_overdue="supervise")
    listed = by_code(api, cast.worker)["SJ0102"]
    assert listed["version"] == 2 and listed["on_overdue"] == "supervise"
    assert listed["limits"]["handle"] == {"amount": 2, "unit": "working_hours"}


def test_the_categories_need_a_login(client, cast):
    assert client.get(URL).status_code == 401
