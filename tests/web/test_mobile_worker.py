"""网格通's pages: my day, my grids, the report page and the phone incident
page show the worker's own grids and tasks only; the out-of-territory
persona and a neighbouring worker see none of them."""

from __future__ import annotations

import pytest
import time_machine

from shanzhi.accounts.models import Role
from shanzhi.accounts.services import user_create
from shanzhi.incidents import workflow as wf
from tests.conftest import PASSWORD
from tests.incidents.conftest import at, incident_in

pytestmark = pytest.mark.django_db

NOW = at(2026, 3, 10, 10)  # a Tuesday, in office hours


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_my_grids_are_mine_only(client, cast, territory):
    client.force_login(cast.worker)
    data = client.get("/m/grids.geojson").json()
    assert [f["properties"]["code"] for f in data["features"]] == [territory.west_grids[0].code]
    assert data["features"][0]["geometry"]["type"] == "Polygon"


def test_a_worker_of_two_grids_gets_both_and_no_other(client, cast, territory):
    both = user_create(username="full", password=PASSWORD, role=Role.GRID_WORKER,
                       grid_codes=[g.code for g in territory.west_grids[:2]])
    client.force_login(both)
    codes = {f["properties"]["code"] for f in client.get("/m/grids.geojson").json()["features"]}
    assert codes == {g.code for g in territory.west_grids[:2]}


@pytest.mark.parametrize("name", ["east_operator", "west_operator", "viewer", "handler"])
def test_nobody_else_downloads_grids(client, cast, name):
    client.force_login(getattr(cast, name))
    assert client.get("/m/grids.geojson").json()["features"] == []


def test_my_day_lists_what_waits_in_my_grid(client, cast):
    to_verify = incident_in(cast, wf.HANDLED)
    to_resolve = incident_in(cast, wf.REPORTED)
    client.force_login(cast.worker)
    response = client.get("/m/")
    html = response.content.decode()
    assert f"/m/incidents/{to_verify.number}/" in html
    assert f"/m/incidents/{to_resolve.number}/" in html
    counts = response.context["counts"]
    assert counts["verify"] == 1 and counts["resolve"] == 1


def test_a_neighbouring_worker_sees_none_of_my_tasks(client, cast):
    mine = incident_in(cast, wf.HANDLED)
    client.force_login(cast.neighbour_worker)
    html = client.get("/m/").content.decode()
    assert mine.number not in html
    assert client.get(f"/m/incidents/{mine.number}/").status_code == 404


def test_the_out_of_territory_operator_sees_no_incident(client, cast):
    mine = incident_in(cast, wf.HANDLED)
    client.force_login(cast.east_operator)
    assert client.get(f"/m/incidents/{mine.number}/").status_code == 404


def test_the_phone_incident_page_offers_verification_as_api_forms(client, cast):
    handled = incident_in(cast, wf.HANDLED)
    client.force_login(cast.worker)
    html = client.get(f"/m/incidents/{handled.number}/").content.decode()
    assert f'action="/api/v1/incidents/{handled.number}/verify_pass"' in html
    assert f'action="/api/v1/incidents/{handled.number}/verify_fail"' in html
    assert 'name="version"' in html and "data-outbox" in html
    assert 'capture="environment"' in html  # verify_fail takes photos


def test_a_report_in_my_grid_offers_resolving_on_the_spot(client, cast):
    reported = incident_in(cast, wf.REPORTED)
    client.force_login(cast.worker)
    html = client.get(f"/m/incidents/{reported.number}/").content.decode()
    assert f'action="/api/v1/incidents/{reported.number}/self_resolve"' in html
    assert 'name="result"' in html and 'name="photos"' in html


def test_the_report_page_lists_my_most_used_category_first(client, cast):
    incident_in(cast, wf.REPORTED, category="SJ0404")
    incident_in(cast, wf.REPORTED, category="SJ0404")
    client.force_login(cast.worker)
    response = client.get("/m/report/")
    assert response.context["catalogue"]["top"][0] == "SJ0404"
    codes = [c["code"] for c in response.context["catalogue"]["items"]]
    assert "SJ0102" in codes and "SJ01" not in codes  # only subclasses are chosen
    assert response.context["report_config"]["communities"] == [
        {"code": cast.worker.grid_worker.grids.get().community.code,
         "name": cast.worker.grid_worker.grids.get().community.name}]


def test_the_phone_pages_fit_a_strict_csp(client, cast):
    client.force_login(cast.worker)
    for path in ("/m/", "/m/report/", "/m/patrol/", "/m/outbox/"):
        html = client.get(path).content.decode()
        assert "<script>" not in html and " style=" not in html and "onclick" not in html
