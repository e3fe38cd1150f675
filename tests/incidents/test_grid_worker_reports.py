"""A grid worker reports only inside their own grids: a point in a neighbour's
grid — even of the same community — or in another community is refused on
``location``, naming the grid it fell in, and nothing is written. A place
outside their grids may be sent by address to their own community's centre,
and only there. An operator
(here one of the community's own centre) still reports anywhere in their
territory, on any channel their role has."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from shanzhi.accounts.models import Role
from shanzhi.accounts.services import user_create
from shanzhi.analytics.models import DayTally, MixTally, OpenTally
from shanzhi.core.errors import ValidationError
from shanzhi.geo.index import reset_index
from shanzhi.geo.models import Level
from shanzhi.geo.services import NewNode, regions_add
from shanzhi.incidents import services
from tests.conftest import PASSWORD
from tests.incidents.conftest import EAST_POINT, WEST_POINT, counts, report

NEXT_DOOR = {"lng": 120.015, "lat": 31.015}    # west grid 002: same community as grid 001
SOUTH_WEST = {"lng": 120.005, "lat": 31.005}   # west grid 003


def written() -> tuple[dict, dict]:
    """Every row an intake may write, the rollups included."""
    rollups = {model.__name__: list(model.objects.order_by("pk").values())
               for model in (DayTally, MixTally, OpenTally)}
    return counts(), rollups


@pytest.fixture
def community_operator(cast, territory):
    """An operator of the west community's own centre (工作站)."""
    return user_create(username="community_operator", password=PASSWORD, role=Role.OPERATOR,
                       region_code=territory.west_community.code)


def test_a_grid_worker_reports_in_their_own_grid(cast, territory):
    incident = report(cast, actor=cast.worker, **WEST_POINT)
    assert incident.grid_id == territory.west_grids[0].pk
    assert incident.region_id == territory.west_community.pk


def test_a_point_in_a_neighbours_grid_of_the_same_community_is_refused_and_nothing_written(
        cast, territory):
    report(cast)  # the rollups have rows to keep unchanged
    before = written()
    with pytest.raises(ValidationError) as refused:
        report(cast, actor=cast.worker, **NEXT_DOOR)
    assert refused.value.field == "location"
    assert refused.value.details == {"grid": territory.west_grids[1].code,
                                     "region": territory.west_community.code}
    assert territory.west_grids[1].name in refused.value.message
    assert territory.west_community.name in refused.value.message
    assert written() == before


def test_a_point_in_another_community_is_refused_naming_its_grid(cast, territory):
    before = written()
    with pytest.raises(ValidationError) as refused:
        report(cast, actor=cast.worker, **EAST_POINT)
    assert refused.value.field == "location"
    assert refused.value.details["grid"] == territory.east_grids[3].code
    assert territory.east_community.name in refused.value.message
    assert written() == before


def test_a_point_in_a_community_but_in_none_of_its_grids_is_refused_naming_it(cast, territory):
    regions_add(level=Level.COMMUNITY, nodes=[NewNode(
        code="320505001002", name="西新社区", geometry=box(120.0, 31.02, 120.02, 31.03),
        parent=territory.west_town)])  # no grids drawn yet
    reset_index()
    before = written()
    with pytest.raises(ValidationError) as refused:
        report(cast, actor=cast.worker, lng=120.005, lat=31.025)
    assert refused.value.field == "location"
    assert refused.value.details == {"grid": None, "region": "320505001002"}
    assert "西新社区" in refused.value.message
    assert written() == before


def test_the_api_answers_400_in_chinese_naming_the_grid(api, cast, territory):
    before = written()
    body = api.report(cast.worker, expect=400, **NEXT_DOOR)
    assert body["error"]["code"] == "invalid" and body["error"]["field"] == "location"
    assert body["error"]["message"] == "该位置属于网格 西第2网格（西社区），不在您负责的网格内。"
    assert body["error"]["details"]["grid"] == territory.west_grids[1].code
    assert written() == before


@pytest.mark.parametrize("place", [{"address": "西社区3号楼"},
                                   {"region": "320506001001", "address": "东社区3号楼"},
                                   {"region": "320505001", "address": "西街道"}],
                         ids=["nothing", "another-community", "the-town-above"])
def test_a_grid_worker_cannot_report_an_address_outside_their_community(cast, place):
    before = written()
    with pytest.raises(ValidationError) as refused:
        report(cast, actor=cast.worker, lng=None, lat=None, **place)
    assert refused.value.field in ("location", "region")
    assert written() == before


def test_a_place_outside_the_workers_grids_goes_to_their_community_by_address(cast, territory):
    """Seen on the way, outside their grids: "send it anyway to my community's
    centre" (the phone) sends the address and the worker's community."""
    incident = report(cast, actor=cast.worker, lng=None, lat=None,
                      region=territory.west_community.code, address="西社区3号楼附近")
    assert incident.grid_id is None and incident.region_id == territory.west_community.pk
    assert incident.holder_id == territory.west_town.pk


def test_a_grid_worker_of_several_grids_reports_in_each_of_them(cast, territory):
    two_grids = user_create(username="two_grids", password=PASSWORD, role=Role.GRID_WORKER,
                            grid_codes=[territory.west_grids[0].code,
                                        territory.west_grids[2].code])
    assert report(cast, actor=two_grids, **WEST_POINT).grid_id == territory.west_grids[0].pk
    assert report(cast, actor=two_grids, **SOUTH_WEST).grid_id == territory.west_grids[2].pk
    with pytest.raises(ValidationError):
        report(cast, actor=two_grids, **NEXT_DOOR)


@pytest.mark.parametrize("channel", ["grid_patrol", "hotline_12345"])
def test_an_operator_of_the_community_reports_anywhere_in_it(cast, territory,
                                                             community_operator, channel):
    for i, point in enumerate((WEST_POINT, NEXT_DOOR, SOUTH_WEST)):
        incident = report(cast, actor=community_operator, channel=channel, **point)
        assert incident.grid_id == territory.west_grids[(0, 1, 2)[i]].pk
    by_address = report(cast, actor=community_operator, channel=channel, lng=None, lat=None,
                        region=territory.west_community.code, address="西社区3号楼")
    assert by_address.grid_id is None and by_address.region_id == territory.west_community.pk
    with pytest.raises(ValidationError) as refused:
        report(cast, actor=community_operator, channel=channel, **EAST_POINT)
    assert refused.value.field == "location"


def test_a_grid_worker_reports_through_grid_patrol_only(cast):
    for channel in ("hotline_12345", "citizen_web", "open311", "department"):
        with pytest.raises(services.PermissionDenied):
            report(cast, actor=cast.worker, channel=channel)
