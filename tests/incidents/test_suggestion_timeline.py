"""What smart intake leaves on the incident and its timeline: the model's
suggestion and the operator's choice (at the report and at the accept), the
caller's phone normalised and the repeat flag, an address placed when the
resolver is confident (else flagged), and the merge into a duplicate in one
step."""

from __future__ import annotations

import datetime as dt

import pytest

from shanzhi.core.errors import PermissionDenied, ValidationError
from shanzhi.incidents import services
from shanzhi.incidents.models import Incident, TimelineEntry
from tests.incidents.conftest import WEST_POINT, at, counts
from tests.incidents.test_assist import landmark, train_model

NOW = at(2026, 11, 20, 10)


@pytest.fixture
def model(db):
    return train_model()


def call(cast, *, actor=None, now=NOW, **fields) -> Incident:
    """A 12345 call taken by the west town's operator, through the service."""
    fields = {"channel": "hotline_12345", "description": "小区门口垃圾成堆发臭",
              **WEST_POINT, **fields}
    incident, _created = services.incident_report(actor=actor or cast.town_operator, now=now,
                                                  **fields)
    return incident


def reported(incident: Incident) -> dict:
    return TimelineEntry.objects.get(incident=incident, action="report").data


# ---------------------------------------------------------------- the suggestion

def test_a_report_keeps_the_models_first_suggestion_and_its_top_three(cast, model):
    incident = call(cast)
    incident.refresh_from_db()
    assert incident.suggested.code == "SJ0102" and 0 < incident.suggested_confidence <= 1
    suggestion = reported(incident)["suggestion"]
    assert suggestion["model"] == f"incidents v{model['version']}"
    assert suggestion["top"][0][0] == "SJ0102"
    assert len(suggestion["top"]) == 3
    assert suggestion["top"][0][1] == pytest.approx(incident.suggested_confidence)
    assert (suggestion["chosen"], suggestion["matched"]) == (None, None)


@pytest.mark.parametrize(("chosen", "matched"), [("SJ0102", True), ("SJ0404", False)])
def test_a_report_with_a_category_records_whether_it_matched(cast, model, chosen, matched):
    suggestion = reported(call(cast, category=chosen))["suggestion"]
    assert (suggestion["chosen"], suggestion["matched"]) == (chosen, matched)


def test_without_a_model_a_report_has_no_suggestion(cast):
    incident = call(cast)
    assert incident.suggested_id is None and incident.suggested_confidence is None
    assert "suggestion" not in reported(incident)


def test_a_device_that_names_its_category_gets_no_suggestion(cast, model):
    device, _token = services.device_create(device_id="cam-1", name="西街摄像头",
                                            channel="video", category="SJ0404",
                                            **WEST_POINT)
    incident, _created = services.device_alert(device=device, data={
        "event_id": "e1", "description": "小区门口垃圾成堆发臭"})
    assert incident.suggested_id is None
    assert "suggestion" not in reported(incident)


@pytest.mark.parametrize(("chosen", "matched"), [("SJ0102", True), ("SJ0303", False)])
def test_the_accept_records_the_suggestion_beside_the_operators_choice(cast, model, chosen,
                                                                       matched):
    incident = call(cast)
    services.incident_accept(actor=cast.town_operator, incident=incident, category=chosen,
                             now=NOW + dt.timedelta(minutes=5))
    accepted = TimelineEntry.objects.get(incident=incident, action="accept").data
    assert accepted["suggestion"] == {"suggested": "SJ0102", "chosen": chosen,
                                      "matched": matched}


def test_an_accept_without_a_suggestion_records_none(cast):
    incident = call(cast, category="SJ0102")
    services.incident_accept(actor=cast.town_operator, incident=incident,
                             now=NOW + dt.timedelta(minutes=5))
    assert "suggestion" not in TimelineEntry.objects.get(incident=incident,
                                                         action="accept").data


# ---------------------------------------------------------------- the caller

def test_the_phone_is_stored_normalised(cast):
    incident = call(cast, contact_phone="+86 139-1234-5678")
    incident.refresh_from_db()
    assert incident.contact_phone == "13912345678"


def test_the_same_caller_within_30_days_is_flagged_as_a_repeat(cast):
    first = call(cast, contact_phone="13912345678", now=NOW - dt.timedelta(days=29))
    again = call(cast, contact_phone="139 1234 5678")
    assert reported(again)["repeat_of"] == [first.number]
    assert "repeat_of" not in reported(first)


def test_a_caller_after_30_days_is_no_repeat(cast):
    call(cast, contact_phone="13912345678", now=NOW - dt.timedelta(days=30, minutes=1))
    assert "repeat_of" not in reported(call(cast, contact_phone="13912345678"))


# ---------------------------------------------------------------- the address

