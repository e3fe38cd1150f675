"""GET /api/v1/geo/locate says whether the asking user may report at the
point, by the intake's own rule (accounts.scope.point_check_territory):
an operator inside their territory, a grid worker inside their own grids.
The intake form's map shows the answer before the submit."""

from __future__ import annotations

import pytest

from shanzhi.incidents.services import _locate

URL = "/api/v1/geo/locate"
WEST_GRID_1 = {"lng": "120.005", "lat": "31.015"}
WEST_GRID_2 = {"lng": "120.015", "lat": "31.015"}
EAST_GRID_4 = {"lng": "120.035", "lat": "31.005"}


def locate(client, bearer, user, point) -> dict:
    response = client.get(URL, point, headers=bearer(user))
    assert response.status_code == 200
    return response.json()


def test_a_point_in_the_operators_district_is_in_territory(client, personas, bearer):
    body = locate(client, bearer, personas.west_operator, WEST_GRID_2)
    assert (body["in_territory"], body["territory_message"]) == (True, None)
    assert body["grid"]["code"] == "320505001001002"


def test_a_point_in_the_other_district_is_out_of_territory_with_the_reason(
        client, personas, bearer):
    body = locate(client, bearer, personas.west_operator, EAST_GRID_4)
    assert body["in_territory"] is False
    assert body["territory_message"] == "该位置属于吴中区 · 东街道 · 东社区，不在您的辖区内。"
    # where it is is still said: the form names the place
    assert body["grid"]["code"] == "320506001001004"


def test_the_reason_is_english_on_an_english_request(client, personas, bearer):
    response = client.get(URL, EAST_GRID_4, headers={**bearer(personas.west_operator),
                                                     "Accept-Language": "en"})
    assert response.json()["territory_message"] == (
        "This place lies in 吴中区 · 东街道 · 东社区, outside your territory.")


def test_a_grid_worker_is_in_territory_only_in_their_own_grid(client, personas, bearer):
    assert locate(client, bearer, personas.worker, WEST_GRID_1)["in_territory"] is True
    body = locate(client, bearer, personas.worker, WEST_GRID_2)
    assert body["in_territory"] is False
    assert "不在您负责的网格内" in body["territory_message"]


def test_the_city_admin_may_report_anywhere_in_the_city(client, personas, bearer):
    assert locate(client, bearer, personas.admin, EAST_GRID_4)["in_territory"] is True


def test_the_operator_without_territory_is_nowhere_in_territory(client, personas, bearer):
    assert locate(client, bearer, personas.nobody, WEST_GRID_1)["in_territory"] is False


@pytest.mark.parametrize("user, point", [
    ("west_operator", WEST_GRID_2), ("west_operator", EAST_GRID_4), ("worker", WEST_GRID_1),
    ("worker", WEST_GRID_2), ("east_operator", WEST_GRID_1), ("nobody", WEST_GRID_1)])
def test_the_answer_agrees_with_what_the_intake_service_accepts(client, personas, bearer,
                                                                 user, point):
    from shanzhi.core.errors import ValidationError

    actor = getattr(personas, user)
    try:
        _locate(lng=point["lng"], lat=point["lat"], crs="wgs84", region_code=None, actor=actor)
        accepted = True
    except ValidationError:
        accepted = False
    assert locate(client, bearer, actor, point)["in_territory"] is accepted
