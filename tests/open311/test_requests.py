"""GET requests and requests/{id}: the filters and their defaults, the
fields, status notes, privacy and the jurisdiction's scope."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
from django.utils import timezone
from shapely.geometry import box

from shanzhi.geo.index import reset_index
from shanzhi.geo.models import Level
from shanzhi.geo.services import NewNode, regions_add
from shanzhi.incidents import services
from shanzhi.open311 import selectors
from shanzhi.open311.services import key_create
from tests.open311.conftest import app_report, closed

W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
#: A Wednesday in office hours: the accept deadline is one working hour from
#: now, fractions of a second included; and the same night: the deadline is
#: next morning's round hour. W3C date-times drop the fraction in both.
WEDNESDAY_10H = dt.datetime(2026, 11, 25, 10, 0, 0, 250_000, tzinfo=SHANGHAI)
WEDNESDAY_23H = dt.datetime(2026, 11, 25, 23, 0, 0, 250_000, tzinfo=SHANGHAI)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["service_request_id"] for row in response.json()]


def days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.mark.parametrize("moment", [WEDNESDAY_10H, WEDNESDAY_23H],
                         ids=["wednesday-10h", "wednesday-23h"])
def test_a_request_has_every_field_of_the_spec_typed(o311, city, moment):
    with time_machine.travel(moment, tick=True):
        incident = app_report(city, address="狮山路88号")
        (row,) = o311.get(f"requests/{incident.number}").json()
    assert list(row) == ["service_request_id", "status", "status_notes", "service_name",
                         "service_code", "description", "agency_responsible",
                         "service_notice", "requested_datetime", "updated_datetime",
                         "expected_datetime", "address", "address_id", "zipcode", "lat",
                         "long", "media_url"]
    assert row["service_request_id"] == incident.number
    assert (row["status"], row["service_code"], row["service_name"]) == ("open", "SJ0102",
                                                                         "暴露垃圾")
    assert row["agency_responsible"] == "西街道"  # the linkage centre holding it
    assert (row["lat"], row["long"], row["address"]) == (31.015, 120.005, "狮山路88号")
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3C.match(row[name]), row[name]
    # the deadline to the second (W3C without fractions), whatever the hour
    assert dt.datetime.fromisoformat(row["expected_datetime"]) == \
        incident.due_at.replace(microsecond=0)
    assert (row["status_notes"], row["service_notice"], row["media_url"]) == (None, None, None)


def test_status_is_open_until_closed_or_rejected(o311, city):
    open_one = app_report(city)
    rejected = services.incident_reject(actor=city.town_operator, incident=app_report(city),
                                        reason="重复上报，已有同类事件")
    done = closed(city, app_report(city))
    rows = {r["service_request_id"]: r for r in o311.get("requests").json()}
    assert rows[open_one.number]["status"] == "open"
    assert rows[rejected.number]["status"] == rows[done.number]["status"] == "closed"
    assert rows[rejected.number]["status_notes"] == "重复上报，已有同类事件"
    assert rows[rejected.number]["expected_datetime"] is None
    done.refresh_from_db()
    assert dt.datetime.fromisoformat(rows[done.number]["updated_datetime"]) == \
        done.closed_at.replace(microsecond=0)


def test_status_notes_is_the_latest_public_note_never_an_internal_one(o311, city):
    incident = closed(city, app_report(city), result="已清理，垃圾已运走")
    (row,) = o311.get(f"requests/{incident.number}").json()
    assert row["status_notes"] == "已清理，垃圾已运走"   # not the dispatch note "内部：请尽快"
    assert row["agency_responsible"] == "虎丘区住建局"   # the department it was sent to
    in_progress = services.incident_accept(actor=city.town_operator, incident=app_report(city))
    in_progress = services.incident_dispatch(actor=city.town_operator, incident=in_progress,
                                             department="320505-ZJJ", note="内部备注")
    text = o311.get(f"requests/{in_progress.number}", "xml").text
    assert "内部备注" not in text and "<status_notes />" in text


def test_a_duplicate_says_so_in_its_service_notice(o311, city):
    original = app_report(city)
    duplicate = services.incident_merge(actor=city.town_operator, incident=app_report(city),
                                        original=original.number)
    (row,) = o311.get(f"requests/{duplicate.number}").json()
    assert original.number in row["service_notice"] and row["status"] == "closed"


def test_by_default_the_last_90_days_newest_first(o311, city):
    old = app_report(city, now=days_ago(91))
    recent = app_report(city, now=days_ago(89))
    new = app_report(city)
    assert ids(o311.get("requests")) == [new.number, recent.number]
    assert old.number not in ids(o311.get("requests", "json", start_date="", end_date=""))


def test_the_date_bounds_are_inclusive(o311, city):
    at = (timezone.now() - dt.timedelta(days=3)).replace(microsecond=0)
    incident = app_report(city, now=at)
    stamp = at.isoformat()
    assert ids(o311.get("requests", start_date=stamp, end_date=stamp)) == [incident.number]
    later = (at + dt.timedelta(seconds=1)).isoformat()
    assert ids(o311.get("requests", start_date=later)) == []
    zulu = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(o311.get("requests", end_date=zulu)) == [incident.number]
    day = timezone.localtime(at).date().isoformat()  # a date: its whole day
    assert ids(o311.get("requests", start_date=day, end_date=day)) == [incident.number]


def test_a_lone_start_date_searches_90_days_from_it_and_a_lone_end_date_90_days_before(
        o311, city):
    a, b = app_report(city, now=days_ago(100)), app_report(city, now=days_ago(5))
    start = days_ago(101).isoformat()
    assert ids(o311.get("requests", start_date=start)) == [a.number]
    assert ids(o311.get("requests", end_date=days_ago(4).isoformat())) == [b.number]


@pytest.mark.parametrize(("params", "message"), [
    ({"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-04-02T00:00:00+08:00"},
     "90 days"),
    ({"start_date": "2026-03-01T00:00:00+08:00", "end_date": "2026-02-01T00:00:00+08:00"},
     "before start_date"),
    ({"start_date": "yesterday"}, "W3C"),
    ({"status": "pending"}, "open or closed"),
    ({"page": "0"}, "page"), ({"page_size": "1001"}, "page_size"),
])
def test_bad_filters_are_400(o311, params, message):
    response = o311.get("requests", **params)
    assert response.status_code == 400
    assert message in response.json()[0]["description"]


def test_status_and_service_code_filter_with_comma_lists(o311, city):
    trash = app_report(city)
    done = closed(city, app_report(city))
    other = app_report(city, category="SJ0402")
    assert ids(o311.get("requests", status="open")) == [other.number, trash.number]
    assert ids(o311.get("requests", status="closed")) == [done.number]
    assert len(ids(o311.get("requests", status="open,closed"))) == 3
    assert ids(o311.get("requests", service_code="SJ0402")) == [other.number]
    assert len(ids(o311.get("requests", service_code="SJ0402,SJ0102"))) == 3
    assert ids(o311.get("requests", service_code="NOPE")) == []


def test_service_request_id_overrides_every_other_filter(o311, city):
    old = app_report(city, now=days_ago(200))
    done = closed(city, app_report(city))
    found = ids(o311.get("requests", service_request_id=f"{old.number}, {done.number},SJ0",
                         status="open", service_code="SJ0402",
                         start_date="2020-01-01T00:00:00Z", end_date="2020-01-02T00:00:00Z"))
    assert sorted(found) == sorted([old.number, done.number])


def test_at_most_1000_results_and_page_and_page_size(o311, city, monkeypatch):
    made = [app_report(city).number for _ in range(5)][::-1]  # newest first
    monkeypatch.setattr(selectors, "MAX_RESULTS", 3)
    assert ids(o311.get("requests")) == made[:3]
    assert ids(o311.get("requests", page="2")) == made[3:]
    assert ids(o311.get("requests", page_size="2", page="3")) == made[4:]
    assert o311.get("requests", page_size="4").status_code == 400
    assert ids(o311.get("requests", page="9")) == []


def test_an_unknown_request_is_404(o311, city):
    response = o311.get("requests/SJ2026010100000099", "xml")
    assert response.status_code == 404
    assert b"<errors><error><code>404</code>" in response.content


@pytest.fixture
def two_cities(city, territory):
    """Shanghai beside Suzhou in the same database, with a key of its own."""
    regions_add(level=Level.CITY, nodes=[NewNode(code="310000", name="上海市",
                                                 geometry=box(121.0, 31.0, 121.02, 31.02))])
    reset_index()
    _key, secret = key_create(name="上海 app", jurisdiction="310000")
    return secret


def test_with_several_cities_a_read_names_its_jurisdiction(o311, city, two_cities):
    incident = app_report(city)
    response = o311.get("requests")
    assert response.status_code == 400 and "jurisdiction_id" in response.json()[0]["description"]
    assert ids(o311.get("requests", jurisdiction_id="320500")) == [incident.number]
    assert ids(o311.get("requests", jurisdiction_id="310000")) == []
    assert o311.get("requests", jurisdiction_id="999999").status_code == 404
    assert ids(o311.get("requests", api_key=city.secret)) == [incident.number]


def test_a_key_reads_only_its_own_city(o311, city, two_cities):
    incident = app_report(city)
    assert ids(o311.get("requests", api_key=two_cities)) == []
    assert o311.get(f"requests/{incident.number}", api_key=two_cities).status_code == 404
    refused = o311.get("requests", api_key=two_cities, jurisdiction_id="320500")
    assert refused.status_code == 403
    o311.secret = two_cities
    outside = o311.post(service_code="SJ0102", lat="31.015", long="120.005")
    # the key's service account is an operator of 上海市: the point lies outside its territory
    assert outside.status_code == 400 and "outside" in outside.json()[0]["description"]
    (created,) = o311.post(service_code="SJ0102", lat="31.01", long="121.01").json()
    assert ids(o311.get("requests", api_key=two_cities)) == [created["service_request_id"]]


def test_a_bad_api_key_on_a_read_is_403(o311):
    assert o311.get("requests", api_key="o311_nope").status_code == 403