def test_a_confidently_placed_address_gets_the_point_and_grid(cast, territory):
    landmark(territory, lng=120.0152, lat=31.0051)   # west grid 004
    incident = call(cast, lng=None, lat=None, address="玄妙观门口")
    assert (incident.lng, incident.lat) == (120.0152, 31.0051)
    assert incident.grid == territory.west_grids[3]
    place = reported(incident)["place"]
    assert place["placed"] is True and place["label"]
    assert reported(incident)["located"]["grid"] == territory.west_grids[3].code


def test_an_address_not_placed_with_confidence_is_flagged(cast, territory):
    incident = call(cast, lng=None, lat=None, address="西街道某处",
                    region=territory.west_community.code)
    assert incident.lng is None and incident.grid_id is None
    assert incident.region == territory.west_community
    place = reported(incident)["place"]
    assert place["placed"] is False and place["confidence"] < 0.7


def test_an_unknown_address_is_flagged_with_no_guess(cast, territory):
    incident = call(cast, lng=None, lat=None, address="不知道哪里",
                    region=territory.west_community.code)
    assert reported(incident)["place"] == {"label": "", "confidence": 0.0, "placed": False}


def test_a_place_outside_the_region_given_is_not_used(cast, territory):
    landmark(territory, lng=120.005, lat=31.015)   # west grid 001
    incident = call(cast, actor=cast.admin, lng=None, lat=None, address="玄妙观",
                    region=territory.east_community.code)
    assert incident.lng is None and incident.region == territory.east_community
    assert reported(incident)["place"]["placed"] is False


def test_a_grid_worker_places_an_address_in_their_own_grid(cast, territory):
    landmark(territory, lng=120.005, lat=31.015)   # the worker's grid 001
    incident = call(cast, actor=cast.worker, channel="grid_patrol", lng=None, lat=None,
                    address="玄妙观")
    assert incident.grid == territory.west_grids[0]


def test_a_point_given_is_never_replaced_by_the_address(cast, territory):
    landmark(territory, lng=120.0152, lat=31.0051)
    incident = call(cast, address="玄妙观")
    assert (incident.lng, incident.lat) == (WEST_POINT["lng"], WEST_POINT["lat"])
    assert "place" not in reported(incident)


# ---------------------------------------------------------------- the merge in one step

def test_a_report_registered_as_a_duplicate_is_merged_in_one_step(cast):
    original = call(cast, category="SJ0102", now=NOW - dt.timedelta(hours=1))
    duplicate = call(cast, category="SJ0102", duplicate_of=original.number)
    duplicate.refresh_from_db()
    assert duplicate.state == "rejected" and duplicate.merged_into == original
    actions = list(TimelineEntry.objects.filter(incident=duplicate).order_by("id")
                   .values_list("action", "data__at_intake"))
    assert actions == [("report", None), ("merge", True)]


def test_the_merge_at_intake_is_idempotent(cast):
    original = call(cast, category="SJ0102", now=NOW - dt.timedelta(hours=1))
    first = call(cast, category="SJ0102", duplicate_of=original.number, idempotency_key="k1")
    before = counts()
    again, created = services.incident_report(
        actor=cast.town_operator, channel="hotline_12345", description="小区门口垃圾成堆发臭",
        category="SJ0102", duplicate_of=original.number, idempotency_key="k1", now=NOW,
        **WEST_POINT)
    assert (again.pk, created) == (first.pk, False) and counts() == before


@pytest.mark.parametrize("original", ["SJ2026112099999999", "999999"])
def test_a_merge_into_an_unknown_incident_writes_nothing(cast, original):
    before = counts()
    with pytest.raises(ValidationError):
        call(cast, category="SJ0102", duplicate_of=original)
    assert counts() == before


def test_a_merge_out_of_territory_writes_nothing(cast):
    original = call(cast, category="SJ0102", now=NOW - dt.timedelta(hours=1))
    before = counts()
    with pytest.raises(ValidationError):
        call(cast, actor=cast.east_operator, category="SJ0102", duplicate_of=original.number,
             lng=120.035, lat=31.005)
    assert counts() == before


def test_a_grid_worker_may_not_merge_and_nothing_is_written(cast):
    original = call(cast, category="SJ0102", now=NOW - dt.timedelta(hours=1))
    before = counts()
    with pytest.raises(PermissionDenied):
        call(cast, actor=cast.worker, channel="grid_patrol", category="SJ0102",
             duplicate_of=original.number)
    assert counts() == before


def test_the_api_merges_a_report_into_a_duplicate(api, cast):
    original = api.report(cast.worker)
    answer = api.report(cast.town_operator, channel="hotline_12345",
                        duplicate_of=original["number"])
    assert answer["state"] == "rejected" and answer["merged_into"] == original["number"]
