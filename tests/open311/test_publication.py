"""The publication policy of Open311 reads: only the reports of the public
channels in public or coarse categories are published; the personal data in
their texts is masked; a coarse category's place is coarsened; reads without
a key are rate-limited per address and get smaller pages; the XML stays
well-formed whatever was stored."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
import zoneinfo

import requests as http
import time_machine
from django.test import Client as DjangoClient

from shanzhi.accounts.models import User
from shanzhi.core.memo import reset_all
from shanzhi.incidents import services
from shanzhi.incidents.categories import category_rules_create
from shanzhi.incidents.models import Category, Incident
from shanzhi.incidents.taxonomy import TAXONOMY, publication_of
from shanzhi.open311 import selectors
from shanzhi.open311.models import RateWindow
from tests.open311.conftest import WEST_POINT, app_report, closed

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
PHONE = "13812345678"
ID_NUMBER = "32050819900101123X"
HOTLINE_TEXT = f"市民张先生来电，联系电话{PHONE}，反映路灯不亮"
#: Five seconds into a minute: the rate tests have the rest of it.
MINUTE = dt.datetime(2026, 11, 25, 10, 0, 5, tzinfo=SHANGHAI)


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["service_request_id"] for row in response.json()]


def hotline_call(city, **fields) -> Incident:
    """A 12345 call taken by the town's operator: a public category, a private channel."""
    fields = {"channel": "hotline_12345", "description": HOTLINE_TEXT, "category": "BJ0104",
              "extra": {"component_state": "damaged"}, "lat": 31.012, "lng": 120.004, **fields}
    incident, _created = services.incident_report(actor=city.town_operator, **fields)
    return incident


# ---------------------------------------------------------------- what is published

def test_only_app_reports_of_public_and_coarse_categories_are_listed(o311, city):
    public = app_report(city)
    coarse = app_report(city, category="SJ0101", description="小区里有人私搭乱建")
    private = app_report(city, category="ZZ0201", description="楼道里有可疑人员")
    hotline = hotline_call(city)
    listed = numbers(o311.get("requests"))
    assert sorted(listed) == sorted([public.number, coarse.number])
    assert private.number not in listed and hotline.number not in listed
    with_ids = o311.get("requests", service_request_id=",".join(
        [public.number, private.number, hotline.number]))
    assert numbers(with_ids) == [public.number]


def test_an_unpublished_request_is_404_exactly_like_an_unknown_one(o311, city):
    private = app_report(city, category="ZZ0201", description="楼道里有可疑人员")
    hotline = hotline_call(city)
    unknown = "SJ2026010100000099"
    for fmt in ("json", "xml"):
        missing = o311.get(f"requests/{unknown}", fmt)
        for hidden in (private, hotline):
            response = o311.get(f"requests/{hidden.number}", fmt)
            assert response.status_code == missing.status_code == 404
            assert response.text.replace(hidden.number, unknown) == missing.text


def test_the_hotline_call_with_a_phone_never_appears_anywhere(o311, city):
    hotline = hotline_call(city)
    closed(city, hotline, result=f"已修复，回电{PHONE}")
    app_report(city)
    for fmt in ("json", "xml"):
        for params in ({}, {"service_request_id": hotline.number}, {"status": "closed"},
                       {"service_code": "BJ0104"}):
            text = o311.get("requests", fmt, **params).text
            assert hotline.number not in text and PHONE not in text and "张先生" not in text
        by_id = o311.get(f"requests/{hotline.number}", fmt)
        assert by_id.status_code == 404  # the error names the id asked for, nothing else
        assert PHONE not in by_id.text and "路灯" not in by_id.text


def test_a_key_reads_under_the_same_policy(o311, city):
    public, hotline = app_report(city), hotline_call(city)
    assert numbers(o311.get("requests", api_key=city.secret)) == [public.number]
    assert o311.get(f"requests/{hotline.number}", api_key=city.secret).status_code == 404


def test_a_city_may_publish_more_channels_still_masked(o311, city, settings):
    settings.OPEN311_PUBLIC_CHANNELS = ("open311", "hotline_12345")
    hotline = hotline_call(city)
    (row,) = o311.get(f"requests/{hotline.number}").json()
    assert row["description"] == "市民张先生来电，联系电话138****5678，反映路灯不亮"


