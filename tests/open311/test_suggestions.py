"""The non-standard extension POST /open311/v2/suggestions.(json|xml): the
three services the city's model finds most likely for a description — and a
normal POST of a request keeps the suggestion on the incident."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from shanzhi.incidents.models import Category, Incident, TimelineEntry
from tests.incidents.test_assist import train_model
from tests.open311.conftest import WEST_POINT

GARBAGE = "小区门口垃圾成堆发臭"


@pytest.fixture
def model(db):
    return train_model()


def suggest(client, fmt="json", **fields):
    return client.post(f"/open311/v2/suggestions.{fmt}", fields,
                       HTTP_ACCEPT_LANGUAGE="en")


def test_it_answers_the_top_three_services_with_their_confidence(client, city, model):
    response = suggest(client, description=GARBAGE, api_key=city.secret)
    assert response.status_code == 200, response.content
    rows = response.json()
    assert rows[0]["service_code"] == "SJ0102" and len(rows) == 3
    assert rows[0]["service_name"] == "暴露垃圾"
    confidences = [r["confidence"] for r in rows]
    assert confidences == sorted(confidences, reverse=True) and 0 < confidences[0] <= 1


def test_it_answers_in_xml_too(client, city, model):
    response = suggest(client, "xml", description=GARBAGE, api_key=city.secret)
    root = ET.fromstring(response.content)
    assert root.tag == "suggestions"
    suggestions = root.findall("suggestion")
    assert len(suggestions) == 3 and suggestions[0].findtext("service_code") == "SJ0102"


def test_a_service_not_offered_is_not_suggested(client, city, model):
    Category.objects.filter(code="SJ0404").update(is_active=False)
    from shanzhi.incidents.rulebook import changed

    changed()
    codes = [r["service_code"] for r in suggest(client, description="小区门口汽车乱停",
                                                api_key=city.secret).json()]
    assert "SJ0404" not in codes and codes


def test_before_a_model_is_trained_it_answers_an_empty_list(client, city):
    response = suggest(client, description=GARBAGE, api_key=city.secret)
    assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize(("fields", "status", "says"), [
    ({"description": GARBAGE}, 403, "api_key"),
    ({"description": GARBAGE, "api_key": "o311_wrong"}, 403, ""),
    ({"description": "  "}, 400, "description is required"),
    ({"description": "垃" * 4001}, 400, "longer than 4000"),
])
def test_it_refuses_in_the_specs_error_format(client, city, fields, status, says):
    if "api_key" not in fields and status == 400:
        fields = {**fields, "api_key": city.secret}
    response = suggest(client, **fields)
    assert response.status_code == status
    (error,) = response.json()
    assert error["code"] == status and says in error["description"]


def test_a_get_is_not_allowed(client, city):
    response = client.get("/open311/v2/suggestions.json", {"description": GARBAGE,
                                                           "api_key": city.secret})
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_a_posted_request_keeps_the_suggestion_on_its_timeline(client, city, model):
    response = client.post("/open311/v2/requests.json", {
        "service_code": "SJ0303", "description": GARBAGE, "api_key": city.secret,
        **WEST_POINT})
    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert incident.suggested.code == "SJ0102"
    suggestion = TimelineEntry.objects.get(incident=incident, action="report").data["suggestion"]
    assert (suggestion["chosen"], suggestion["matched"]) == ("SJ0303", False)
