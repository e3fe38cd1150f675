"""The SLA sweep (incidents/sla.sweep): yellow then red, one timeline row and
one round of notifications per incident, the category's on_overdue rule,
idempotent when run again, safe with two workers at once."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from shanzhi.cases.models import Notification
from shanzhi.cases.sla import sweep
from shanzhi.core.errors import Conflict
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, IncidentStage, TimelineEntry
from tests.incidents.conftest import at, drive, report

TUESDAY = at(2026, 3, 10, 10, 0)     # reported now: accept warns 10:48, is due 11:00
WARN_TIME = at(2026, 3, 10, 10, 50)
LATE = at(2026, 3, 10, 11, 1)
NOTHING = {"warned": 0, "overdue": 0, "supervised": 0, "escalated": 0}


def reported_on_tuesday(cast, **fields) -> Incident:
    with time_machine.travel(TUESDAY, tick=False):
        return report(cast, **fields)


def rows(incident: Incident, action: str) -> list[TimelineEntry]:
    return list(TimelineEntry.objects.filter(incident=incident, action=action))


def told(user, kind: str) -> int:
    return Notification.objects.filter(user=user, kind=kind).count()


def test_the_sweep_warns_at_80_percent_then_marks_overdue_once_each(cast):
    incident = reported_on_tuesday(cast)

    assert sweep(now=WARN_TIME) == {**NOTHING, "warned": 1}
    assert sweep(now=at(2026, 3, 10, 10, 55)) == NOTHING
    incident.refresh_from_db()
    assert incident.warned and not incident.overdue
    (warn,) = rows(incident, "warn")
    assert (warn.actor, warn.from_state, warn.to_state) == (None, "reported", "reported")
    assert warn.data["stage"] == "accept" and warn.at == WARN_TIME
    assert told(cast.town_operator, "warn") == 1

    assert sweep(now=LATE) == {**NOTHING, "overdue": 1}
    assert sweep(now=at(2026, 3, 10, 11, 30)) == NOTHING
    incident.refresh_from_db()
    assert incident.overdue and incident.state == wf.REPORTED
    (overdue,) = rows(incident, "overdue")
    assert overdue.data["rule"] == "notify" and overdue.data["stage"] == "accept"
    assert IncidentStage.objects.get(incident=incident, stage="accept").overdue
    assert told(cast.town_operator, "overdue") == 1
    assert len(rows(incident, "warn")) == 1


def test_a_first_sweep_after_the_deadline_writes_only_the_overdue_row(cast):
    incident = reported_on_tuesday(cast)
    assert sweep(now=LATE)["overdue"] == 1
    assert rows(incident, "warn") == [] and len(rows(incident, "overdue")) == 1


def test_the_department_is_told_when_its_stage_runs_late(cast):
    with time_machine.travel(TUESDAY, tick=False):
        incident = drive(cast, report(cast), wf.IN_PROGRESS)  # handle: due 15:30
    assert sweep(now=at(2026, 3, 10, 15, 31))["overdue"] == 1
    assert told(cast.handler, "overdue") == 1
    assert told(cast.town_operator, "overdue") == 0
    assert rows(incident, "overdue")[0].data["stage"] == "handle"


def test_a_stage_that_moved_on_is_not_marked(cast):
    incident = reported_on_tuesday(cast)
    with time_machine.travel(at(2026, 3, 10, 10, 59), tick=False):
        incident = services.incident_accept(actor=cast.town_operator, incident=incident)
    assert sweep(now=LATE) == NOTHING  # the dispatch stage runs until 11:59
    incident.refresh_from_db()
    assert not incident.overdue and rows(incident, "overdue") == []
    assert not IncidentStage.objects.get(incident=incident, stage="accept").overdue


def test_an_approved_extension_gives_the_sweep_a_new_deadline_to_watch(cast):
    with time_machine.travel(TUESDAY, tick=False):
        incident = drive(cast, report(cast), wf.IN_PROGRESS)  # handle: due 15:30
        incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                       reason="需要调车", amount=1,
                                                       unit="working_hours")
    assert sweep(now=at(2026, 3, 10, 15, 31))["overdue"] == 1
    with time_machine.travel(at(2026, 3, 10, 15, 40), tick=False):
        incident = services.incident_approve_extension(actor=cast.town_operator,
                                                       incident=Incident.objects.get(
                                                           pk=incident.pk))
    assert not incident.overdue and incident.due_at == at(2026, 3, 10, 16, 30)
    assert sweep(now=at(2026, 3, 10, 16, 0)) == {**NOTHING, "warned": 1}  # 80 % of 5 h
    assert sweep(now=at(2026, 3, 10, 16, 31))["overdue"] == 1
    assert [dt.datetime.fromisoformat(e.data["due_at"]) for e in rows(incident, "overdue")] == [
        at(2026, 3, 10, 15, 30), at(2026, 3, 10, 16, 30)]


def test_supervise_on_overdue_counts_a_supervision_and_tells_the_centre_above(cast):
    incident = reported_on_tuesday(cast, category="SJ0301", description="夜间施工扰民")
    assert sweep(now=LATE) == {**NOTHING, "overdue": 1, "supervised": 1}
    incident.refresh_from_db()
    assert incident.supervise_count == 1 and incident.holder == cast.town_operator.region
    assert rows(incident, "overdue")[0].data["supervised"] is True
    assert told(cast.town_operator, "overdue") == told(cast.west_operator, "overdue") == 1


def test_escalate_on_overdue_moves_the_holder_up_while_the_centre_still_has_it(cast,
                                                                               territory):
    incident = reported_on_tuesday(cast, category="SJ0501", description="路面积水")
    version = incident.version
    assert sweep(now=LATE) == {**NOTHING, "overdue": 1, "escalated": 1}
    incident.refresh_from_db()
    assert incident.holder == territory.west and incident.escalate_count == 1
    assert incident.version == version + 1
    assert rows(incident, "overdue")[0].data["escalated_to"] == territory.west.code
    assert told(cast.west_operator, "overdue") == 1


def test_the_centre_above_receives_an_escalated_incident_with_a_fresh_deadline(cast):
    incident = reported_on_tuesday(cast, category="SJ0501", description="路面积水")
    sweep(now=LATE)
    incident.refresh_from_db()
    late, fresh = IncidentStage.objects.filter(incident=incident).order_by("id")
    assert (late.stage, late.overdue, late.ended_at) == ("accept", True, LATE)
    assert (fresh.stage, fresh.started_at, fresh.ended_at) == ("accept", LATE, None)
    assert fresh.due_at > LATE and incident.due_at == fresh.due_at
    assert not incident.overdue and not incident.warned
    assert sweep(now=LATE + dt.timedelta(minutes=5)) == NOTHING  # not red again at once


def test_escalate_on_overdue_leaves_an_incident_with_a_department_where_it_is(cast,
                                                                            territory):
    with time_machine.travel(TUESDAY, tick=False):
        incident = drive(cast, report(cast, category="SJ0501", description="路面积水"),
                         wf.DISPATCHED)  # sign: 1 working hour
    assert sweep(now=at(2026, 3, 10, 11, 5)) == {**NOTHING, "overdue": 1}
    incident.refresh_from_db()
    assert incident.holder == territory.west_town and incident.escalate_count == 0
    assert told(cast.handler, "overdue") == 1


def test_a_town_operator_acting_on_what_the_sweep_escalated_gets_a_conflict(cast):
    incident = reported_on_tuesday(cast, category="SJ0501", description="路面积水")
    seen = Incident.objects.get(pk=incident.pk)  # the town centre's page, loaded before
    sweep(now=LATE)
    with pytest.raises(Conflict):
        services.incident_accept(actor=cast.town_operator, incident=seen)
    assert Incident.objects.get(pk=incident.pk).state == wf.REPORTED


def test_the_worker_command_runs_one_sweep(cast):
    reported_on_tuesday(cast)
    out = StringIO()
    with time_machine.travel(LATE, tick=False):
        call_command("worker", "--once", stdout=out)
    assert "overdue 1" in out.getvalue()
    assert TimelineEntry.objects.filter(action="overdue").count() == 1


# ---------------------------------------------------------------- two workers

@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_mark_each_incident_exactly_once(seeded_taxonomy, cast):
    with time_machine.travel(TUESDAY, tick=False):
        incidents = [report(cast, description=f"暴露垃圾 {i}") for i in range(60)]
    start = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker():
        try:
            start.wait(timeout=10)
            results.append(sweep(now=at(2026, 3, 10, 12, 0), chunk=7))
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(results) == 2
    assert results[0]["overdue"] + results[1]["overdue"] == 60
    per_incident = dict(TimelineEntry.objects.filter(action="overdue").values_list("incident")
                        .annotate(n=Count("id")).values_list("incident", "n"))
    assert per_incident == {incident.pk: 1 for incident in incidents}
    assert told(cast.town_operator, "overdue") == 60
    assert Incident.objects.filter(overdue=True).count() == 60
