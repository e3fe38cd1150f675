"""The incident page: its facts, map, photos and timeline; one form per action
the user may take now, each posting to its service; a stale form answered
409 with a kind word and the incident as it is; the contact revealed only
on request and logged. Out of territory: 404 everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shanzhi.core.models import AccessLog
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Attachment, Incident
from tests.incidents.conftest import ZHZF, ZJJ, Cast, drive, incident_in, keep_memos, report

from .pages import forms

HX = {"HX-Request": "true"}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\xdac\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xf7\x03AC\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")  # a red pixel (a valid PNG: photos are decoded)
CONTACT = {"contact_name": "张三", "contact_phone": "13812345678"}


def page_of(client, user, incident: Incident, **headers) -> str:
    client.force_login(user)
    response = client.get(f"/incidents/{incident.number}/", headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def post_form(client, html: str, action: str, photo: bool = False, **fill):
    """Post the page's form of ``action`` as a browser would: its own values,
    a value for each required field left empty (the first choice of a select),
    and ``fill``."""
    form = forms(html)[action]
    data = dict(form.values)
    for name in form.required:
        if not data.get(name):
            data[name] = form.options[name][1] if name in form.options else "已核实"
    data.update(fill)
    data.pop("csrfmiddlewaretoken", None)
    if photo:
        assert "photos" in form.files and form.multipart
        data["photos"] = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    return client.post(form.action, data, headers=HX)


def test_the_page_shows_the_facts_the_map_and_the_timeline(client, cast):
    incident = incident_in(cast, wf.REGISTERED, address="西街1号", **CONTACT)
    html = page_of(client, cast.town_operator, incident)
    assert f"<h1>{incident.number}</h1>" in html
    assert "已立案" in html and "暴露垃圾" in html and "西街1号" in html
    assert "苏州市 › 虎丘区 › 西街道 › 西社区" in html
    assert "西第1网格" in html
    assert "138****5678" in html and "13812345678" not in html and "张*" in html
    config = json.loads(html.split('id="incident-map-config" type="application/json">')[1]
                        .split("</script>")[0])
    assert config["grid"] == "320505001001001"
    assert config["areaUrl"] == "/api/v1/geo/regions/320505001001/children.geojson?zoom=16"
    assert "事件上报" in html and "受理立案" in html  # the timeline
    assert "当前环节：派遣" in html


def test_the_page_offers_exactly_the_actions_available_now(client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    html = page_of(client, cast.town_operator, incident)
    offered = {name for name, form in forms(html).items() if "/act/" in form.action}
    assert offered == set(services.available_actions(actor=cast.town_operator,
                                                     incident=incident))
    assert offered == {"dispatch", "assign_down", "escalate", "supervise"}
    html = page_of(client, cast.viewer, incident)
    assert not any("/act/" in form.action for form in forms(html).values())
    assert "您当前对此事件没有可执行的操作" in html


def test_dispatch_is_prefilled_with_the_routing_suggestion_and_the_chains_departments(
        client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    form = forms(page_of(client, cast.town_operator, incident))["dispatch"]
    assert form.values["department"] == ZHZF  # the town's 综合执法局, by the category's default
    assert form.options["department"] == ["", ZHZF, "320505-CGJ", ZJJ]  # lowest level first
    assert "department" in form.required
    assert form.values["version"] == str(incident.version)


@dataclass(frozen=True)
class Case:
    """One action posted from its form: who, from which state, what follows."""

    actor: str
    state: str
    expect: str
    fill: dict
    photo: bool = False
    setup: Callable[[Cast, Incident], Incident] | None = None
    #: The incident leaves the actor's reach: back to the desk.
    gone: bool = False


def _pending(cast: Cast, incident: Incident) -> Incident:
    return services.incident_request_extension(actor=cast.handler, incident=incident,
                                               reason="材料未到", amount=2)


def _dissatisfied(cast: Cast, incident: Incident) -> Incident:
    return services.incident_callback(actor=cast.town_operator, incident=incident,
                                      satisfaction="dissatisfied")


CASES = {
    "accept": Case("town_operator", wf.REPORTED, wf.REGISTERED, {}),
    "reject": Case("town_operator", wf.REPORTED, wf.REJECTED, {"reason": "重复上报"}),
    "merge": Case("town_operator", wf.REPORTED, wf.REJECTED, {}),
    "self_resolve": Case("worker", wf.REPORTED, wf.CLOSED, {"result": "已当场清理"}, photo=True),
    "assign_down": Case("town_operator", wf.REPORTED, wf.REPORTED, {}),
    "dispatch": Case("town_operator", wf.REGISTERED, wf.DISPATCHED, {"department": ZJJ}),
    "escalate": Case("town_operator", wf.REGISTERED, wf.REGISTERED, {"reason": "涉及多部门"}),
    "sign": Case("handler", wf.DISPATCHED, wf.IN_PROGRESS, {}),
    "return": Case("handler", wf.DISPATCHED, wf.REGISTERED, {"reason": "不属本部门职责"},
                   gone=True),
    "report_result": Case("handler", wf.IN_PROGRESS, wf.HANDLED, {"result": "已清运"},
                          photo=True),
    "verify_pass": Case("worker", wf.HANDLED, wf.CLOSED, {}),
    "verify_fail": Case("town_operator", wf.HANDLED, wf.IN_PROGRESS, {"reason": "仍有垃圾"},
                        photo=True),
    "request_extension": Case("handler", wf.IN_PROGRESS, wf.IN_PROGRESS,
                              {"reason": "需协调物业", "amount": "2",
                               "unit": "working_days"}),
    "approve_extension": Case("town_operator", wf.IN_PROGRESS, wf.IN_PROGRESS, {},
                              setup=_pending),
    "refuse_extension": Case("town_operator", wf.IN_PROGRESS, wf.IN_PROGRESS,
                             {"reason": "时限充足"}, setup=_pending),
    "supervise": Case("west_operator", wf.DISPATCHED, wf.DISPATCHED,
                      {"note": "请加快办理", "level": "red"}),
    "callback": Case("town_operator", wf.CLOSED, wf.CLOSED, {"satisfaction": "satisfied"}),
    "reopen": Case("town_operator", wf.CLOSED, wf.REGISTERED, {"reason": "群众不满意"},
                   setup=_dissatisfied),
}


def test_every_action_of_the_table_has_a_case_here():
    assert set(CASES) == {t.action for t in wf.INCIDENT.transitions}


@pytest.mark.parametrize("action", sorted(CASES))
def test_every_action_form_posts_to_its_service(client, cast, action):
    case = CASES[action]
    incident = incident_in(cast, case.state, **CONTACT)
    if case.setup:
        incident = case.setup(cast, incident)
    fill = dict(case.fill)
    if action == "merge":
        fill["original"] = report(cast).number
    actor = getattr(cast, case.actor)
    html = page_of(client, actor, incident)
    response = post_form(client, html, action, photo=case.photo, **fill)
    assert response.status_code == (204 if case.gone else 200), response.content.decode()[:999]
    incident.refresh_from_db()
    assert incident.state == case.expect
    last = incident.timeline.order_by("-at", "-id").first()
    assert (last.action, last.actor) == (action, actor)
    body = response.content.decode()
    if not case.gone:
        assert body.startswith('<div id="incident-panel"')
        assert 'class="outcome outcome-success"' in body
    if case.photo:
        assert Attachment.objects.filter(incident=incident, entry=last).count() == 1


def test_a_stale_form_gets_a_kind_409_and_the_incident_as_it_is_now(client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    html = page_of(client, cast.town_operator, incident)
    services.incident_dispatch(actor=cast.west_operator, incident=incident, department=ZJJ)
    response = post_form(client, html, "dispatch", department=ZHZF)
    assert response.status_code == 409
    body = response.content.decode()
    assert "此事件已被他人处理" in body
    assert "已派遣" in body and "虎丘区住建局" in body  # refreshed
    assert "dispatch" not in forms(body)
    assert Incident.objects.get(pk=incident.pk).department.code == ZJJ


def test_a_form_older_than_a_change_that_kept_the_state_is_refused_too(client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    html = page_of(client, cast.town_operator, incident)
    services.incident_supervise(actor=cast.west_operator, incident=incident, note="快")
    response = post_form(client, html, "dispatch", department=ZJJ)
    assert response.status_code == 409
    assert "此事件已被他人处理" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).state == wf.REGISTERED
    # the refreshed page carries the new version: now it goes through
    response = post_form(client, response.content.decode(), "dispatch", department=ZJJ)
    assert response.status_code == 200


def test_a_missing_required_field_is_explained_and_the_form_stays_open(client, cast):
    incident = incident_in(cast, wf.DISPATCHED)
    html = page_of(client, cast.handler, incident)
    response = post_form(client, html, "return", reason=" ")
    assert response.status_code == 400
    body = response.content.decode()
    assert "请检查“原因”" in body
    assert 'data-open="return"' in body
    assert Incident.objects.get(pk=incident.pk).state == wf.DISPATCHED


def test_a_bad_number_is_explained(client, cast):
    incident = incident_in(cast, wf.IN_PROGRESS)
    html = page_of(client, cast.handler, incident)
    response = post_form(client, html, "request_extension", reason="等材料", amount="abc")
    assert response.status_code == 400
    assert "延长时限" in response.content.decode()


def test_an_action_the_user_may_not_take_is_403(client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    client.force_login(cast.viewer)
    response = client.post(f"/incidents/{incident.number}/act/dispatch/",
                           {"department": ZJJ}, headers=HX)
    assert response.status_code == 403
    assert "您无权对此事件执行该操作" in response.content.decode()


def test_an_unknown_action_is_404(client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    client.force_login(cast.town_operator)
    assert client.post(f"/incidents/{incident.number}/act/delete/", headers=HX
                       ).status_code == 404
    assert client.get(f"/incidents/{incident.number}/act/accept/").status_code == 405


def test_without_htmx_an_action_redirects_back_with_a_message(client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    client.force_login(cast.town_operator)
    response = client.post(f"/incidents/{incident.number}/act/dispatch/",
                           {"department": ZJJ, "version": incident.version}, follow=True)
    assert response.redirect_chain == [(f"/incidents/{incident.number}/", 302)]
    assert "已派遣。" in response.content.decode()


def test_returning_it_takes_the_handler_back_to_the_desk(client, cast):
    incident = incident_in(cast, wf.DISPATCHED)
    html = page_of(client, cast.handler, incident)
    response = post_form(client, html, "return", reason="不属本部门职责")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/desk/"
    assert "已退单至派遣中心" in client.get("/desk/").content.decode()
    assert client.get(f"/incidents/{incident.number}/").status_code == 404


def test_out_of_territory_everything_is_404(client, cast):
    incident = incident_in(cast, wf.HANDLED, **CONTACT)
    client.force_login(cast.east_operator)
    number = incident.number
    assert client.get(f"/incidents/{number}/").status_code == 404
    assert client.get(f"/incidents/{incident.pk}/").status_code == 404
    assert client.post(f"/incidents/{number}/act/verify_pass/", headers=HX).status_code == 404
    assert client.post(f"/incidents/{number}/contact/", headers=HX).status_code == 404
    client.force_login(cast.cgj_handler)  # another department
    assert client.get(f"/incidents/{number}/").status_code == 404
    assert Incident.objects.get(pk=incident.pk).state == wf.HANDLED


def test_photos_are_shown_through_the_scoped_attachment_endpoint(client, cast):
    incident = drive(cast, report(cast), wf.IN_PROGRESS)
    services.incident_report_result(
        actor=cast.handler, incident=incident, result="已清运",
        photos=[SimpleUploadedFile("p.png", PNG, content_type="image/png")])
    photo = Attachment.objects.get(incident=incident)
    url = f"/api/v1/incidents/{incident.number}/attachments/{photo.pk}"
    html = page_of(client, cast.town_operator, incident)
    assert html.count(f'src="{url}"') == 2  # among the photos and on its timeline row
    assert client.get(url).status_code == 200
    client.force_login(cast.east_operator)
    assert client.get(url).status_code == 404


def test_an_operator_reveals_the_contact_on_request_and_it_is_logged(client, cast):
    incident = incident_in(cast, wf.REGISTERED, **CONTACT)
    html = page_of(client, cast.town_operator, incident)
    assert "查看完整信息" in html and "13812345678" not in html
    assert AccessLog.objects.count() == 0
    response = client.post(f"/incidents/{incident.number}/contact/", headers=HX)
    body = response.content.decode()
    assert "13812345678" in body and "张三" in body and "本次查看已记录" in body
    log = AccessLog.objects.get()
    assert (log.user, log.object_id, log.fields) == (
        cast.town_operator, str(incident.pk), "contact_name,contact_phone")


def test_a_handler_sees_the_contact_masked_and_cannot_reveal_it(client, cast):
    incident = incident_in(cast, wf.DISPATCHED, **CONTACT)
    html = page_of(client, cast.handler, incident)
    assert "查看完整信息" not in html
    body = client.post(f"/incidents/{incident.number}/contact/", headers=HX).content.decode()
    assert "13812345678" not in body and "138****5678" in body
    assert AccessLog.objects.count() == 0


def test_the_page_speaks_english_when_asked(client, cast):
    incident = incident_in(cast, wf.REGISTERED)
    html = page_of(client, cast.town_operator, incident, **{"Accept-Language": "en"})
    assert "What you can do now" in html and "Dispatch" in html and "Registered" in html


def test_an_incident_without_coordinates_says_where_it_is_instead_of_a_map(client, cast):
    incident, _ = services.incident_report(actor=cast.town_operator, channel="hotline_12345",
                                           description="西街道某小区噪音", region="320505001",
                                           address="西街道幸福小区")
    html = page_of(client, cast.town_operator, incident)
    assert "incident-map-config" not in html
    assert "无坐标，按地址定位" in html and "西街道幸福小区" in html


def test_the_page_costs_the_same_queries_however_long_its_timeline(client, cast, monkeypatch):
    keep_memos(monkeypatch)  # no memo looks again between the two pages, however slow
    short, long = incident_in(cast, wf.REGISTERED), incident_in(cast, wf.REGISTERED)
    for i in range(5):
        long = services.incident_supervise(actor=cast.west_operator, incident=long,
                                           note=f"第{i}次督办")
    client.force_login(cast.town_operator)
    client.get(f"/incidents/{short.number}/")  # warm the caches
    counts = []
    for incident in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/incidents/{incident.number}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
