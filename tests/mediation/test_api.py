"""The mediation API: the list and its filters, intake, the detail, actions,
the timeline, the agreement PDF, the centres — and an out-of-territory
persona who gets nothing from any of them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from shanzhi.mediation import selectors, services
from tests.mediation.conftest import T0, WEST_POINT, agreed, jpeg_upload, mediating, party, register

pytestmark = pytest.mark.django_db
URL = "/api/v1/mediation/cases"


class Api:
    def __init__(self, client, bearer):
        self.client, self.bearer, self._headers = client, bearer, {}

    def headers(self, user):
        if user.username not in self._headers:
            self._headers[user.username] = self.bearer(user)
        return self._headers[user.username]

    def get(self, user, url, expect=200):
        response = self.client.get(url, headers=self.headers(user))
        assert response.status_code == expect, response.content
        return response

    def post(self, user, url, body, expect=200, headers=None):
        response = self.client.post(url, body, content_type="application/json",
                                    headers={**self.headers(user), **(headers or {})})
        assert response.status_code == expect, response.content
        return response.json()


@pytest.fixture
def api(client, bearer):
    return Api(client, bearer)


def intake(med, **fields) -> dict:
    return {"source": "hotline", "centre": med.town.code, "dispute_type": "labour",
            "title": "拖欠工资", "description": "工地拖欠三个月工资",
            "parties": [party(), party(role="respondent", kind="organisation", name="某建筑公司",
                                       id_number="")],
            "people": 6, "amount": "120000.50", **WEST_POINT, **fields}


def test_an_operator_registers_a_dispute_and_a_retry_returns_it(api, med):
    operator = med.cast.town_operator
    first = api.post(operator, URL, intake(med), expect=201, headers={"Idempotency-Key": "a"})
    assert (first["state"], first["risk_level"], first["risk_reasons"]) == (
        "received", "medium", ["many_people"])
    assert first["parties"][0]["id_number"] == "110105********002X"  # masked
    assert first["parties"][0]["phone"] == "138****5678"
    assert first["amount"] == "120000.50"
    again = api.post(operator, URL, intake(med), expect=200, headers={"Idempotency-Key": "a"})
    assert again["number"] == first["number"]
    bad = api.post(operator, URL, intake(med, parties=[party(id_number="110105194912310021")]),
                   expect=400)
    assert bad["error"]["field"] == "parties[0].id_number"
    unknown = api.post(operator, URL, intake(med, colour="red"), expect=400)
    assert unknown["error"]["field"] == "colour"


def test_the_list_filters_by_state_type_risk_centre_light_and_text(api, med):
    low = register(med, now=timezone.now())  # green: two working days ahead
    high = mediating(med, threat=True, dispute_type="family", title="家暴威胁")
    user = med.cast.town_operator

    def numbers(query=""):
        body = api.get(user, f"{URL}?{query}").json()
        return {item["number"] for item in body["items"]}

    assert numbers() == {low.number, high.number}
    assert numbers("state=mediating") == {high.number}
    assert numbers("dispute_type=neighbour") == {low.number}
    assert numbers("risk=high") == {high.number}
    assert numbers(f"centre={med.town.code}") == {low.number, high.number}
    assert numbers(f"centre={med.district.code}") == set()
    assert numbers("q=家暴") == {high.number}
    assert numbers("q=张三") == {low.number, high.number}
    assert numbers("light=green") == {low.number}
    assert numbers("light=red") == {high.number}  # taken in and assigned in March 2026


def test_actions_detail_and_timeline(api, med):
    case = register(med)
    operator, mediator = med.cast.town_operator, med.mediator
    url = f"{URL}/{case.number}"
    detail = api.get(operator, url).json()
    assert "assign" in detail["actions"] and "agree" not in detail["actions"]
    done = api.post(operator, f"{url}/assign",
                    {"assignee": mediator.username, "version": detail["version"]})
    assert (done["state"], done["mediator"]["username"]) == ("mediating", "mediator")
    stale = api.post(operator, f"{url}/supervise", {"note": "快", "version": detail["version"]},
                     expect=409)
    assert stale["error"]["details"]["version"] == done["version"]
    api.post(mediator, f"{url}/record_session",
             {"note": "首次调解", "place": "调解室", "participants": "双方"})
    agreed_ = api.post(mediator, f"{url}/agree", {"terms": ["赔偿1000元"], "outcome": "agreement"})
    assert (agreed_["state"], agreed_["terms"], len(agreed_["sessions"])) == (
        "agreed", ["赔偿1000元"], 1)
    refused = api.post(mediator, f"{url}/follow_up", {"note": "回访"}, expect=400)
    assert refused["error"]["field"] == "holds"
    api.post(mediator, f"{url}/follow_up", {"note": "回访", "holds": False})
    timeline = api.get(operator, f"{url}/timeline").json()
    assert [e["action"] for e in timeline] == ["register", "assign", "record_session", "agree",
                                               "follow_up"]
    assert timeline[-1]["data"]["holds"] is False


def test_the_agreement_pdf(api, med):
    case = mediating(med)
    url = f"{URL}/{case.number}/agreement.pdf"
    api.get(med.cast.town_operator, url, expect=409)
    case = agreed(med)
    response = api.get(med.cast.town_operator, f"{URL}/{case.number}/agreement.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_the_centres_with_todays_roster(api, med):
    centres = {c["code"]: c for c in api.get(med.cast.town_operator,
                                              "/api/v1/mediation/centres").json()}
    # the town's own centre and the district's above it; not the east's
    assert set(centres) == {med.town.code, med.district.code}
    today = [e.department.code for e in selectors.roster(med.town)]
    assert [r["department"]["code"] for r in centres[med.town.code]["roster"]] == today
    east = {c["code"] for c in api.get(med.cast.east_operator,
                                       "/api/v1/mediation/centres").json()}
    assert east == {med.east.code}


def test_the_roster_of_a_day(med):
    from shanzhi.accounts.models import Department
    from shanzhi.mediation.models import RosterEntry

    monday, saturday = T0.date(), T0.date() + dt.timedelta(days=5)
    cgj = Department.objects.get(code="320505-CGJ")
    RosterEntry.objects.create(centre=med.town, department=cgj, mode="rotating", weekdays=[5],
                               ends_on=saturday)

    def codes(day):
        return [e.department.code for e in selectors.roster(med.town, on=day)]

    assert codes(monday) == ["320505-ZJJ"]  # every working day
    assert codes(saturday) == ["320505-CGJ"]  # its weekday only
    assert codes(saturday + dt.timedelta(days=7)) == []  # ended


# ---------------------------------------------------------------- out of territory

def _agreed_with_photo(med):
    case = agreed(med)
    case = services.case_follow_up(actor=med.cast.worker, case=case, note="回访", holds=True,
                                   photos=[jpeg_upload()])
    return case, case.attachments.get()


ENDPOINTS = {
    "detail": ("get", "{url}"),
    "timeline": ("get", "{url}/timeline"),
    "attachment": ("get", "{url}/attachments/{attachment}"),
    "pdf": ("get", "{url}/agreement.pdf"),
    "action": ("post", "{url}/close"),
    "by_id": ("get", URL + "/{id}"),
}
OUTSIDERS = ["east_operator", "cgj_handler", "neighbour_worker"]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_an_outsider_gets_404_on_every_endpoint(api, med, endpoint, outsider):
    case, attachment = _agreed_with_photo(med)
    method, template = ENDPOINTS[endpoint]
    url = template.format(url=f"{URL}/{case.number}", attachment=attachment.pk, id=case.pk)
    insider = med.cast.town_operator
    user = getattr(med.cast, outsider)
    if method == "get":
        api.get(insider, url, expect=200)
        api.get(user, url, expect=404)
    else:
        api.post(user, url, {"note": "结案"}, expect=404)
        api.post(insider, url, {"note": "结案"}, expect=200)


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_an_outsider_lists_nothing(api, med, outsider):
    _agreed_with_photo(med)
    register(med)
    assert api.get(med.cast.town_operator, URL).json()["count"] == 2
    assert api.get(getattr(med.cast, outsider), URL).json() == {
        "count": 0, "limit": 50, "offset": 0, "items": []}


def test_the_insiders_see_it_the_handler_once_assigned(api, med):
    case = register(med)
    url = f"{URL}/{case.number}"
    api.get(med.cast.handler, url, expect=404)
    services.case_assign(actor=med.cast.town_operator, case=case, assignee="320505-ZJJ")
    assert api.get(med.cast.handler, url).json()["department"]["code"] == "320505-ZJJ"
    assert api.get(med.cast.worker, url).json()["number"] == case.number  # its grid
    assert api.get(med.cast.west_operator, url).json()["number"] == case.number
