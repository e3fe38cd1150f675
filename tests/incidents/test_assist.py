"""Intake assistance (``incidents.assist`` and POST /api/v1/incidents/assist):
the city's model's top categories with its figures, the address's place,
possible duplicates and the caller's earlier reports — scoped to the actor,
with the time injected."""

from __future__ import annotations

import datetime as dt

import pytest

from shanzhi.core.errors import PermissionDenied, ValidationError
from shanzhi.incidents import services
from shanzhi.incidents.assist import assist
from shanzhi.incidents.models import State
from shanzhi.intake import places, textclass
from shanzhi.intake.models import PlaceName
from tests.incidents.conftest import WEST_POINT, at, drive

NOW = at(2026, 11, 20, 10)

#: Hand-written reports of three subclasses, clear enough for a tiny model.
TRAINING = {
    "SJ0102": ["路边有暴露垃圾没人清理", "垃圾桶旁边堆满垃圾", "小区门口垃圾成堆发臭",
               "绿化带里扔了很多生活垃圾", "垃圾袋散落在人行道上", "菜场门口垃圾乱堆",
               "楼道口有一堆垃圾", "河边有人倒垃圾"],
    "SJ0404": ["机动车乱停放堵住消防通道", "小区门口汽车乱停", "轿车停在人行道上",
               "货车违停占用车道", "汽车长期占用盲道停放", "机动车停在路口影响通行",
               "私家车堵在公交站台", "车辆乱停堵住出口"],
    "SJ0303": ["道路破损有个大坑", "路面塌陷很危险", "马路上坑洼不平",
               "人行道地砖破损翘起", "路面开裂积水", "道路坑洞电动车摔倒",
               "井盖旁边路面破损", "柏油路面坑坑洼洼"],
}


def train_model(now: dt.datetime = NOW) -> dict:
    """The city's incident model trained on :data:`TRAINING` (in the test's
    own model dir); returns the training report."""
    texts = [t for texts in TRAINING.values() for t in texts]
    labels = [code for code, texts in TRAINING.items() for _t in texts]
    return textclass.train(texts, labels, model=textclass.DEFAULT_MODEL, source="test",
                           folds=3, now=now)


@pytest.fixture
def model(db):
    return train_model()


def landmark(territory, name="玄妙观", lng=120.005, lat=31.015) -> PlaceName:
    """A landmark of the gazetteer (a point inside west grid 001 by default)."""
    place = PlaceName.objects.create(
        name=name, kind=PlaceName.Kind.LANDMARK, aliases=[],
        geometry={"type": "Point", "coordinates": [lng, lat]}, lng=lng, lat=lat,
        min_lng=lng, min_lat=lat, max_lng=lng, max_lat=lat, region=territory.west, source="test")
    places.changed()
    return place


def garbage(cast, *, at_time=NOW - dt.timedelta(hours=2), **fields):
    """An open 暴露垃圾 report at the west point, by the grid worker."""
    fields = {"channel": "grid_patrol", "description": "路边有暴露垃圾没人清理",
              "category": "SJ0102", **WEST_POINT, "now": at_time, **fields}
    incident, _created = services.incident_report(actor=cast.worker, **fields)
    return incident


# ---------------------------------------------------------------- the service

def test_without_a_model_it_suggests_nothing_and_says_there_is_no_model(cast):
    out = assist(actor=cast.town_operator, description="路边有暴露垃圾", now=NOW)
    assert out == {"suggestions": [], "model": None, "place": None, "duplicates": [],
                   "repeats": []}


def test_it_suggests_the_top_three_subclasses_with_their_confidence(cast, model):
    out = assist(actor=cast.town_operator, description="小区门口有一堆垃圾发臭", now=NOW)
    codes = [s["code"] for s in out["suggestions"]]
    assert codes[0] == "SJ0102" and sorted(codes) == ["SJ0102", "SJ0303", "SJ0404"]
    first = out["suggestions"][0]
    assert (first["name"], first["class_name"]) == ("暴露垃圾", "市容环境")
    confidences = [s["confidence"] for s in out["suggestions"]]
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < sum(confidences) <= 1.0001


def test_it_shows_the_models_cross_validated_figures(cast, model):
    shown = assist(actor=cast.town_operator, description="路面有坑", now=NOW)["model"]
    assert shown["version"] == model["version"] and shown["rows"] == 24
    assert shown["accuracy"] == model["accuracy"] and shown["macro_f1"] == model["macro_f1"]
    assert shown["trained_at"] == model["trained_at"]


def test_it_finds_an_open_incident_of_the_suggested_category_nearby(cast, model):
    earlier = garbage(cast)
    out = assist(actor=cast.town_operator, description="路边暴露垃圾没人清理", now=NOW,
                 lng=120.0052, lat=31.0151)
    (found,) = out["duplicates"]
    assert found["number"] == earlier.number and found["category"] == "SJ0102"
    assert found["state"] == "reported" and 15 < found["distance_m"] < 30
    assert found["similarity"] > 0.5


def test_a_chosen_category_overrides_the_suggestion_for_duplicates(cast, model):
    garbage(cast)
    out = assist(actor=cast.town_operator, description="路边暴露垃圾", category="SJ0404",
                 now=NOW, **WEST_POINT)
    assert out["suggestions"][0]["code"] == "SJ0102"
    assert out["duplicates"] == []


