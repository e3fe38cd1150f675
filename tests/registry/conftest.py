"""Registry fixtures: a building and a flat in the west grid 001 (the grid
worker's) and one in the east grid 001 (out of the west personas' territory)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest

from shanzhi.core.identity import synthetic_id_number
from shanzhi.registry.models import Building, House

_drawn: set[str] = set()


def fresh_id_number(rng: random.Random, *, born: dt.date, area: str = "320505",
                    male: bool = True) -> str:
    """A valid identity number not drawn before in this test process: one
    birth date leaves only 500 sequences, so plain random draws collide."""
    while (number := synthetic_id_number(rng, area=area, born=born, male=male)) in _drawn:
        pass
    _drawn.add(number)
    return number


@dataclass
class Places:
    west_building: Building
    west_house: House
    east_building: Building
    east_house: House


def _place(grid, community, road: str, lng: float, lat: float) -> tuple[Building, House]:
    building = Building.objects.create(
        grid=grid, community=community, road=road, number="1号", estate="", building="1幢",
        lng=lng, lat=lat, address=f"{community.name}{road}1号1幢",
        key=f"{community.code}|{road}|1|1")
    house = House.objects.create(grid=grid, building=building, unit="1", room="101",
                                 address=f"{building.address}1单元101室",
                                 key=f"{building.key}|1|101")
    return building, house


@pytest.fixture
def places(territory) -> Places:
    wb, wh = _place(territory.west_grids[0], territory.west_community, "西园路", 120.005, 31.015)
    eb, eh = _place(territory.east_grids[0], territory.east_community, "东园路", 120.025, 31.015)
    return Places(wb, wh, eb, eh)
