"""The places API: /api/v1/places/complete and /resolve — log-in required,
the one error format for bad input, houses kept to the asker's territory."""

from __future__ import annotations

import pytest

API = "/api/v1/places"


def test_it_needs_a_log_in(gaz, client):
    for path in ("complete", "resolve"):
        response = client.get(f"{API}/{path}", {"q": "西园路"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("path", ["complete", "resolve"])
@pytest.mark.parametrize("query, field", [({}, "q"), ({"q": "  "}, "q"),
                                          ({"q": "路" * 201}, "q")])
def test_bad_input_gets_the_one_error_format(gaz, client, personas, bearer, path, query, field):
    response = client.get(f"{API}/{path}", query, headers=bearer(personas.west_operator))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("limit", ["0", "51", "１", "x"])
def test_a_bad_limit_is_refused(gaz, client, personas, bearer, limit):
    response = client.get(f"{API}/complete", {"q": "西", "limit": limit},
                          headers=bearer(personas.west_operator))
    assert response.status_code == 400 and response.json()["error"]["field"] == "limit"


def test_resolve_answers_the_place_with_its_grid(gaz, client, personas, bearer):
    response = client.get(f"{API}/resolve", {"q": "西园路与中心路交叉口"},
                          headers=bearer(personas.west_operator))
    assert response.status_code == 200
    place = response.json()["place"]
    assert place["kind"] == "intersection" and place["confident"] is True
    assert place["grid"] == {"code": "320505001001001", "name": "西第1网格"}
    assert place["region"]["code"] == "320505001001"
    assert place["confidence"] == 0.9


def test_resolve_answers_null_for_nothing_known(gaz, client, personas, bearer):
    response = client.get(f"{API}/resolve", {"q": "火星基地"}, headers=bearer(personas.viewer))
    assert response.status_code == 200 and response.json() == {"q": "火星基地", "place": None}


def test_a_road_alone_is_answered_not_confident(gaz, client, personas, bearer):
    place = client.get(f"{API}/resolve", {"q": "中心路"},
                       headers=bearer(personas.west_operator)).json()["place"]
    assert place["kind"] == "road" and place["confident"] is False


def test_houses_are_resolved_and_completed_only_in_the_territory(flat, client, personas,
                                                                 bearer):
    q = {"q": "西园路8号3幢2单元302室"}
    west = client.get(f"{API}/resolve", q, headers=bearer(personas.west_operator)).json()
    east = client.get(f"{API}/resolve", q, headers=bearer(personas.east_operator)).json()
    assert west["place"]["kind"] == "house" and west["place"]["label"] == flat.address
    assert east["place"]["kind"] == "road"
    worker = client.get(f"{API}/complete", {"q": "西园路8"},
                        headers=bearer(personas.worker)).json()
    outsider = client.get(f"{API}/complete", {"q": "西园路8"},
                          headers=bearer(personas.east_operator)).json()
    assert worker[0] == {"label": flat.building.address, "kind": "building", "lng": 120.003,
                         "lat": 31.016}
    assert all(o["kind"] != "building" for o in outsider)


def test_complete_answers_at_most_the_limit(gaz, client, personas, bearer):
    response = client.get(f"{API}/complete", {"q": "路", "limit": "3"},
                          headers=bearer(personas.west_operator))
    assert response.status_code == 200 and len(response.json()) == 3
    assert set(response.json()[0]) == {"label", "kind", "lng", "lat"}