def test_duplicates_need_a_point_or_a_confidently_placed_address(cast, territory):
    earlier = garbage(cast)
    landmark(territory)
    asked = {"actor": cast.town_operator, "description": "路边暴露垃圾", "category": "SJ0102",
             "now": NOW}
    assert assist(**asked)["duplicates"] == []
    out = assist(**asked, address="玄妙观门口")
    assert out["place"]["confident"] is True
    assert out["place"]["grid"]["code"] == territory.west_grids[0].code
    assert [d["number"] for d in out["duplicates"]] == [earlier.number]


def test_an_address_placed_without_confidence_is_shown_but_not_used(cast, territory):
    garbage(cast)
    out = assist(actor=cast.town_operator, description="路边暴露垃圾", category="SJ0102",
                 address="西街道", now=NOW)
    assert out["place"]["kind"] == "region" and out["place"]["confident"] is False
    assert out["place"]["region"]["code"] == territory.west_town.code
    assert out["duplicates"] == []


def test_a_place_outside_the_actors_territory_is_not_confident_for_them(cast, territory):
    landmark(territory)
    out = assist(actor=cast.east_operator, description="垃圾", address="玄妙观", now=NOW)
    assert out["place"]["label"] and out["place"]["confident"] is False


def test_an_out_of_territory_operator_sees_no_duplicates_and_no_repeats(cast, model):
    garbage(cast, contact_phone="13912345678")
    out = assist(actor=cast.east_operator, description="路边暴露垃圾没人清理", now=NOW,
                 category="SJ0102", contact_phone="13912345678", **WEST_POINT)
    assert out["duplicates"] == [] and out["repeats"] == []


def test_the_same_callers_reports_of_the_last_30_days_are_repeats(cast):
    old = garbage(cast, contact_phone="139 1234 5678", at_time=NOW - dt.timedelta(days=31))
    recent = garbage(cast, contact_phone="+86 139-1234-5678",
                     at_time=NOW - dt.timedelta(days=29))
    out = assist(actor=cast.town_operator, description="", contact_phone="13912345678",
                 now=NOW)
    assert [r["number"] for r in out["repeats"]] == [recent.number]
    assert old.number not in {r["number"] for r in out["repeats"]}
    assert out["repeats"][0]["state_label"] == str(State.REPORTED.label)


def test_a_closed_incident_is_no_duplicate_but_still_a_repeat(cast, model):
    earlier = drive(cast, garbage(cast, contact_phone="13912345678"), "closed")
    out = assist(actor=cast.town_operator, description="路边暴露垃圾没人清理", now=NOW,
                 contact_phone="13912345678", **WEST_POINT)
    assert out["duplicates"] == []
    assert [r["number"] for r in out["repeats"]] == [earlier.number]


def test_exclude_leaves_out_the_incident_being_edited(cast, model):
    earlier = garbage(cast, contact_phone="13912345678")
    out = assist(actor=cast.town_operator, description="路边暴露垃圾没人清理", now=NOW,
                 contact_phone="13912345678", exclude=earlier.pk, **WEST_POINT)
    assert out["duplicates"] == [] and out["repeats"] == []


def test_a_viewer_may_not_ask(cast):
    with pytest.raises(PermissionDenied):
        assist(actor=cast.viewer, description="垃圾", now=NOW)


@pytest.mark.parametrize(("fields", "field"), [
    ({"category": "SJ01"}, "category"),           # a class, not a subclass
    ({"category": "XX9999"}, "category"),
    ({"lng": 120.005}, "lat"),
    ({"region": "320506001"}, "region"),         # the east town: outside the west town
])
def test_it_refuses_bad_input_naming_the_field(cast, fields, field):
    with pytest.raises(ValidationError) as refused:
        assist(actor=cast.town_operator, description="垃圾", now=NOW, **fields)
    assert refused.value.field == field


# ---------------------------------------------------------------- the API

def post(client, headers, **body):
    return client.post("/api/v1/incidents/assist", body, content_type="application/json",
                       headers=headers)


def test_the_api_answers_the_same_dict(client, bearer, cast, model):
    earlier = garbage(cast, at_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    response = post(client, bearer(cast.town_operator), description="路边暴露垃圾没人清理",
                    contact_phone="13900000000", **WEST_POINT)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"suggestions", "model", "place", "duplicates", "repeats"}
    assert body["suggestions"][0]["code"] == "SJ0102"
    assert [d["number"] for d in body["duplicates"]] == [earlier.number]
    assert body["model"]["rows"] == 24


def test_the_api_excludes_an_incident_by_its_number(client, bearer, cast, model):
    earlier = garbage(cast, at_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    response = post(client, bearer(cast.town_operator), description="路边暴露垃圾没人清理",
                    exclude=earlier.number, **WEST_POINT)
    assert response.status_code == 200 and response.json()["duplicates"] == []
    unseen = post(client, bearer(cast.east_operator), description="垃圾",
                  exclude=earlier.number)
    assert unseen.status_code == 404


def test_the_api_refuses_strangers_viewers_and_unknown_fields(client, bearer, cast):
    assert post(client, {}, description="垃圾").status_code == 401
    refused = post(client, bearer(cast.viewer), description="垃圾")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad = post(client, bearer(cast.town_operator), description="垃圾", colour="red")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "colour"
    wrong = post(client, bearer(cast.town_operator), description="垃圾", category="XX9999")
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "category"
