"""Two people acting on the same incident at once: exactly one wins, the other
gets a Conflict (409 with the current state), and the timeline has one new
row — never a silent overwrite. Also the plain stale-version case."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from shanzhi.accounts.services import token_create
from shanzhi.core.errors import Conflict
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, TimelineEntry
from tests.incidents.conftest import WEST_POINT, ZJJ, incident_in


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released together; each result or raised error."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, call):
        try:
            start.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # the loser's Conflict, or a failure to report
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


#: Two different actions, by two different people, valid from the same state.
PAIRS = [
    pytest.param(wf.REPORTED, ("town_operator", "accept", {}),
                 ("west_operator", "reject", {"reason": "重复上报"}), id="accept-vs-reject"),
    pytest.param(wf.REGISTERED, ("town_operator", "dispatch", {"department": ZJJ}),
                 ("west_operator", "supervise", {"note": "请尽快派遣"}),
                 id="dispatch-vs-supervise"),
    pytest.param(wf.IN_PROGRESS, ("handler", "report_result", {"result": "已清理"}),
                 ("town_operator", "supervise", {"note": "请加快"}),
                 id="report_result-vs-supervise"),
    pytest.param(wf.HANDLED, ("worker", "verify_pass", {}),
                 ("town_operator", "verify_fail", {"reason": "仍有垃圾"}),
                 id="verify_pass-vs-verify_fail"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("state", "first", "second"), PAIRS)
def test_two_people_acting_at_once_one_wins_and_the_other_gets_a_conflict(
        seeded_taxonomy, cast, state, first, second):
    incident = incident_in(cast, state)
    rows = TimelineEntry.objects.filter(incident=incident).count()

    def call(who, action, fields):
        loaded = Incident.objects.get(pk=incident.pk)  # both load the same version
        return lambda: services.ACTIONS[action](actor=getattr(cast, who), incident=loaded,
                                                **fields)

    results = at_once(call(*first), call(*second))
    won = [r for r in results if isinstance(r, Incident)]
    lost = [r for r in results if not isinstance(r, Incident)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], Conflict), lost[0]
    assert lost[0].details["state"] == won[0].state
    after = Incident.objects.get(pk=incident.pk)
    assert (after.state, after.version) == (won[0].state, incident.version + 1)
    assert TimelineEntry.objects.filter(incident=incident).count() == rows + 1
    winner = TimelineEntry.objects.filter(incident=incident).order_by("id").last()
    assert winner.action in (first[1], second[1])


@pytest.mark.django_db(transaction=True)
def test_two_api_requests_with_the_same_version_get_200_and_409(seeded_taxonomy, cast):
    incident = incident_in(cast, wf.REPORTED)
    tokens = {who: token_create(username=getattr(cast, who).username)
              for who in ("town_operator", "west_operator")}

    def post(who, action, **body):
        def send():
            return Client().post(f"/api/v1/incidents/{incident.number}/{action}",
                                 {"version": incident.version, **body},
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {tokens[who]}"})
        return send

    responses = at_once(post("town_operator", "accept"),
                        post("west_operator", "reject", reason="重复上报"))
    assert sorted(r.status_code for r in responses) == [200, 409], [
        getattr(r, "content", r) for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()
    error = next(r for r in responses if r.status_code == 409).json()["error"]
    assert error["details"]["state"] == winner["state"]
    assert error["details"]["version"] == winner["version"] == incident.version + 1
    assert TimelineEntry.objects.filter(incident=incident).count() == 2


def test_a_stale_version_is_refused_with_the_current_state_and_version(api, cast):
    incident = incident_in(cast, wf.REGISTERED)
    seen = api.get(cast.town_operator, f"/api/v1/incidents/{incident.number}")
    api.act(cast.west_operator, incident.number, "supervise", note="请尽快派遣",
            version=seen["version"])
    body = api.act(cast.town_operator, incident.number, "dispatch", expect=409,
                   department=ZJJ, version=seen["version"])
    assert body["error"]["code"] == "conflict"
    assert body["error"]["details"] == {"state": wf.REGISTERED,
                                        "version": seen["version"] + 1}
    assert Incident.objects.get(pk=incident.pk).department is None
    fresh = api.act(cast.town_operator, incident.number, "dispatch", department=ZJJ,
                    version=seen["version"] + 1)
    assert fresh["state"] == wf.DISPATCHED


def test_a_stale_page_is_refused_even_when_the_state_did_not_change(cast):
    incident = incident_in(cast, wf.IN_PROGRESS)
    page = Incident.objects.get(pk=incident.pk)
    services.incident_supervise(actor=cast.town_operator, incident=incident, note="请加快")
    with pytest.raises(Conflict) as refused:
        services.incident_report_result(actor=cast.handler, incident=page, result="已清理")
    assert refused.value.code == "conflict"
    assert refused.value.details == {"state": wf.IN_PROGRESS, "version": page.version + 1}


@pytest.mark.django_db(transaction=True)
def test_two_retries_of_one_report_at_once_make_one_incident(seeded_taxonomy, cast):
    token = token_create(username=cast.worker.username)

    def send():
        return Client().post("/api/v1/incidents",
                             {"channel": "grid_patrol", "description": "路边有暴露垃圾",
                              "category": "SJ0102", **WEST_POINT},
                             content_type="application/json",
                             headers={"Authorization": f"Bearer {token}",
                                      "Idempotency-Key": "patrol-0001"})

    responses = at_once(send, send)
    assert sorted(r.status_code for r in responses) == [200, 201], [
        getattr(r, "content", r) for r in responses]
    assert len({r.json()["number"] for r in responses}) == 1
    assert Incident.objects.count() == 1
