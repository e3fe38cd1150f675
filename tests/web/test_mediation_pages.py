"""The mediation desk's pages through the Django test client: the list, the
intake form (a good post registers and redirects, a bad one shows its errors
by field and saves nothing), a dispute's page with its actions (a stale form
meets a kind conflict), the agreement's PDF, the roster — and nothing of the
west for the east district's operator."""

from __future__ import annotations

import re

import pytest

from shanzhi.cases.models import CaseLink
from shanzhi.mediation import services
from shanzhi.mediation.models import MediationCase, Party
from tests.conftest import PASSWORD
from tests.incidents.conftest import report
from tests.mediation import conftest as mediation_fixtures
from tests.mediation.conftest import ID_NUMBER, mediating, register

# the mediation fixtures: the incident cast, a mediator, the centres and a roster
med = mediation_fixtures.med
cast = mediation_fixtures.cast
desk = mediation_fixtures.desk
_fresh_calendar = mediation_fixtures._fresh_calendar


def log_in(client, user) -> None:
    assert client.login(username=user.username, password=PASSWORD)


def intake_post(med, **changes) -> dict:
    data = {
        "idempotency_key": "k-1", "centre": med.town.code, "source": "walk_in",
        "dispute_type": "labour", "title": "拖欠工资", "description": "工地拖欠三个月工资。",
        "amount": "36000", "people": "6", "visits": "1", "region": "320505001001",
        "p0-role": "applicant", "p0-kind": "person", "p0-name": "王五",
        "p0-id_number": ID_NUMBER, "p0-phone": "13812345678",
        "p1-role": "respondent", "p1-kind": "organisation", "p1-name": "某建筑公司",
        "p1-id_number": "91350100M000100Y43", "p1-phone": "051266668888",
        "p2-role": "respondent", "p2-kind": "person",
    }
    data.update(changes)
    return data


