"""POST requests: the api_key, one location, attributes in both spellings,
the contact fields, limits, and the answer (an id or a token, never both)."""

from __future__ import annotations

import pytest

from shanzhi.incidents.models import Incident, TimelineEntry
from shanzhi.open311.models import ServiceRequest
from shanzhi.open311.services import key_create, key_revoke
from tests.open311.conftest import EAST_POINT, WEST_POINT


def only_incident() -> Incident:
    (incident,) = Incident.objects.all()
    return incident


@pytest.mark.parametrize("api_key", [None, "", "o311_wrong"])
def test_a_post_without_a_valid_api_key_is_403_and_writes_nothing(o311, api_key):
    data = [] if api_key is None else [("api_key", api_key)]
    response = o311.post(key=False, data=data, service_code="SJ0102", **WEST_POINT)
    assert response.status_code == 403
    assert response.json()[0]["code"] == 403
    assert not Incident.objects.exists()


def test_a_revoked_key_is_403(o311, city):
    key_revoke(key=city.key)
    assert o311.post(service_code="SJ0102", **WEST_POINT).status_code == 403


def test_a_report_goes_through_the_intake_service_on_the_open311_channel(o311, city):
    answer = o311.post(service_code="SJ0102", description="小区门口有垃圾堆", **WEST_POINT).json()
    assert list(answer[0]) == ["service_request_id", "service_notice", "account_id"]
    assert "token" not in answer[0]
    incident = only_incident()
    assert answer[0]["service_request_id"] == incident.number
    assert (incident.channel, incident.state, incident.reporter_id) == (
        "open311", "reported", city.key.user_id)
    assert incident.grid.code.endswith("001") and incident.category.code == "SJ0102"
    (entry,) = TimelineEntry.objects.filter(incident=incident)
    assert entry.action == "report" and entry.data["channel"] == "open311"


def test_a_key_that_answers_with_tokens_never_gives_the_id_and_the_token_resolves(o311, city):
    _key, secret = key_create(name="batch app", answers_with_token=True)
    o311.secret = secret
    (answer,) = o311.post(service_code="SJ0102", account_id="u-17", **WEST_POINT).json()
    assert "service_request_id" not in answer
    assert answer["account_id"] == "u-17"
    incident = only_incident()
    (found,) = o311.get(f"tokens/{answer['token']}").json()
    assert found == {"service_request_id": incident.number, "token": answer["token"]}
    assert o311.get("services", api_key=secret).json()[0]["type"] == "batch"  # as it sees them
    assert o311.get("tokens/0000").status_code == 404


@pytest.mark.parametrize(("fields", "message"), [
    ({"lat": "31.015"}, "lat and long must be given together"),
    ({"long": "120.005"}, "lat and long must be given together"),
    ({}, "A location is required"),
    ({"lat": "", "long": "", "address_string": ""}, "A location is required"),
    ({"lat": "north", "long": "120"}, "must be numbers"),
])
def test_a_post_needs_one_location(o311, fields, message):
    response = o311.post(service_code="SJ0102", **fields)
    assert response.status_code == 400
    assert message in response.json()[0]["description"]
    assert not Incident.objects.exists()


def test_an_address_alone_is_a_location_in_the_keys_city(o311, city, territory):
    o311.post(service_code="SJ0102", address_string="苏州市虎丘区狮山路1号").raise_for_status()
    incident = only_incident()
    assert incident.address == "苏州市虎丘区狮山路1号"
    assert incident.region_id == territory.city.pk and incident.lat is None


def test_an_address_id_alone_is_a_location_and_is_kept(o311):
    o311.post(service_code="SJ0102", address_id="H-3205-0001").raise_for_status()
    assert ServiceRequest.objects.get().address_id == "H-3205-0001"
    assert o311.get("requests").json()[0]["address_id"] == "H-3205-0001"


def test_a_point_outside_every_city_is_400(o311):
    response = o311.post(service_code="SJ0102", lat="40.71", long="-74.0")
    assert response.status_code == 400
    assert not Incident.objects.exists()


@pytest.mark.parametrize("spelling", ["attribute[kinds][]", "attribute[kinds]"])
def test_a_multi_value_attribute_is_accepted_in_both_spellings(o311, spelling):
    data = [("attribute[size]", "12.5"), (spelling, "food"), (spelling, "glass"),
            ("attribute[smell]", "strong"), ("attribute[where]", "东门"),
            ("attribute[seen_at]", "2026-11-01T08:00:00+08:00"), ("attribute[nope]", "x")]
    o311.post(data=data, service_code="SJ9901", **WEST_POINT).raise_for_status()
    assert only_incident().extra == {"size": 12.5, "kinds": ["food", "glass"],
                                     "smell": "strong", "where": "东门",
                                     "seen_at": "2026-11-01T08:00:00+08:00"}


