"""Routing: which department an incident is suggested to. Rules are category ×
region; the most specific region wins, then the most specific category
(subclass, its class, any); without a rule, the category's default department
kind per level, lowest level first; otherwise no suggestion. The suggestion
and its reason ride on the report row and on a registered incident; the
operator may dispatch elsewhere, which the dispatch row records."""

from __future__ import annotations

import pytest
from django.utils import translation

from shanzhi.accounts.models import Department
from shanzhi.accounts.services import department_create
from shanzhi.core.errors import ValidationError
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Category, RoutingRule
from tests.incidents.conftest import CGJ, EAST_POINT, ZHZF, ZJJ, incident_in, report

NO_MATCH = "no routing rule and no default department matches"


def route(incident) -> dict:
    """The suggestion on the incident's report row."""
    return incident.timeline.get(action="report").data["route"]


def rule(category: str | None, region, department: str) -> RoutingRule:
    return RoutingRule.objects.create(
        category=Category.objects.get(code=category) if category else None, region=region,
        department=Department.objects.get(code=department))


@pytest.fixture
def east_report(cast):
    def make(**fields):
        return report(cast, actor=cast.east_operator, **EAST_POINT, **fields)
    return make


# ---------------------------------------------------------------- defaults

def test_without_rules_the_default_kind_of_the_lowest_level_is_suggested(cast):
    suggestion = route(report(cast))  # 暴露垃圾: town → ZHZF, district → CGJ
    assert suggestion["department"] == ZHZF
    assert suggestion["reason"] == "category default for level town: ZHZF"


def test_the_default_falls_back_to_a_higher_level_that_has_the_kind(cast, territory,
                                                                    east_report):
    department_create(code="320506-CGJ", name="吴中区城管局", region_code="320506", kind="CGJ")
    suggestion = route(east_report())  # the east town has no ZHZF
    assert suggestion["department"] == "320506-CGJ"
    assert suggestion["reason"] == "category default for level district: CGJ"


def test_no_rule_and_no_default_department_means_no_suggestion(cast, east_report):
    assert route(east_report(category="ZZ0801")) == {"department": None, "reason": NO_MATCH}


def test_an_incident_without_category_gets_no_default(cast):
    incident = report(cast, category=None)
    assert route(incident) == {"department": None, "reason": NO_MATCH}


# ---------------------------------------------------------------- rules

def test_a_rule_for_category_and_region_wins_over_the_default(cast, territory):
    made = rule("SJ0102", territory.west, CGJ)
    suggestion = route(report(cast))
    assert suggestion["department"] == CGJ
    assert suggestion["reason"].startswith(f"routing rule #{made.pk}:")


def test_the_most_specific_region_wins(cast, territory, east_report):
    department_create(code="320500-CGJ", name="苏州市城管局", region_code="320500", kind="CGJ")
    rule("SJ0102", territory.city, "320500-CGJ")
    rule("SJ0102", territory.west_town, ZJJ)
    assert route(report(cast))["department"] == ZJJ
    assert route(east_report())["department"] == "320500-CGJ"


def test_a_rule_for_the_class_applies_to_its_subclasses(cast, territory):
    rule("SJ01", territory.west, CGJ)
    assert route(report(cast, category="SJ0102"))["department"] == CGJ
    assert route(report(cast, category="SJ0103"))["department"] == CGJ
    assert route(report(cast, category="SJ0301"))["department"] == ZHZF  # another class


def test_a_rule_without_category_applies_to_every_category(cast, territory):
    rule(None, territory.west, ZJJ)
    for category in ("SJ0102", "ZZ0801"):
        assert route(report(cast, category=category))["department"] == ZJJ
    extra = {"component_state": "damaged"}
    assert route(report(cast, category="BJ0101", extra=extra))["department"] == ZJJ


def test_at_one_region_a_subclass_rule_beats_its_class_which_beats_a_rule_for_all(cast,
                                                                                 territory):
    rule(None, territory.west, ZJJ)
    rule("SJ01", territory.west, CGJ)
    rule("SJ0102", territory.west, ZHZF)
    assert route(report(cast, category="SJ0102"))["department"] == ZHZF
    assert route(report(cast, category="SJ0103"))["department"] == CGJ
    assert route(report(cast, category="ZZ0801"))["department"] == ZJJ


def test_a_lower_region_beats_a_more_specific_category_higher_up(cast, territory):
    rule("SJ0102", territory.west, CGJ)
    rule(None, territory.west_town, ZJJ)
    assert route(report(cast))["department"] == ZJJ


# ---------------------------------------------------------------- where the suggestion shows

def test_the_suggestion_is_on_the_report_row_and_on_the_registered_incident(api, cast):
    reported = api.report(cast.worker)
    timeline = api.get(cast.town_operator, f"/api/v1/incidents/{reported['number']}/timeline")
    assert timeline[0]["data"]["route"] == {
        "department": ZHZF, "department_name": "西街道综合执法局",
        "reason": "category default for level town: ZHZF"}
    # no suggestion before the incident is registered (the schema's field is null)
    assert api.get(cast.town_operator,
                   f"/api/v1/incidents/{reported['number']}")["suggested_department"] is None
    registered = api.act(cast.town_operator, reported, "accept")
    assert registered["suggested_department"] == timeline[0]["data"]["route"]


def test_classifying_at_accept_makes_the_suggestion(cast):
    incident = report(cast, actor=cast.town_operator, channel="hotline_12345", category=None)
    incident = services.incident_accept(actor=cast.town_operator, incident=incident,
                                        category="SJ0102")
    assert incident.timeline.get(action="accept").data["route"]["department"] == ZHZF


@pytest.mark.parametrize(("department", "followed"), [(ZHZF, True), (ZJJ, False)])
def test_the_dispatch_row_records_whether_the_suggestion_was_followed(api, cast, department,
                                                                      followed):
    incident = incident_in(cast, wf.REGISTERED)
    api.act(cast.town_operator, incident.number, "dispatch", department=department)
    entry = incident.timeline.get(action="dispatch")
    assert entry.data["department"] == department
    assert entry.data["followed_suggestion"] is followed
    assert entry.data["suggested"]["department"] == ZHZF


def test_a_rule_added_or_removed_after_reports_were_routed_counts_at_once(cast, territory):
    assert route(report(cast))["department"] == ZHZF  # the rules are in memory now
    made = rule("SJ0102", territory.west, CGJ)
    assert route(report(cast))["department"] == CGJ
    made.delete()
    assert route(report(cast))["department"] == ZHZF


def test_a_category_switched_off_is_unknown_at_once(cast):
    report(cast)  # the categories are in memory now
    category = Category.objects.get(code="SJ0102")
    category.is_active = False
    category.save()
    with translation.override("en"), pytest.raises(ValidationError, match="Unknown category"):
        report(cast)