def text_of(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------- the pages render

def test_the_list_intake_case_and_roster_pages_render_for_an_operator(client, med):
    case = register(med)
    log_in(client, med.cast.town_operator)

    listing = client.get("/mediation/")
    assert listing.status_code == 200
    assert case.number in text_of(listing) and "楼上漏水" in text_of(listing)
    assert 'href="/mediation/new/"' in text_of(listing)

    form = client.get("/mediation/new/")
    assert form.status_code == 200
    page = text_of(form)
    for name in ("centre", "dispute_type", "title", "description", "p0-name", "p1-name",
                 "p2-name", "region"):
        assert f'name="{name}"' in page
    assert med.town.code in page and med.east.code not in page

    detail = client.get(f"/mediation/cases/{case.number}/")
    assert detail.status_code == 200
    assert "data-action=\"assign\"" in text_of(detail)
    assert med.mediator.username in text_of(detail)  # a choice of the assign form

    roster = client.get("/mediation/roster/")
    assert roster.status_code == 200
    assert "西街道矛调中心" in text_of(roster) and "虎丘区住建局" in text_of(roster)
    assert "吴中区矛调中心" not in text_of(roster)


def test_the_list_filters_by_risk_and_state(client, med):
    low = register(med)
    high = register(med, title="群体讨薪", people=40)
    log_in(client, med.cast.town_operator)
    page = text_of(client.get("/mediation/?risk=high"))
    assert high.number in page and low.number not in page
    page = text_of(client.get("/mediation/?state=mediating"))
    assert high.number not in page and low.number not in page


def test_the_menu_offers_the_mediation_desk_to_centre_staff_not_to_a_viewer(client, med):
    log_in(client, med.cast.town_operator)
    assert 'data-menu="mediation"' in text_of(client.get("/mediation/"))
    client.logout()
    log_in(client, med.cast.viewer)
    assert client.get("/mediation/").status_code == 403
    assert 'data-menu="mediation"' not in text_of(client.get("/"))


# ---------------------------------------------------------------- intake

def test_an_intake_post_creates_a_case_and_redirects_to_its_page(client, med):
    log_in(client, med.cast.town_operator)
    response = client.post("/mediation/new/", intake_post(med))
    case = MediationCase.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/mediation/cases/{case.number}/"
    assert (case.title, case.dispute_type, case.people, case.centre) == (
        "拖欠工资", "labour", 6, med.town)
    assert case.risk_level == "medium" and case.risk_reasons == ["many_people"]
    parties = list(case.parties.order_by("id").values_list("role", "kind", "name"))
    assert parties == [("applicant", "person", "王五"),
                       ("respondent", "organisation", "某建筑公司")]  # the empty third row: none

    again = client.post("/mediation/new/", intake_post(med))  # a double submit
    assert again.status_code == 302 and MediationCase.objects.count() == 1


def test_a_bad_post_shows_the_errors_by_field_and_saves_nothing(client, med):
    log_in(client, med.cast.town_operator)
    response = client.post("/mediation/new/", intake_post(med, title="", **{"p1-name": ""}))
    assert response.status_code == 400
    page = text_of(response)
    assert page.count('class="field-error"') == 2
    assert re.search(r'name="title"[^>]*aria-invalid="true"', page)
    assert re.search(r'name="p1-name"[^>]*aria-invalid="true"', page)
    assert 'value="工地拖欠三个月工资。"' not in page  # a textarea keeps it as its text
    assert "工地拖欠三个月工资。" in page  # what was typed is kept
    assert MediationCase.objects.count() == 0 and Party.objects.count() == 0


def test_the_services_refusal_is_shown_next_to_the_party_it_names(client, med):
    log_in(client, med.cast.town_operator)
    bad = intake_post(med, **{"p0-id_number": "110105194912310021"})  # wrong check digit
    response = client.post("/mediation/new/", bad)
    assert response.status_code == 400
    page = text_of(response)
    assert re.search(r'name="p0-id_number"[^>]*aria-invalid="true"', page)
    assert "GB 11643" in page
    assert MediationCase.objects.count() == 0


def test_an_incident_of_a_dispute_category_turns_into_a_linked_mediation_case(client, med):
    incident = report(med.cast, actor=med.cast.town_operator, channel="hotline_12345",
                      category="ZZ0101",
                      description="邻居装修噪音扰民，双方争吵。", contact_name="赵六",
                      contact_phone="13700001111", extra={"dispute_type": "neighbour"})
    log_in(client, med.cast.town_operator)
    page = text_of(client.get(f"/incidents/{incident.number}/"))
    assert f'href="/mediation/new/?incident={incident.number}"' in page

    form = text_of(client.get(f"/mediation/new/?incident={incident.number}"))
    assert "邻居装修噪音扰民" in form and 'value="赵六"' in form

    response = client.post(f"/mediation/new/?incident={incident.number}", intake_post(
        med, incident=incident.number, source="incident", dispute_type="neighbour",
        description="邻居装修噪音扰民，双方争吵。"))
    case = MediationCase.objects.get()
    assert response.status_code == 302
    assert case.source == "incident" and case.incident_number == incident.number
    assert CaseLink.objects.filter(from_number=incident.number, to_number=case.number).exists()
    page = text_of(client.get(f"/incidents/{incident.number}/"))
    assert f'href="/mediation/cases/{case.number}/"' in page
    assert "/mediation/new/?incident=" not in page  # turned once
    assert f'href="/incidents/{incident.number}/"' in text_of(
        client.get(f"/mediation/cases/{case.number}/"))


# ---------------------------------------------------------------- the case page

def test_identity_numbers_and_phones_are_masked_on_the_case_page(client, med):
    case = register(med)
    log_in(client, med.cast.town_operator)
    page = text_of(client.get(f"/mediation/cases/{case.number}/"))
    assert ID_NUMBER not in page and "13812345678" not in page and "13900001111" not in page
    assert "110105********002X" in page and "138****5678" in page and "139****1111" in page
    assert "张三" in page and "李四" in page


def test_the_assign_form_reaches_the_service_and_a_stale_form_is_a_kind_conflict(client, med):
    case = register(med)
    log_in(client, med.cast.town_operator)
    url = f"/mediation/cases/{case.number}/act/assign/"
    response = client.post(url, {"version": case.version, "assignee": med.mediator.username,
                                 "note": "请尽快联系双方"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == "mediating" and case.mediator == med.mediator

    stale = client.post(f"/mediation/cases/{case.number}/act/transfer/",
                        {"version": case.version - 1, "centre": med.district.code,
                         "reason": "改由区中心调处"}, HTTP_HX_REQUEST="true")
    assert stale.status_code == 409
    assert 'class="outcome outcome-warning"' in text_of(stale)
    case.refresh_from_db()
    assert case.centre == med.town


def test_a_missing_required_field_is_shown_on_the_action_form(client, med):
    case = register(med)
    log_in(client, med.cast.town_operator)
    response = client.post(f"/mediation/cases/{case.number}/act/assign/",
                           {"version": case.version, "assignee": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    page = text_of(response)
    assert re.search(r'<form class="action-form" data-action="assign"[^>]*>', page)
    assert 'data-open="assign"' in page and 'class="field-error"' in page
    case.refresh_from_db()
    assert case.state == "received"


def test_the_mediator_records_an_agreement_and_downloads_its_pdf(client, med):
    case = mediating(med)
    log_in(client, med.mediator)
    response = client.post(f"/mediation/cases/{case.number}/act/agree/", {
        "version": case.version, "terms": "李四赔偿张三维修费2000元\n\n双方不再追究",
        "outcome": "agreement", "performance": "三日内付清", "judicial_confirmation": "on"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.terms == ["李四赔偿张三维修费2000元", "双方不再追究"] and case.judicial_confirmation
    pdf = client.get(f"/mediation/cases/{case.number}/agreement.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf["Content-Disposition"]


def test_an_out_of_territory_operator_gets_404_on_the_case_page_and_the_pdf(client, med):
    case = mediating(med)
    services.case_agree(actor=med.mediator, case=case, terms=["赔偿2000元"])
    log_in(client, med.cast.east_operator)
    assert client.get(f"/mediation/cases/{case.number}/").status_code == 404
    assert client.get(f"/mediation/cases/{case.number}/agreement.pdf").status_code == 404
    assert client.post(f"/mediation/cases/{case.number}/act/close/",
                       {"version": case.version, "note": "x"}).status_code == 404
    assert case.number not in text_of(client.get("/mediation/"))
    case.refresh_from_db()
    assert case.state == "agreed"


@pytest.mark.parametrize("path", ["/mediation/", "/mediation/new/", "/mediation/roster/"])
def test_the_pages_ask_an_anonymous_visitor_to_log_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
