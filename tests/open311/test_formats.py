"""Every endpoint answers in XML (declaration, text/xml; charset=utf-8) and in
JSON (the XML without its root), and every failure is the spec's list of
errors in the requested format."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.open311.conftest import WEST_POINT, app_report

DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def xml_of(response) -> ET.Element:
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.decode("utf-8").startswith(DECLARATION)
    return ET.fromstring(response.content)


def json_of(response):
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


@pytest.fixture
def paths(o311, city):
    """One path of each read endpoint, and its XML root and item."""
    incident = app_report(city)
    created = o311.post(service_code="SJ0102", description="有垃圾", **WEST_POINT).json()[0]
    token = city.key.requests.get().token
    assert created["service_request_id"] != incident.number
    return [("discovery", "discovery", None), ("services", "services", "service"),
            ("services/SJ9901", "service_definition", None),
            ("requests", "service_requests", "request"),
            (f"requests/{incident.number}", "service_requests", "request"),
            (f"tokens/{token}", "service_requests", "request")]


def test_every_read_endpoint_answers_xml_with_its_declaration_and_json_without_the_root(
        o311, paths):
    for path, root, item in paths:
        as_xml, as_json = o311.get(path, "xml"), o311.get(path, "json")
        assert as_xml.status_code == as_json.status_code == 200, path
        element, data = xml_of(as_xml), json_of(as_json)
        assert element.tag == root, path
        if item is None:
            assert isinstance(data, dict), path
        else:
            assert isinstance(data, list) and data, path
            assert [child.tag for child in element] == [item] * len(data), path
            assert {c.tag for c in element[0]} == set(data[0]), path


def test_post_answers_in_both_formats(o311, city):
    as_xml = o311.post("xml", service_code="SJ0102", description="xml", **WEST_POINT)
    element = xml_of(as_xml)
    assert element.tag == "service_requests"
    assert element.find("request/service_request_id").text.startswith("SJ")
    as_json = json_of(o311.post("json", service_code="SJ0102", description="json",
                                **WEST_POINT))
    assert list(as_json[0]) == ["service_request_id", "service_notice", "account_id"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(("path", "status"), [
    ("services/NOPE", 404), ("services/SJ01", 404), ("requests/SJ000", 404),
    ("tokens/nope", 404), ("requests", 400), ("nothing/here", 404)])
def test_errors_are_a_list_of_code_and_description_in_the_requested_format(
        o311, fmt, path, status):
    params = {"status": "pending"} if path == "requests" else {}
    response = o311.get(path, fmt, **params)
    assert response.status_code == status
    if fmt == "xml":
        element = xml_of(response)
        assert element.tag == "errors"
        assert [e.tag for e in element] == ["error"]
        assert element.find("error/code").text == str(status)
        assert element.find("error/description").text
    else:
        (error,) = json_of(response)
        assert error["code"] == status and error["description"]


def test_a_wrong_method_is_405_in_the_error_format(o311):
    response = o311.get("requests", "json")
    assert response.status_code == 200
    import requests as http

    refused = http.post(f"{o311.base}/services.json", data={}, timeout=30)
    assert refused.status_code == 405
    assert refused.json()[0]["code"] == 405


def test_discovery_names_the_endpoint_its_formats_and_the_key_service(o311, live_server):
    data = o311.get("discovery").json()
    assert set(data) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = data["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == f"{live_server.url}/open311/v2"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    element = xml_of(o311.get("discovery", "xml"))
    assert [f.text for f in element.findall("endpoints/endpoint/formats/format")] == \
        ["text/xml", "application/json"]


def test_services_are_the_subcategories_with_typed_fields(o311):
    services = o311.get("services").json()
    by_code = {s["service_code"]: s for s in services}
    assert "SJ01" not in by_code  # a class (大类) is not requestable
    sj0102 = by_code["SJ0102"]
    assert sj0102 == {"service_code": "SJ0102", "service_name": "暴露垃圾",
                      "description": sj0102["description"], "metadata": True,
                      "type": "realtime", "keywords": None, "group": sj0102["group"]}
    assert by_code["SJ9901"]["metadata"] is True
    assert all(isinstance(s["metadata"], bool) and isinstance(s["service_code"], str)
               for s in services)
    element = xml_of(o311.get("services", "xml"))
    assert element.find("service/metadata").text in ("true", "false")


def test_a_service_definition_has_the_category_extra_fields_as_attributes(o311):
    definition = o311.get("services/SJ9901").json()
    assert definition["service_code"] == "SJ9901"
    attributes = definition["attributes"]
    assert [a["code"] for a in attributes] == ["size", "kinds", "seen_at", "where", "notes",
                                               "smell"]
    assert [a["datatype"] for a in attributes] == ["number", "multivaluelist", "datetime",
                                                   "string", "text", "singlevaluelist"]
    assert [a["order"] for a in attributes] == [1, 2, 3, 4, 5, 6]
    assert all(a["variable"] is True and a["datatype_description"] for a in attributes)
    assert [a["required"] for a in attributes] == [True] + [False] * 5
    assert attributes[0]["description"] == "面积（平方米）：估计的面积"
    assert attributes[1]["values"] == [{"key": "food", "name": "厨余"},
                                       {"key": "paper", "name": "纸张"},
                                       {"key": "glass", "name": "玻璃"}]
    assert attributes[0]["values"] == []
    element = xml_of(o311.get("services/SJ9901", "xml"))
    kinds = element.findall("attributes/attribute")[1]
    assert [v.find("name").text for v in kinds.findall("values/value")] == ["厨余", "纸张", "玻璃"]
    assert kinds.find("required").text == "false"
