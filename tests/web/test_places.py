"""Community names repeat across districts: the desks, the region filter, the
incident page and the export show each place with its district, read from
the spatial index's memory (no query per row). Here both districts' communities
are called 新村社区."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.db import transaction

from shanzhi.geo.index import reset_index
from shanzhi.geo.models import Region, TerritoryRevision
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from tests.incidents.conftest import EAST_POINT, incident_in

SAME = "新村社区"


@pytest.fixture
def same_names(cast):
    """Both communities renamed 新村社区; one incident in each."""
    Region.objects.filter(code__in=["320505001001", "320506001001"]).update(name=SAME)
    with transaction.atomic():
        TerritoryRevision.bump()
    reset_index()
    west = incident_in(cast, wf.DISPATCHED, description="西边的井盖缺失")
    east, _ = services.incident_report(actor=cast.east_operator, channel="hotline_12345",
                                       description="东边的噪音扰民", category="SJ0102",
                                       **EAST_POINT)
    return west, east


def page(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def place_cells(html: str) -> dict[str, str]:
    """Number → the text of its row's place cell (before the grid's name)."""
    rows = re.findall(r'<a href="/incidents/(\w+)/">\1</a>.*?<td class="col-place" '
                      r'title="([^"]*)">([^<]*)<', html, re.S)
    return {number: (title, text) for number, title, text in rows}


def test_the_case_desk_rows_tell_the_two_communities_apart(client, cast, same_names):
    west, east = same_names
    cells = place_cells(page(client, cast.admin, "/incidents/"))
    assert cells[west.number] == ("虎丘区 · 西街道 · 新村社区", "虎丘区 · 新村社区")
    assert cells[east.number] == ("吴中区 · 东街道 · 新村社区", "吴中区 · 新村社区")


def test_the_department_desk_row_names_the_district(client, cast, same_names):
    west, _east = same_names
    cells = place_cells(page(client, cast.handler, "/desk/"))
    assert cells == {west.number: ("虎丘区 · 西街道 · 新村社区", "虎丘区 · 新村社区")}


def test_the_region_filter_offers_each_community_with_its_district(client, cast, same_names):
    html = page(client, cast.admin, "/incidents/")
    assert '<option value="320505001001">\u3000\u3000\u3000新村社区（虎丘区）</option>' in html
    assert '<option value="320506001001">\u3000\u3000\u3000新村社区（吴中区）</option>' in html
    assert '<option value="320505">\u3000虎丘区</option>' in html


def test_a_district_operators_filter_stays_short(client, cast, same_names):
    html = page(client, cast.east_operator, "/incidents/")
    assert '<option value="320506001001">\u3000\u3000新村社区</option>' in html
    assert "虎丘区" not in html


def test_the_export_has_the_district_and_town_of_each_incident(client, cast, same_names):
    west, east = same_names
    client.force_login(cast.admin)
    response = client.get("/incidents/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.iter_rows(values_only=True))
    rows = {row[0]: dict(zip(values[0], row, strict=True)) for row in values[1:]}
    assert [rows[i.number]["区县"] for i in (west, east)] == ["虎丘区", "吴中区"]
    assert [rows[i.number]["镇街"] for i in (west, east)] == ["西街道", "东街道"]
    assert [rows[i.number]["所属区划"] for i in (west, east)] == [SAME, SAME]


def test_the_incident_page_names_the_district_under_its_map(client, cast, same_names):
    _west, east = same_names
    html = page(client, cast.admin, f"/incidents/{east.number}/")
    caption = re.search(r'<p class="map-caption">([^<]*)</p>', html).group(1)
    assert caption.startswith("吴中区 · 东街道 · 新村社区 · 东第4网格 · ")
