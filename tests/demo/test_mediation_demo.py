"""The demo's disputes: centres with rosters and mediators, and disputes made
through the mediation services over simulated weeks — every state reached,
agreements with their terms, incidents turned into disputes linked both ways,
synthetic identity numbers that pass their checksums."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.conf import global_settings
from django.db import transaction

from shanzhi.accounts.models import Role, User
from shanzhi.cases.models import CaseLink
from shanzhi.cases.selectors import links
from shanzhi.core.identity import credit_code_valid, id_number_valid
from shanzhi.demo.load import DEMO_PASSWORD
from shanzhi.demo.mediation import build_mediation, credit_code, id_number
from shanzhi.geo.index import reset_index
from shanzhi.geo.models import Region
from shanzhi.incidents.case import INCIDENT_CASE
from shanzhi.incidents.models import Incident
from shanzhi.incidents.services import incident_report
from shanzhi.mediation import workflow as mwf
from shanzhi.mediation.case import MEDIATION_CASE
from shanzhi.mediation.models import (
    Centre,
    MediationCase,
    MediationEntry,
    MediationStage,
    Party,
    RosterEntry,
    Session,
)
from tests.demo.test_history import _small_city

pytestmark = pytest.mark.django_db

#: A Thursday afternoon.
END = dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC)
CASES = 120


INCIDENTS = 18
#: (category, the dispute type the caller chose)
DISPUTE_CATEGORIES = [("ZZ0101", "neighbour"), ("ZZ0102", "labour"), ("ZZ0103", "property")]
POINTS = [(120.005, 31.005), (120.015, 31.015), (120.025, 31.005), (120.035, 31.015)]


def _dispute_incidents() -> None:
    """Dispute reports of the 12345 hotline over the last weeks, through the service."""
    desk = User.objects.create(username="hotline", role=Role.OPERATOR,
                               region=Region.objects.get(code="320500"))
    for i in range(INCIDENTS):
        category, kind = DISPUTE_CATEGORIES[i % 3]
        lng, lat = POINTS[i % 4]
        incident_report(actor=desk, channel="hotline_12345", category=category, lng=lng,
                        lat=lat, description="楼上漏水与楼下住户发生纠纷，请协调处理。",
                        contact_name="张伟", contact_phone="13812345678",
                        extra={"dispute_type": kind}, now=END - dt.timedelta(days=2 + 2 * i))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The small city's dispute incidents, then its disputes of 60 days, built
    once for the module and rolled back after."""
    with django_db_blocker.unblock(), transaction.atomic():
        _small_city()
        _dispute_incidents()
        yield build_mediation(cases=CASES, days=60, seed=2026, end=END,
                              progress=lambda m: None)
        transaction.set_rollback(True)
    reset_index()


def test_it_makes_the_disputes_through_the_services_without_a_refusal(demo):
    assert not demo.errors
    assert demo.cases == MediationCase.objects.count() == CASES
    assert MediationEntry.objects.filter(action="register").count() == CASES
    # every step recorded by the engine: a stage row per state entered
    assert MediationStage.objects.count() >= CASES


def test_every_district_has_a_centre_and_towns_of_its_districts_too(demo):
    names = set(Centre.objects.values_list("name", flat=True))
    assert {"虎丘区矛盾纠纷调处化解中心", "吴中区矛盾纠纷调处化解中心",
            "西街道矛盾纠纷调处化解中心", "东街道矛盾纠纷调处化解中心"} == names
    for centre in Centre.objects.all():
        assert centre.path == centre.region.path
        modes = set(RosterEntry.objects.filter(centre=centre).values_list("mode", flat=True))
        assert modes == {"permanent", "rotating", "on_call"}
        assert all(e.department.region_id == centre.region_id
                   for e in RosterEntry.objects.filter(centre=centre).select_related(
                       "department"))
    kinds = set(RosterEntry.objects.values_list("department__kind", flat=True))
    assert {"SFJ", "GAFJ", "RSJ", "XFJ", "SFS", "PCS", "LDJC", "XFB"} <= kinds
    rotating = RosterEntry.objects.filter(mode="rotating")
    assert all(e.weekdays and set(e.weekdays) <= set(range(5)) for e in rotating)


