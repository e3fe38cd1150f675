"""The published Python clients, driven against the live server: georeport
0.3.1 (reads, XML and JSON) and civicbot 0.4.0 (all six methods, JSON)."""

from __future__ import annotations

import pytest
from civicbot import Endpoint, HttpTransport, Open311Client
from civicbot.http import RateLimiter
from georeport import GeoReport

from shanzhi.open311.services import key_create
from tests.open311.conftest import app_report, closed


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_services_definitions_and_requests(o311, city, fmt):
    done = closed(city, app_report(city), result="已清理")
    fresh = app_report(city, category="SJ0402")
    client = GeoReport(o311.base, jurisdiction="320500", output_format=fmt)

    services = client.get_service_list()
    assert "SJ0102" in {s["service_code"] for s in services}

    definition = client.get_service_definition("SJ9901")
    assert definition["service_code"] == "SJ9901"
    attributes = definition["attributes"]
    if fmt == "xml":  # xmltodict: the list sits under its item element, all text
        attributes = attributes["attribute"]
        assert attributes[0]["required"] == "true"
    assert attributes[0]["code"] == "size"

    every = client.get_service_requests()
    assert [r["service_request_id"] for r in every] == [fresh.number, done.number]
    only_closed = client.get_service_requests(status="closed")
    if fmt == "xml":  # one item: xmltodict gives the dict itself
        only_closed = [only_closed] if isinstance(only_closed, dict) else only_closed
    assert [r["service_request_id"] for r in only_closed] == [done.number]
    assert only_closed[0]["status_notes"] == "已清理"

    one = client.get_service_request(done.number)
    assert one["service_request_id"] == done.number and one["status"] == "closed"
    assert one["service_name"] == "暴露垃圾"


def test_civicbot_drives_all_six_methods(o311, city):
    _key, secret = key_create(name="civicbot", answers_with_token=True)
    endpoint = Endpoint(id="shanzhi", name="苏州 shanzhi", base_url=o311.base, write=True)
    client = Open311Client(endpoint, transport=HttpTransport(
        rate_limiter=RateLimiter(min_interval=0)), jurisdiction_id="320500")
    existing = app_report(city)

    services = client.list_services()
    assert "SJ9901" in {s["service_code"] for s in services}
    definition = client.get_service_definition("SJ9901")
    assert [a["code"] for a in definition["attributes"]][:2] == ["size", "kinds"]

    sent = client.create_request(
        "SJ9901", dry_run=False, confirm="SEND", api_key=secret, validate_remote=True,
        lat=31.015, lng=120.005, description="civicbot 上报：垃圾成堆",
        attributes={"size": 3, "kinds": ["food", "paper"]}, account_id="bot-1")
    (answer,) = sent.response
    assert "service_request_id" not in answer and answer["account_id"] == "bot-1"

    (resolved,) = client.get_token(answer["token"])
    number = resolved["service_request_id"]
    request = client.get_request(number)
    assert request["description"] == "civicbot 上报：垃圾成堆" and request["status"] == "open"

    listed = client.list_requests(service_code="SJ9901", status="open", page_size=10)
    assert [r["service_request_id"] for r in listed] == [number]
    both = client.list_requests(service_request_ids=[number, existing.number])
    assert sorted(r["service_request_id"] for r in both) == sorted([number, existing.number])


def test_civicbot_refuses_locally_what_the_server_would_refuse(o311):
    endpoint = Endpoint(id="shanzhi", name="shanzhi", base_url=o311.base, write=True)
    client = Open311Client(endpoint, transport=HttpTransport(
        rate_limiter=RateLimiter(min_interval=0)))
    from civicbot import ValidationError

    with pytest.raises(ValidationError, match="required attribute 'size'"):
        client.create_request("SJ9901", validate_remote=True, lat=31.015, lng=120.005)