@pytest.mark.parametrize(("data", "message"), [
    ([], "attribute[size]"),                                               # required
    ([("attribute[size]", "")], "attribute[size]"),                         # empty = absent
    ([("attribute[size]", "big")], "size must be a number"),
    ([("attribute[size]", "1"), ("attribute[smell]", "sweet")], "smell must be one of"),
    ([("attribute[size]", "1"), ("attribute[kinds][]", "metal")], "metal is not one of"),
    ([("attribute[size]", "1"), ("attribute[smell]", "none"), ("attribute[smell]", "strong")],
     "takes one value"),
])
def test_a_bad_attribute_is_400_and_writes_nothing(o311, data, message):
    response = o311.post(data=data, service_code="SJ9901", **WEST_POINT)
    assert response.status_code == 400
    assert message in response.json()[0]["description"]
    assert not Incident.objects.exists()


def test_several_problems_are_answered_at_once(o311):
    response = o311.post(service_code="SJ9901", description="x" * 4001, media_url="ftp://x")
    assert response.status_code == 400
    descriptions = " | ".join(e["description"] for e in response.json())
    for part in ("A location is required", "4000", "attribute[size]", "media_url"):
        assert part in descriptions
    assert len(response.json()) == 4


@pytest.mark.parametrize(("fields", "status"), [
    ({}, 400), ({"service_code": ""}, 400), ({"service_code": "NOPE"}, 404),
    ({"service_code": "SJ01"}, 404)])
def test_the_service_code_is_required_and_must_exist(o311, fields, status):
    response = o311.post(**fields, **WEST_POINT)
    assert response.status_code == status
    assert response.json()[0]["code"] == status


def test_a_description_of_4000_characters_is_taken_and_4001_refused(o311):
    assert o311.post(service_code="SJ0102", description="井" * 4001,
                     **WEST_POINT).status_code == 400
    o311.post(service_code="SJ0102", description="井" * 4000, **WEST_POINT).raise_for_status()
    assert len(only_incident().description) == 4000


def test_without_a_description_the_service_name_describes_it(o311):
    o311.post(service_code="SJ0102", description="", **WEST_POINT).raise_for_status()
    assert only_incident().description == "暴露垃圾"


def test_the_contact_fields_are_kept_but_never_shown(o311, city):
    o311.post(service_code="SJ0102", first_name="三", last_name="张", phone="13812345678",
              email="zhang@example.cn", device_id="dev-1", account_id="acct-9",
              media_url="https://img.example.cn/1.jpg", **WEST_POINT).raise_for_status()
    incident = only_incident()
    assert (incident.contact_name, incident.contact_phone) == ("张三", "13812345678")
    request = ServiceRequest.objects.get()
    assert (request.email, request.device_id, request.account_id) == (
        "zhang@example.cn", "dev-1", "acct-9")
    for fmt in ("json", "xml"):
        for path in ("requests", f"requests/{incident.number}"):
            text = o311.get(path, fmt).text
            for secret in ("张三", "13812345678", "zhang@example.cn", "dev-1", "acct-9"):
                assert secret not in text
    assert o311.get("requests").json()[0]["media_url"] == "https://img.example.cn/1.jpg"


def test_latin_names_keep_their_order(o311):
    o311.post(service_code="SJ0102", first_name="Ada", last_name="Lovelace",
              **WEST_POINT).raise_for_status()
    assert only_incident().contact_name == "Ada Lovelace"


def test_empty_optional_fields_are_absent_ones(o311):
    o311.post(service_code="SJ0102", email="", media_url="", phone="", address_string="",
              address_id="", jurisdiction_id="", description="", first_name="",
              **WEST_POINT).raise_for_status()
    assert ServiceRequest.objects.get().email == ""


def test_an_api_key_of_another_city_may_not_report_there(o311, city):
    response = o311.post(service_code="SJ0102", jurisdiction_id="999999", **WEST_POINT)
    assert response.status_code == 404
    assert not Incident.objects.exists()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_chinese_text_round_trips_unchanged(o311, fmt):
    text = "井盖缺失，行人危险！«注意» & <小心> 😀 \u3000全角空格"
    o311.post(fmt, service_code="SJ0102", description=text, address_string="姑苏区观前街",
              **WEST_POINT).raise_for_status()
    assert only_incident().description == text
    (row,) = o311.get("requests").json()
    assert (row["description"], row["address"]) == (text, "姑苏区观前街")
    import xml.etree.ElementTree as ET

    element = ET.fromstring(o311.get("requests", "xml").content)
    assert element.find("request/description").text == text


def test_the_east_point_is_in_the_keys_city_too(o311):
    o311.post(service_code="SJ0102", **EAST_POINT).raise_for_status()
    assert only_incident().region.code.startswith("320506")


@pytest.mark.parametrize(("language", "description"), [
    (None, "lat 和 long 须同时给出。"), ("zh-hans", "lat 和 long 须同时给出。"),
    ("en", "lat and long must be given together.")])
def test_a_refusal_is_described_in_the_clients_language_with_the_same_code(o311, language,
                                                                           description):
    o311.language = language
    response = o311.post(service_code="SJ0102", lat="31.015")
    assert response.status_code == 400
    assert response.json() == [{"code": 400, "description": description}]
    assert not Incident.objects.exists()