def test_a_new_category_is_private_until_an_administrator_publishes_it(o311, city):
    parent = Category.objects.get(code="SJ01")
    fresh = Category.objects.create(code="SJ0199", name="新分类", kind=parent.kind,
                                    parent=parent)
    category_rules_create(actor=None, category=fresh, limits={}, departments={},
                          urgencies=[{"code": "normal", "name": "一般", "factor": 1}],
                          extra_fields=[])
    reset_all()
    assert fresh.publication == Category.Publication.PRIVATE
    incident = app_report(city, category="SJ0199")
    assert o311.get(f"requests/{incident.number}").status_code == 404
    Category.objects.filter(pk=fresh.pk).update(publication=Category.Publication.PUBLIC)
    assert numbers(o311.get(f"requests/{incident.number}")) == [incident.number]


def test_private_services_are_still_listed_and_take_reports_not_published_back(o311):
    services_listed = {s["service_code"] for s in o311.get("services").json()}
    assert {"ZZ0201", "ZZ0701", "SJ0102"} <= services_listed
    (answer,) = o311.post(service_code="ZZ0201", description="楼道里有可疑人员",
                          **WEST_POINT).json()
    number = answer["service_request_id"]
    assert Incident.objects.get(number=number).channel == "open311"
    assert o311.get(f"requests/{number}").status_code == 404
    assert number not in o311.get("requests").text


# ---------------------------------------------------------------- masked and coarsened

def test_phones_identity_numbers_and_labelled_names_are_masked_in_every_text(o311, city):
    incident = app_report(city, description=f"姓名：张三，电话{PHONE}，身份证{ID_NUMBER}",
                          address="狮山路88号（联系人:李四 0512-65123456）")
    incident = closed(city, incident, result=f"已清理，联系电话{PHONE}")
    (row,) = o311.get(f"requests/{incident.number}").json()
    assert row["description"] == "姓名：张*，电话138****5678，身份证320508********123X"
    assert row["address"] == "狮山路88号（联系人:李* 0512-****3456）"
    assert row["status_notes"] == "已清理，联系电话138****5678"
    for fmt in ("json", "xml"):
        for path in ("requests", f"requests/{incident.number}"):
            text = o311.get(path, fmt).text
            for secret in (PHONE, ID_NUMBER, "张三", "李四", "65123456"):
                assert secret not in text


def test_a_coarse_category_shows_its_place_to_about_a_kilometre(o311, city):
    (answer,) = o311.post(service_code="SJ0101", lat="31.0137", long="120.0062",
                          address_string="狮山路88号3幢", address_id="H-3205-0001",
                          media_url="https://img.example.cn/1.jpg",
                          description="院子里私搭乱建").json()
    (row,) = o311.get(f"requests/{answer['service_request_id']}").json()
    assert (row["lat"], row["long"]) == (31.01, 120.01)
    assert row["address"] == "苏州市虎丘区西街道"  # no community, street or house
    assert (row["address_id"], row["media_url"]) == (None, None)
    assert row["description"] == "院子里私搭乱建"
    element = ET.fromstring(o311.get("requests", "xml").content)
    assert element.find("request/lat").text == "31.01"
    assert "狮山路" not in o311.get("requests", "xml").text


def test_a_public_category_keeps_its_exact_place(o311, city):
    (answer,) = o311.post(service_code="SJ0102", lat="31.0137", long="120.0062",
                          address_string="狮山路88号", address_id="H-3205-0001",
                          media_url="https://img.example.cn/1.jpg").json()
    (row,) = o311.get(f"requests/{answer['service_request_id']}").json()
    assert (row["lat"], row["long"], row["address"]) == (31.0137, 120.0062, "狮山路88号")
    assert (row["address_id"], row["media_url"]) == ("H-3205-0001",
                                                     "https://img.example.cn/1.jpg")


# ---------------------------------------------------------------- XML

def test_the_xml_stays_well_formed_whatever_text_was_stored(o311, city):
    incident = app_report(city)
    Incident.objects.filter(pk=incident.pk).update(description="垃圾\x01堆\x0b放\ufffe在路边",
                                                   address="狮山路\x0288号")
    for path in ("requests", f"requests/{incident.number}"):
        element = ET.fromstring(o311.get(path, "xml").content)
        assert element.find("request/description").text == "垃圾堆放在路边"
        assert element.find("request/address").text == "狮山路88号"
    (row,) = o311.get(f"requests/{incident.number}").json()
    assert row["description"] == "垃圾\x01堆\x0b放\ufffe在路边"  # JSON escapes what it must


