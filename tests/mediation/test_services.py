"""The mediation services: intake with its checks and risk, every action
through the engine, conflicts, the link to an incident, and the sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from shanzhi.cases import selectors as case_selectors
from shanzhi.cases import sla
from shanzhi.cases.engine import IdempotencyMismatch
from shanzhi.cases.models import Notification
from shanzhi.core.errors import Conflict, PermissionDenied, ValidationError
from shanzhi.incidents import services as incident_services
from shanzhi.incidents.case import INCIDENT_CASE
from shanzhi.mediation import services
from shanzhi.mediation.case import MEDIATION_CASE
from shanzhi.mediation.models import MediationCase, MediationEntry, MediationStage, Session
from tests.mediation.conftest import (
    CREDIT_CODE,
    T0,
    WEST_POINT,
    ZJJ,
    agreed,
    at,
    mediating,
    party,
    register,
)

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- intake

def test_a_registered_dispute_waits_for_assignment_at_its_centre(med):
    case = register(med)
    assert case.number == f"TJ20260302{case.pk:08d}"
    assert (case.state, case.centre, case.grid.code) == (
        "received", med.town, med.cast.worker.grid_worker.grids.get().code)
    assert case.stage == "assign" and case.due_at == at(2026, 3, 4, 17, 30)
    assert [p.name for p in case.parties.all()] == ["张三", "李四"]
    assert MediationEntry.objects.get(case=case).action == "register"
    assert MediationStage.objects.filter(case=case, stage="assign").count() == 1
    assert not Notification.objects.exists()  # the centre's one operator took it in


def test_the_centre_hears_of_a_dispute_a_mediator_took_in(med):
    case = register(med, actor=med.mediator)
    told = Notification.objects.get(case_type="mediation", kind="new")
    assert (told.user, told.number) == (med.cast.town_operator, case.number)
    assert case.number in told.text and "楼上漏水" in told.text


@pytest.mark.parametrize(("fields", "field"), [
    ({"centre": "NOPE"}, "centre"),
    ({"dispute_type": "quarrel"}, "dispute_type"),
    ({"parties": []}, "parties"),
    ({"parties": [party(name="  ")]}, "parties[0].name"),
    ({"parties": [party(id_number="110105194912310021")]}, "parties[0].id_number"),
    ({"parties": [party(kind="organisation", id_number="91350100M000100Y44")]},
     "parties[0].id_number"),
    ({"parties": [party(role="respondent")]}, "parties"),
    ({"title": ""}, "title"),
    ({"description": "x" * 4001}, "description"),
    ({"amount": -1}, "amount"),
    ({"people": 0}, "people"),
    ({"source": "email"}, "source"),
    ({"centre": "C-320506"}, "centre"),  # the east centre: outside the town operator's territory
])
def test_it_names_the_field_it_refuses(med, fields, field):
    with pytest.raises(ValidationError) as refused:
        register(med, **fields)
    assert refused.value.field == field
    assert not MediationCase.objects.exists()


def test_it_takes_an_organisation_with_a_valid_credit_code(med):
    case = register(med, parties=[party(), party(role="respondent", kind="organisation",
                                                 name="某物业公司", id_number=CREDIT_CODE)])
    assert case.parties.get(kind="organisation").id_number == CREDIT_CODE


def test_a_grid_worker_may_not_register_a_dispute(med):
    with pytest.raises(PermissionDenied):
        register(med, actor=med.cast.worker)


@pytest.mark.parametrize(("fields", "level", "reasons", "days"), [
    ({}, "low", [], 2),
    ({"people": 5}, "medium", ["many_people"], 2),
    ({"parties": [party(vulnerable=True)]}, "medium", ["vulnerable"], 2),
    ({"threat": True}, "high", ["threat"], 1),
])
def test_the_risk_sets_the_level_and_the_time_to_assign(med, fields, level, reasons, days):
    case = register(med, **fields)
    assert (case.risk_level, case.risk_reasons, case.escalation) == (level, reasons,
                                                                     level == "high")
    assert case.due_at == at(2026, 3, 2 + days, 17, 30)
    if "parties" in fields:
        assert case.vulnerable


def test_a_high_risk_dispute_is_told_to_the_centre_above(med):
    register(med, threat=True)
    assert Notification.objects.filter(user=med.cast.west_operator, kind="new").exists()


def test_a_retry_with_the_same_key_returns_the_first_case(med):
    first = register(med, idempotency_key="k-1")
    again, created = services.case_register(
        actor=med.cast.town_operator, source="walk_in", centre=med.town.code,
        dispute_type="neighbour", title="楼上漏水", description="楼上漏水，协商不成。",
        parties=[party(), party(role="respondent", name="李四", id_number="",
                                phone="13900001111")],
        **WEST_POINT, idempotency_key="k-1", now=T0)
    assert (again.pk, created) == (first.pk, False)
    with pytest.raises(IdempotencyMismatch):
        register(med, idempotency_key="k-1", title="另一件事")
    assert MediationCase.objects.count() == 1


# ---------------------------------------------------------------- actions

def test_the_whole_way_from_assignment_to_closing(med):
    mediator = med.mediator
    case = mediating(med)
    assert (case.state, case.mediator, case.stage) == ("mediating", mediator, "mediate")
    assert case.due_at == at(2026, 3, 23, 17, 30)  # 15 working days
    case = services.case_record_session(actor=mediator, case=case, note="双方陈述",
                                        place="调解室", participants="张三、李四",
                                        held_at=T0 + dt.timedelta(hours=1),
                                        now=T0 + dt.timedelta(hours=1))
    session = Session.objects.get(case=case)
    assert (session.place, session.entry.action) == ("调解室", "record_session")
    case = services.case_agree(actor=mediator, case=case, terms=["赔偿2000元"],
                               outcome="partial", judicial_confirmation=True,
                               now=T0 + dt.timedelta(hours=2))
    assert (case.state, case.outcome, case.terms, case.stage) == (
        "agreed", "partial", ["赔偿2000元"], "follow_up")
    case = services.case_follow_up(actor=med.cast.worker, case=case, note="已修复",
                                   holds=True, now=T0 + dt.timedelta(days=3))
    assert case.holds is True
    case = services.case_close(actor=mediator, case=case, note="履行完毕",
                               now=T0 + dt.timedelta(days=4))
    assert (case.state, case.closed_at) == ("closed", T0 + dt.timedelta(days=4))
    assert [e.action for e in MediationEntry.objects.filter(case=case)] == [
        "register", "assign", "record_session", "agree", "follow_up", "close"]


def test_an_agreement_that_does_not_hold_must_be_reopened_not_closed(med):
    case = agreed(med)
    case = services.case_follow_up(actor=med.mediator, case=case, note="未履行", holds=False)
    assert Notification.objects.filter(kind="follow_up", user=med.cast.town_operator).exists()
    with pytest.raises(Conflict):
        services.case_close(actor=med.mediator, case=case, note="结案")
    case = services.case_reopen(actor=med.mediator, case=case, reason="协议未履行")
    assert (case.state, case.outcome, case.holds, case.reopen_count) == ("mediating", "",
                                                                         None, 1)
    assert case.terms  # kept for the record


def test_a_stationed_department_mediates_and_another_may_not(med):
    case = register(med)
    case = services.case_assign(actor=med.cast.town_operator, case=case, assignee=ZJJ)
    assert (case.department.code, case.mediator) == (ZJJ, None)
    with pytest.raises(PermissionDenied):
        services.case_record_session(actor=med.cast.cgj_handler, case=case, note="x",
                                     place="p", participants="q")
    case = services.case_record_session(actor=med.cast.handler, case=case, note="x",
                                        place="p", participants="q")
    assert case.sessions.count() == 1


def test_it_refuses_an_assignee_that_is_neither_mediator_nor_stationed(med):
    case = register(med)
    for who in ("320505-CGJ", "east_operator", "nobody-at-all"):
        with pytest.raises(ValidationError) as refused:
            services.case_assign(actor=med.cast.town_operator, case=case, assignee=who)
        assert refused.value.field == "assignee"


def test_a_transfer_moves_the_dispute_to_another_centre_of_the_city(med):
    case = mediating(med)
    case = services.case_transfer(actor=med.cast.town_operator, case=case,
                                  centre=med.east.code, reason="属地在吴中")
    assert (case.state, case.centre, case.mediator, case.stage) == ("received", med.east,
                                                                     None, "assign")
    assert Notification.objects.filter(user=med.cast.east_operator, kind="transfer").exists()
    # the east centre's operator now sees it and acts on it
    again = services.case_for_actor(actor=med.cast.east_operator, case_id=case.number)
    assert again.pk == case.pk


def test_referring_up_moves_the_same_case_to_the_centre_above(med):
    case = register(med)
    case = services.case_refer_up(actor=med.cast.town_operator, case=case, reason="疑难")
    assert (case.centre, case.state, case.escalate_count) == (med.district, "received", 1)
    with pytest.raises(Conflict):  # no centre above the district's
        services.case_refer_up(actor=med.cast.west_operator, case=case, reason="更疑难")


def test_failed_mediation_is_referred_out_and_a_withdrawal_closes(med):
    case = mediating(med)
    with pytest.raises(ValidationError):
        services.case_refer_out(actor=med.mediator, case=case, route="prayer", reason="x")
    case = services.case_refer_out(actor=med.mediator, case=case, route="litigation",
                                   reason="对方拒绝")
    assert (case.state, case.route, case.outcome) == ("referred", "litigation", "failed")
    told = Notification.objects.filter(kind="refer_out", case_id=case.pk).first()
    assert told is not None and told.params["route"] == "litigation"  # the code is stored …
    with translation.override("zh-hans"):  # … and named when read
        assert told.text.endswith("诉讼")
    with translation.override("en"):
        assert told.text.endswith("Litigation")
    other = register(med)
    other = services.case_withdraw(actor=med.cast.town_operator, case=other, reason="撤回")
    assert other.state == "closed" and other.closed_at is not None


def test_supervision_and_extensions_go_through_the_engine(med):
    case = mediating(med)
    case = services.case_supervise(actor=med.cast.west_operator, case=case, note="抓紧")
    assert case.supervise_count == 1
    assert Notification.objects.filter(user=med.mediator, kind="supervise").exists()
    case = services.case_request_extension(actor=med.mediator, case=case, reason="需鉴定",
                                           amount=5)
    case = services.case_refuse_extension(actor=med.cast.town_operator, case=case,
                                          reason="不予延期")
    assert case.pending_extension is None
    case = services.case_request_extension(actor=med.mediator, case=case, reason="需鉴定",
                                           amount=5)
    before = case.due_at
    case = services.case_approve_extension(actor=med.cast.town_operator, case=case)
    assert case.extension_count == 1 and case.due_at > before


def test_a_stale_version_is_a_conflict(med):
    case = register(med)
    stale_version = case.version
    services.case_supervise(actor=med.cast.town_operator, case=case, note="抓紧")
    fresh = MediationCase.objects.get(pk=case.pk)
    with pytest.raises(Conflict) as refused:
        services.case_assign(actor=med.cast.town_operator, case=fresh,
                             assignee=med.mediator.username, expected_version=stale_version)
    assert refused.value.details["version"] == stale_version + 1
    assert MediationCase.objects.get(pk=case.pk).state == "received"


def test_a_mediator_acts_only_on_the_cases_assigned_to_them(med, territory):
    from shanzhi.accounts.models import Role
    from shanzhi.accounts.services import user_create
    from tests.conftest import PASSWORD

    other = user_create(username="mediator2", password=PASSWORD, role=Role.MEDIATOR,
                        region_code=territory.west.code)
    case = mediating(med)
    with pytest.raises(PermissionDenied):
        services.case_agree(actor=other, case=case, terms=["x"])


# ---------------------------------------------------------------- the agreement

def test_the_agreement_pdf_needs_an_agreement(med):
    case = mediating(med)
    with pytest.raises(Conflict):
        services.agreement_pdf(case)
    case = agreed(med)
    pdf = services.agreement_pdf(case)
    assert pdf.startswith(b"%PDF")


# ---------------------------------------------------------------- an incident turned dispute

def test_an_incident_becomes_a_dispute_linked_both_ways(med):
    incident, _ = incident_services.incident_report(
        actor=med.cast.worker, channel="grid_patrol", description="邻里因噪音争吵",
        category="SJ0102", contact_name="王五", contact_phone="13700002222", **WEST_POINT)
    plain = {"id": incident.pk, "number": incident.number, "description": incident.description,
             "lng": incident.lng, "lat": incident.lat, "contact_name": incident.contact_name,
             "contact_phone": incident.contact_phone}
    case, created = services.case_from_incident(actor=med.cast.town_operator, incident=plain,
                                                centre=med.town.code, dispute_type="neighbour")
    assert created and (case.source, case.incident_number) == ("incident", incident.number)
    assert case.parties.get().name == "王五"
    ours = case_selectors.links(MEDIATION_CASE, case)
    theirs = case_selectors.links(INCIDENT_CASE, incident)
    assert [(x["type"], x["number"], x["direction"]) for x in ours] == [
        ("incident", incident.number, "from")]
    assert [(x["type"], x["number"], x["direction"], x["url"]) for x in theirs] == [
        ("mediation", case.number, "to", f"/mediation/cases/{case.number}/")]


# ---------------------------------------------------------------- the sweep

def test_the_sweep_marks_an_overdue_dispute_and_supervises_a_high_risk_one(med):
    plain = register(med)
    risky = register(med, threat=True)
    counts = sla.sweep(now=at(2026, 3, 5, 10))
    plain.refresh_from_db()
    risky.refresh_from_db()
    assert plain.overdue and plain.supervise_count == 0
    assert risky.overdue and risky.supervise_count == 1
    assert counts["supervised"] >= 1
    assert Notification.objects.filter(user=med.cast.west_operator, kind="overdue",
                                       case_id=risky.pk).exists()
    assert not Notification.objects.filter(user=med.cast.west_operator, kind="overdue",
                                           case_id=plain.pk).exists()
    assert sla.sweep(now=at(2026, 3, 5, 11))["overdue"] == 0  # idempotent
