"""The intake form (新建事件 / 12345 来电登记): operators and city admins type a
call in; the page parses the form and calls ``services.incident_report``, so
every refusal is the service's, shown next to its field with what was typed
kept. A hidden idempotency key makes a double submit one incident. The east's
operator cannot report into the west by address."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shanzhi.cases.models import IdempotencyKey
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Attachment, Incident, TimelineEntry
from tests.incidents.conftest import WEST_POINT

from .pages import forms

URL = "/incidents/new/"
WEST_COMMUNITY = "320505001001"
EAST_COMMUNITY = "320506001001"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\xdac\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xf7\x03AC\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")  # a red pixel (a valid PNG: photos are decoded)


def intake_page(client, user) -> str:
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def call(client, user, **fields):
    """Post the form as a browser would: the page's hidden key, a 12345 call
    about exposed rubbish at WEST_POINT, and ``fields`` (None drops a field)."""
    form = forms(intake_page(client, user))["intake-form"]
    data = {"idempotency_key": form.values["idempotency_key"], "channel": "hotline_12345",
            "category": "SJ0102", "urgency": "normal", "locate": "point",
            "lng": str(WEST_POINT["lng"]), "lat": str(WEST_POINT["lat"]),
            "description": "市民来电：西街路口有暴露垃圾", "address": "西街1号门口",
            "contact_name": "张三", "contact_phone": "13812345678", **fields}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(URL, data)


def field_error(html: str) -> list[str]:
    return re.findall(r'<p class="field-error">([^<]*)</p>', html)


def test_the_form_is_drawn_for_an_operator_with_the_channels_they_may_use(client, cast):
    html = intake_page(client, cast.town_operator)
    form = forms(html)["intake-form"]
    assert "新建事件" in html
    assert form.multipart and "photos" in form.files
    assert form.options["channel"] == ["hotline_12345", "citizen_web", "open311", "department",
                                       "grid_patrol"]
    assert form.values["channel"] == "hotline_12345"
    assert "iot" not in form.options["channel"] and "video" not in form.options["channel"]
    # subclasses only, grouped by class; or classify later
    assert form.options["category"][0] == "" and "SJ0102" in form.options["category"]
    assert "SJ01" not in form.options["category"]
    # the lowest regions of the territory, nothing of the east
    assert form.options["region"] == ["", WEST_COMMUNITY]
    assert "东社区" not in html
    assert re.fullmatch(r"[0-9a-f-]{36}", form.values["idempotency_key"])
    assert 'id="intake-map"' in html


def test_a_city_admin_may_choose_every_community_of_the_city(client, cast):
    form = forms(intake_page(client, cast.admin))["intake-form"]
    assert form.options["region"] == ["", WEST_COMMUNITY, EAST_COMMUNITY]


# a grid worker is sent to the phone (tests/web/test_mobile_pages.py)
@pytest.mark.parametrize("persona", ["handler", "viewer"])
def test_others_may_not_open_the_form(client, cast, persona):
    client.force_login(getattr(cast, persona))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"description": "x", "channel": "department"}).status_code == 403
    assert Incident.objects.count() == 0


def test_the_desk_and_the_home_page_link_the_form_for_operators_only(client, cast):
    client.force_login(cast.town_operator)
    assert f'href="{URL}"' in client.get("/incidents/").content.decode()
    assert f'href="{URL}"' in client.get("/").content.decode()
    client.force_login(cast.worker)
    assert f'href="{URL}"' not in client.get("/incidents/").content.decode()
    assert f'href="{URL}"' not in client.get("/").content.decode()


def test_a_call_with_a_point_makes_one_located_incident_and_opens_it(client, cast):
    response = call(client, cast.town_operator, urgency="urgent",
                    **{"extra.SJ0102.location_desc": "路口东北角"})
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response.url == f"/incidents/{incident.number}/"
    assert incident.channel == "hotline_12345" and incident.state == wf.REPORTED
    assert incident.category.code == "SJ0102" and incident.urgency == "urgent"
    assert incident.grid.code == cast.worker.grid_worker.grids.get().code
    assert incident.lng == pytest.approx(WEST_POINT["lng"])
    assert incident.holder.code == "320505001"  # the west town's centre
    assert incident.extra == {"location_desc": "路口东北角"}
    assert incident.contact_phone == "13812345678"
    assert TimelineEntry.objects.get(incident=incident).actor == cast.town_operator
    html = client.get(response.url).content.decode()
    assert f"已登记事件 {incident.number}" in html


def test_a_call_with_an_address_in_a_region_is_located_there(client, cast):
    response = call(client, cast.west_operator, locate="address", region=WEST_COMMUNITY,
                    lng="", lat="", category="", urgency="normal", channel="citizen_web")
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.lng is None and incident.grid is None
    assert incident.region.code == WEST_COMMUNITY and incident.address == "西街1号门口"
    assert incident.channel == "citizen_web" and incident.category is None


def test_an_address_ignores_a_point_left_in_the_form(client, cast):
    call(client, cast.town_operator, locate="address", region=WEST_COMMUNITY)
    assert Incident.objects.get().lng is None


def test_a_double_submit_makes_one_incident(client, cast):
    form = forms(intake_page(client, cast.town_operator))["intake-form"]
    key = form.values["idempotency_key"]
    first = call(client, cast.town_operator, idempotency_key=key)
    second = call(client, cast.town_operator, idempotency_key=key)
    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    assert Incident.objects.count() == 1 and IdempotencyKey.objects.count() == 1
    assert "已登记为" in client.get(second.url).content.decode()


def test_a_sent_form_changed_and_sent_again_names_the_incident_it_registered(client, cast):
    """Back after registering a call, the browser restores the form with its
    key; the text changed, the same key comes back: the page says where the
    call went, with a link, and offers what was typed as a new incident."""
    key = forms(intake_page(client, cast.town_operator))["intake-form"].values["idempotency_key"]
    first = call(client, cast.town_operator, idempotency_key=key)
    number = Incident.objects.get().number
    again = call(client, cast.town_operator, idempotency_key=key,
                 description="市民来电：东门有积水")
    html = again.content.decode()
    assert again.status_code == 200, html
    assert f'此来电已登记为 <a href="/incidents/{number}/">{number}</a>。' in html
    assert first.url == f"/incidents/{number}/"
    assert "Idempotency-Key" not in html and "idempotency" not in field_error(html)
    form = forms(html)["intake-form"]
    assert form.values["description"] == "市民来电：东门有积水"  # what was typed is kept
    assert form.values["idempotency_key"] != key  # under a new key: a new call
    assert "登记为新事件" in html
    assert Incident.objects.count() == 1
    registered = client.post(URL, {**form.values, "locate": "point"})
    assert registered.status_code == 302 and Incident.objects.count() == 2
    assert Incident.objects.latest("id").description == "市民来电：东门有积水"


def test_two_calls_with_their_own_keys_make_two_incidents(client, cast):
    call(client, cast.town_operator)
    call(client, cast.town_operator)
    assert Incident.objects.count() == 2


def test_photos_go_with_the_report(client, cast):
    photo = SimpleUploadedFile("scene.png", PNG, content_type="image/png")
    assert call(client, cast.town_operator, photos=[photo]).status_code == 302
    assert Attachment.objects.get().incident == Incident.objects.get()


def _refused(response, field_id: str, words: str) -> str:
    html = response.content.decode()
    assert response.status_code == 400, html
    assert Incident.objects.count() == 0 and IdempotencyKey.objects.count() == 0
    assert words in html
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', html), field_id
    return html


def test_a_call_without_a_description_is_refused_and_keeps_what_was_typed(client, cast):
    html = _refused(call(client, cast.town_operator, description="   "), "i-description",
                    "请检查“事件描述”")
    assert field_error(html) == ["事件描述为空。"]
    form = forms(html)["intake-form"]
    assert form.values["contact_name"] == "张三" and form.values["address"] == "西街1号门口"
    assert form.values["lng"] == str(WEST_POINT["lng"])
    assert "SJ0102" in re.search(r'<option value="SJ0102"[^>]*>', html).group(0)
    assert 'value="SJ0102" selected' in html


def test_a_region_outside_the_territory_is_refused_by_the_service(client, cast):
    html = _refused(call(client, cast.town_operator, locate="address", region=EAST_COMMUNITY),
                    "i-region", "请检查“所属村社区”")
    assert field_error(html) == [f"区划 {EAST_COMMUNITY} 不在您的辖区内。"]


def test_the_east_operator_cannot_report_into_the_west_by_address(client, cast):
    html = _refused(call(client, cast.east_operator, locate="address", region=WEST_COMMUNITY),
                    "i-region", "不在您的辖区内")
    assert "西社区" not in html


def test_a_point_outside_the_city_is_refused(client, cast):
    html = _refused(call(client, cast.town_operator, lng="121.5", lat="31.2"), "i-lng",
                    "请检查“地图上的位置”")
    assert "不在本平台服务的任何城市内" in field_error(html)[0]
    assert forms(html)["intake-form"].values["lng"] == "121.5"


def test_a_file_that_is_not_an_image_is_refused(client, cast):
    text = SimpleUploadedFile("notes.txt", b"just some text", content_type="image/png")
    response = call(client, cast.town_operator, photos=[text])
    html = response.content.decode()
    assert response.status_code == 400
    assert Incident.objects.count() == 0 and Attachment.objects.count() == 0
    assert "请检查“照片”" in html and "不是图片" in field_error(html)[0]


def test_a_time_of_the_call_too_long_ago_is_refused_and_a_recent_one_kept(client, cast):
    html = _refused(call(client, cast.town_operator, reported_at="2000-01-01T08:00"),
                    "i-reported-at", "来电时间早于 30 天前。")
    assert forms(html)["intake-form"].values["reported_at"] == "2000-01-01T08:00"
    assert _refused(call(client, cast.town_operator, reported_at="yesterday"), "i-reported-at",
                    "2026-03-01 09:30")


def test_an_operator_may_backdate_a_call_taken_offline(client, cast):
    from django.utils import timezone

    earlier = timezone.localtime() - timezone.timedelta(hours=3)
    call(client, cast.town_operator, reported_at=earlier.strftime("%Y-%m-%dT%H:%M"))
    reported = timezone.localtime(Incident.objects.get().reported_at)
    assert reported.strftime("%Y-%m-%d %H:%M") == earlier.strftime("%Y-%m-%d %H:%M")


def test_a_required_extra_field_is_asked_for_next_to_it(client, cast):
    response = call(client, cast.town_operator, category="BJ0101")
    html = response.content.decode()
    assert response.status_code == 400 and Incident.objects.count() == 0
    assert "请检查“部件状态”" in html
    assert field_error(html) == ["部件状态（component_state）为必填项。"]