# ---------------------------------------------------------------- reads without a key

def get_from(o311, address: str, path: str = "requests", **params) -> http.Response:
    """A read through a trusted proxy that saw ``address``."""
    return http.get(f"{o311.base}/{path}.json", params=params,
                    headers={"X-Forwarded-For": address}, timeout=30)


def test_reads_without_a_key_are_limited_per_address_with_retry_after(o311, city, settings):
    settings.OPEN311_ANONYMOUS_PER_MINUTE = 3
    settings.PROXY_COUNT = 1
    with time_machine.travel(MINUTE, tick=True):
        for _ in range(3):
            assert get_from(o311, "203.0.113.7").status_code == 200
        refused = http.get(f"{o311.base}/requests.xml", headers={"X-Forwarded-For": "203.0.113.7"},
                           timeout=30)
        assert refused.status_code == 429
        assert b"<errors><error><code>429</code>" in refused.content
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert get_from(o311, "203.0.113.7", "services").status_code == 429
        assert get_from(o311, "198.51.100.2").status_code == 200  # another address
        assert o311.get("requests", api_key=city.secret).status_code == 200  # a key's own limit
        windows = dict(RateWindow.objects.filter(key__isnull=True).values_list("client", "count"))
        assert windows == {"203.0.113.7": 5, "198.51.100.2": 1}
    with time_machine.travel(MINUTE + dt.timedelta(minutes=1), tick=True):
        assert get_from(o311, "203.0.113.7").status_code == 200  # a new minute


def test_a_city_may_refuse_every_read_without_a_key(o311, city, settings):
    settings.OPEN311_ANONYMOUS_PER_MINUTE = 0
    refused = o311.get("requests")
    assert refused.status_code == 403 and "api_key" in refused.json()[0]["description"]
    assert o311.get("requests", api_key=city.secret).status_code == 200


def test_reads_without_a_key_get_smaller_pages(o311, city, monkeypatch):
    made = [app_report(city).number for _ in range(3)][::-1]
    monkeypatch.setattr(selectors, "ANONYMOUS_MAX_RESULTS", 2)
    assert numbers(o311.get("requests")) == made[:2]
    assert numbers(o311.get("requests", page="2")) == made[2:]
    assert o311.get("requests", page_size="3").status_code == 400
    assert numbers(o311.get("requests", api_key=city.secret)) == made
    assert numbers(o311.get("requests", api_key=city.secret, page_size="3")) == made


# ---------------------------------------------------------------- the taxonomy's policy

def test_the_migrated_taxonomy_publishes_city_management_and_keeps_people_private(db):
    policy = dict(Category.objects.values_list("code", "publication"))
    for code in ("SJ0102", "SJ0303", "SJ0501", "BJ0101", "BJ0104", "BJ0402", "ZZ0601"):
        assert policy[code] == "public", code
    for code in ("SJ0101", "SJ0401", "ZZ0301", "ZZ0401", "ZZ0501"):
        assert policy[code] == "coarse", code
    for code in ("ZZ0101", "ZZ0102", "ZZ0201", "ZZ0202", "ZZ0302", "ZZ0701", "ZZ0801",
                 "ZZ0803"):
        assert policy[code] == "private", code
    seeded = [c for cls in TAXONOMY for c in (cls[0], *(sub[0] for sub in cls[5]))]
    assert {code: policy[code] for code in seeded} == {c: publication_of(c) for c in seeded}


def test_an_administrator_changes_a_categorys_publication_in_the_admin(db):
    root = User.objects.create_superuser(username="root", password="x-Strong-pass-2026")
    client = DjangoClient()
    client.force_login(root)
    sj0102 = Category.objects.get(code="SJ0102")
    page = client.get(f"/admin/incidents/category/{sj0102.pk}/change/")
    assert page.status_code == 200 and 'name="publication"' in page.content.decode()
    response = client.post("/admin/incidents/category/?q=SJ0102", {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000", "form-0-id": str(sj0102.pk),
        "form-0-publication": "private", "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:2000]
    sj0102.refresh_from_db()
    assert sj0102.publication == Category.Publication.PRIVATE
