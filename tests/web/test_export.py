"""The export of a desk's list to Excel: the same filters and the same scope
as the list, contacts masked, streamed (by either server) and readable by
openpyxl."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.utils import timezone

from shanzhi.core.models import AccessLog
from shanzhi.incidents import workflow as wf
from tests.incidents.conftest import ZJJ, incident_in, report

CONTACT = {"contact_name": "张三", "contact_phone": "13812345678"}


def export(client, user, query: str = ""):
    client.force_login(user)
    response = client.get(f"/incidents/export.xlsx?{query}")
    assert response.status_code == 200
    assert response.streaming
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active, \
        response


def rows_of(sheet) -> list[dict]:
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def test_the_export_is_the_filtered_list_as_a_workbook(client, cast):
    dispatched = incident_in(cast, wf.DISPATCHED, address="西街1号", **CONTACT)
    incident_in(cast, wf.REGISTERED)
    sheet, response = export(client, cast.town_operator, "state=dispatched")
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert re.match(r"attachment; filename\*=utf-8''%E4%BA%8B%E4%BB%B6-\d{8}-\d{4}\.xlsx",
                    response["Content-Disposition"])
    (row,) = rows_of(sheet)
    assert row["事件编号"] == dispatched.number
    assert row["状态"] == "已派遣"
    assert row["亮灯"] == "绿灯"
    assert row["来源渠道"] == "网格巡查"
    assert (row["分类代码"], row["事件分类"]) == ("SJ0102", "暴露垃圾")
    assert row["地址"] == "西街1号"
    assert row["处置部门"] == "虎丘区住建局"
    assert row["承办中心"] == "西街道"
    assert row["是否超期"] == "否"
    local = timezone.localtime(dispatched.reported_at).replace(tzinfo=None)
    assert abs(row["上报时间"] - local) < dt.timedelta(seconds=1)


def test_contacts_are_masked_in_the_export_and_nothing_is_logged(client, cast):
    incident_in(cast, wf.REGISTERED, **CONTACT)
    sheet, _ = export(client, cast.admin)
    (row,) = rows_of(sheet)
    assert (row["联系人"], row["联系电话"]) == ("张*", "138****5678")
    assert AccessLog.objects.count() == 0


def test_the_east_operator_exports_nothing_of_the_west(client, cast):
    incident_in(cast, wf.DISPATCHED, **CONTACT)
    for query in ("", "state=dispatched", f"department={ZJJ}"):
        sheet, _ = export(client, cast.east_operator, query)
        assert rows_of(sheet) == []
        assert sheet.max_row == 1  # the header alone
    # a west region is no region of the east operator's: a filter that does not hold
    response = client.get("/incidents/export.xlsx?region=320505")
    assert response.status_code == 400 and not response.streaming


def test_the_handler_exports_only_the_departments_incidents(client, cast):
    mine = incident_in(cast, wf.DISPATCHED)
    incident_in(cast, wf.REGISTERED)
    sheet, _ = export(client, cast.handler)
    assert [r["事件编号"] for r in rows_of(sheet)] == [mine.number]


def test_the_export_keeps_the_lists_order(client, cast):
    first, second = report(cast), report(cast)
    sheet, _ = export(client, cast.admin, "sort=number")
    assert [r["事件编号"] for r in rows_of(sheet)] == [first.number, second.number]


def test_the_export_speaks_english_when_asked(client, cast):
    report(cast)
    client.force_login(cast.admin)
    response = client.get("/incidents/export.xlsx", headers={"Accept-Language": "en"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert book.sheetnames == ["Incidents"]
    assert book.active["A1"].value == "Number"
    assert book.active["B2"].value == "Reported"


def test_an_asgi_server_gets_an_async_stream(cast):
    """Django would read a plain iterator whole before sending it under ASGI."""
    incident = report(cast)
    client = AsyncClient()

    async def fetch():
        await client.aforce_login(cast.admin)
        response = await client.get("/incidents/export.xlsx")
        assert response.is_async
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(fetch)()
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert sheet["A2"].value == incident.number


@pytest.mark.parametrize("query", [
    "state=bogus", "light=purple", "channel=fax", "sort=secret", "reported_from=2026-13-01",
    "reported_from=0001-01-01", "reported_to=9999-12-31",
    "reported_from=2026-03-02&reported_to=2026-03-01", "region=999999", "q=" + "x" * 101,
], ids=["unknown-state", "unknown-light", "unknown-channel", "unknown-sort", "not-a-date",
        "year-1", "year-9999", "end-before-start", "region-outside", "search-too-long"])
def test_filters_that_do_not_hold_export_nothing_and_answer_400(client, cast, query):
    incident_in(cast, wf.REGISTERED)
    client.force_login(cast.town_operator)
    response = client.get(f"/incidents/export.xlsx?{query}")
    assert response.status_code == 400
    assert not response.streaming
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_date_beyond_the_supported_years_is_a_form_error_on_the_desk(client, cast, day):
    incident_in(cast, wf.REGISTERED)
    client.force_login(cast.town_operator)
    response = client.get(f"/incidents/?reported_from={day}&reported_to={day}")
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"reported_from", "reported_to"}