def test_each_centre_has_a_mediator_who_logs_in_with_the_demo_password(demo, settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # as the demo hashed it
    for centre in Centre.objects.select_related("region"):
        user = User.objects.get(username=f"mediator_{centre.region.code}")
        assert user.role == Role.MEDIATOR and user.region_id == centre.region_id
        assert user.check_password(DEMO_PASSWORD)
    assert sorted(demo.mediators) == sorted(
        f"mediator_{c}" for c in Centre.objects.values_list("region__code", flat=True))


def test_every_state_is_reached_and_some_disputes_were_reopened(demo):
    states = Counter(MediationCase.objects.values_list("state", flat=True))
    assert set(states) == set(mwf.STATES), states
    assert MediationCase.objects.filter(reopen_count__gt=0).exists()
    assert MediationEntry.objects.filter(action="reopen").exists()
    assert MediationEntry.objects.filter(action="refer_up").exists()
    routes = set(MediationCase.objects.filter(state=mwf.REFERRED)
                 .values_list("route", flat=True))
    assert routes and routes <= set(mwf.ROUTES)
    # the open ones have a running deadline; the late ones were marked by the sweep
    for case in MediationCase.objects.filter(state__in=mwf.OPEN_STATES):
        assert case.due_at is not None and case.stage == mwf.STAGE_OF_STATE[case.state]


def test_mediating_disputes_have_sessions_and_agreements_have_terms(demo):
    assert Session.objects.filter(case__state=mwf.MEDIATING).exists()
    for case in MediationCase.objects.filter(state__in=[mwf.AGREED, mwf.CLOSED]) \
            .exclude(outcome=""):
        assert case.terms and all(isinstance(t, str) and t for t in case.terms)
        assert case.agreed_at is not None and case.agreed_at >= case.created_at
        assert case.sessions.exists()
    agreed = MediationCase.objects.filter(outcome__in=["agreement", "partial"])
    assert agreed.filter(judicial_confirmation=True).exists()
    assert agreed.filter(judicial_confirmation=False).exists()
    closed_after_follow_up = MediationCase.objects.filter(state=mwf.CLOSED, holds=True)
    assert closed_after_follow_up.exists()
    for case in closed_after_follow_up:
        actions = [e.action for e in case.timeline.order_by("at", "id")
                   if e.action not in ("warn", "overdue")]
        assert actions[-2:] == ["follow_up", "close"], (case.number, actions)
    assert MediationCase.objects.filter(state=mwf.REFERRED, outcome="failed").exists()


def test_timelines_run_forward_in_time_and_follow_the_table(demo):
    for case in MediationCase.objects.prefetch_related("timeline"):
        entries = list(case.timeline.all())
        assert entries[0].action == "register"
        times = [e.at for e in entries]
        assert times == sorted(times)
        assert times[-1] <= END
        state = mwf.RECEIVED
        for entry in entries[1:]:
            if entry.action in ("warn", "overdue"):
                continue
            assert entry.from_state == state, (case.number, entry.action)
            t = mwf.MEDIATION.transition(entry.action)
            assert state in t.sources
            state = entry.to_state
        assert state == case.state


def test_disputes_from_incidents_are_linked_both_ways(demo):
    from_incidents = MediationCase.objects.filter(source="incident")
    assert demo.from_incidents == from_incidents.count() > 0
    for case in from_incidents:
        incident = Incident.objects.get(number=case.incident_number)
        assert incident.category.code.startswith("ZZ01")
        assert case.created_at > incident.reported_at
        (seen_from_case,) = links(MEDIATION_CASE, case)
        assert seen_from_case["number"] == incident.number
        assert seen_from_case["direction"] == "from"
        (seen_from_incident,) = links(INCIDENT_CASE, incident)
        assert seen_from_incident["number"] == case.number
        assert seen_from_incident["direction"] == "to"
    assert CaseLink.objects.count() == from_incidents.count()


def test_parties_carry_valid_synthetic_identity_numbers(demo):
    people = Party.objects.filter(kind="person").exclude(id_number="")
    organisations = Party.objects.filter(kind="organisation")
    assert people.count() >= 2 * CASES * 0.5 and organisations.exists()
    assert all(id_number_valid(p.id_number) for p in people)
    assert all(credit_code_valid(p.id_number) for p in organisations)
    assert all(p.id_number[:6] in ("320505", "320506") for p in people)


def test_risk_levels_follow_the_rules(demo):
    levels = Counter(MediationCase.objects.values_list("risk_level", flat=True))
    assert levels["low"] > levels["medium"] > 0 and levels["high"] > 0
    for case in MediationCase.objects.filter(risk_level="high"):
        assert case.escalation and case.risk_reasons
    assert MediationCase.objects.exclude(amount=None).exists()


def test_the_generators_pass_the_checksums_of_the_standards():
    import random

    rng = random.Random(1)
    for _ in range(500):
        number = id_number(rng, area="320508", born=dt.date(1980, 2, 29), male=True)
        assert id_number_valid(number) and int(number[16]) % 2 == 1
        assert number[6:14] == "19800229"
        assert credit_code_valid(credit_code(rng, area="320508"))
    # a known number from the standard's example (11010519491231002X)
    assert id_number_valid("11010519491231002X")
    assert not id_number_valid("110105194912310021")


def test_it_is_built_once(demo):
    again = build_mediation(cases=10, days=5, seed=1, end=END, progress=lambda m: None)
    assert again.cases == 0 and MediationCase.objects.count() == CASES
