"""The demo's history: incidents made by the real services over simulated days,
with the channel mix, the daily rhythm, and timelines the workflow allows."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict

import pytest
from django.db import transaction
from django.utils import timezone
from shapely.geometry import box

from shanzhi.accounts.models import Department, GridWorker, Role
from shanzhi.cases.models import Notification
from shanzhi.demo.history import build_history
from shanzhi.geo.index import reset_index
from shanzhi.geo.models import Level
from shanzhi.geo.services import NewNode, regions_add
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, IncidentStage, TimelineEntry
from tests.conftest import _square_family

pytestmark = pytest.mark.django_db

#: A Thursday afternoon; ten days back covers a weekend.
END = dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC)
SWEEP_ACTIONS = {"warn", "overdue"}
KINDS = {"city": ["CGJ", "ZJJ", "STHJJ", "GAJ", "SCJGJ", "YJGLJ", "SWJ", "MZJ"],
         "district": ["CGJ", "ZJJ", "STHJJ", "SCJGJ", "YJGLJ", "SFJ"],
         "town": ["ZHZF", "SHSY"]}


def _small_city():
    """The shared test territory (tests/conftest.py) with the demo's department
    kinds at every level: two districts, a town each, four grids each."""
    (city,) = regions_add(level=Level.CITY, nodes=[NewNode(
        code="320500", name="苏州市", geometry=box(120.0, 31.0, 120.04, 31.02))])
    west, east = regions_add(level=Level.DISTRICT, nodes=[
        NewNode(code="320505", name="虎丘区", geometry=box(120.0, 31.0, 120.02, 31.02),
                parent=city),
        NewNode(code="320506", name="吴中区", geometry=box(120.02, 31.0, 120.04, 31.02),
                parent=city)])
    west_town, _, _ = _square_family(west, "320505001", 120.0, "西")
    east_town, _, _ = _square_family(east, "320506001", 120.02, "东")
    for region in (city, west, east, west_town, east_town):
        for kind in KINDS[region.level]:
            Department.objects.create(code=f"{region.code}-{kind}", region=region, kind=kind,
                                      name=f"{region.name}{kind}")
    reset_index()


@pytest.fixture(scope="module")
def history(django_db_setup, django_db_blocker):
    """300 incidents over ten days, built once for the module and rolled back after."""
    with django_db_blocker.unblock(), transaction.atomic():
        _small_city()
        yield build_history(days=10, incidents=300, seed=2026, end=END,
                            progress=lambda m: None)
        transaction.set_rollback(True)
    reset_index()


def _timelines() -> dict[int, list[TimelineEntry]]:
    out: dict[int, list[TimelineEntry]] = {}
    for entry in TimelineEntry.objects.select_related("incident", "actor__region").order_by(
            "incident", "at", "id"):
        out.setdefault(entry.incident_id, []).append(entry)
    return out


def test_it_makes_the_incidents_through_the_services_without_a_refusal(history):
    assert history.incidents == Incident.objects.count() == 300
    assert not history.errors
    assert TimelineEntry.objects.filter(action="report").count() == 300
    assert Notification.objects.exists()


def test_the_channel_mix_is_mostly_hotline_and_patrol(history):
    channels = Counter(Incident.objects.values_list("channel", flat=True))
    assert 0.35 <= channels["hotline_12345"] / 300 <= 0.55
    assert 0.25 <= channels["grid_patrol"] / 300 <= 0.45
    assert len(channels) >= 5


def test_the_states_are_mostly_closed_with_recent_ones_still_open(history):
    states = Counter(Incident.objects.values_list("state", flat=True))
    assert states.most_common(1)[0][0] == wf.CLOSED
    assert sum(states[s] for s in wf.OPEN_STATES) >= 15
    assert states[wf.REJECTED] <= 30
    oldest_open = Incident.objects.filter(state__in=wf.OPEN_STATES).order_by("reported_at")
    assert oldest_open.first().reported_at > END - dt.timedelta(days=10)
    newest = Incident.objects.order_by("-reported_at").first()
    assert newest.state in wf.OPEN_STATES or newest.self_resolved


def test_every_timeline_follows_the_workflow_table(history):
    timelines = _timelines()
    incidents = {i.pk: i for i in Incident.objects.all()}
    assert set(timelines) == set(incidents)
    for pk, entries in timelines.items():
        first = entries[0]
        assert (first.action, first.from_state, first.to_state) == ("report", "", wf.REPORTED)
        for before, entry in itertools.pairwise(entries):
            assert entry.at >= before.at
            assert entry.from_state == before.to_state, (pk, before.action, entry.action)
            if entry.action in SWEEP_ACTIONS:
                assert entry.to_state == entry.from_state
                continue
            transition = wf.INCIDENT.transition(entry.action)
            assert entry.from_state in transition.sources, (pk, entry.action)
            assert entry.to_state == transition.leads_to(entry.from_state)
        assert entries[-1].to_state == incidents[pk].state


def test_people_act_only_where_they_serve(history):
    grids_of = defaultdict(set)
    for user_id, grid_id in GridWorker.grids.through.objects.values_list("gridworker__user_id",
                                                                         "grid_id"):
        grids_of[user_id].add(grid_id)
    departments = {e.pk: e.department_id for e in Incident.objects.all()}
    for entries in _timelines().values():
        for entry in entries:
            actor, incident = entry.actor, entry.incident
            if actor is None or entry.action == "report":
                continue
            if actor.role == Role.OPERATOR:
                assert incident.path.startswith(actor.region.path)
            elif actor.role == Role.GRID_WORKER:
                assert incident.grid_id in grids_of[actor.pk]
            else:
                assert actor.role == Role.HANDLER and actor.department_id
    assert departments


def test_some_are_overdue_and_the_sweep_marked_them(history):
    assert Incident.objects.filter(state__in=wf.OPEN_STATES, overdue=True).exists()
    assert TimelineEntry.objects.filter(action="overdue").exists()
    assert TimelineEntry.objects.filter(action="warn").exists()
    assert IncidentStage.objects.filter(overdue=True, ended_at__isnull=False).exists()
    assert history.overdue_open == Incident.objects.filter(state__in=wf.OPEN_STATES,
                                                           overdue=True).count()


def test_grid_workers_resolve_a_good_share_of_their_patrol_cases_on_the_spot(history):
    patrol = Incident.objects.filter(channel="grid_patrol")
    share = patrol.filter(self_resolved=True).count() / patrol.count()
    assert 0.25 <= share <= 0.55
    assert not Incident.objects.filter(self_resolved=True).exclude(channel="grid_patrol")


def test_the_later_steps_happen_too(history):
    actions = set(TimelineEntry.objects.values_list("action", flat=True))
    assert {"accept", "dispatch", "sign", "report_result", "verify_pass", "callback",
            "self_resolve", "return"} <= actions
    assert Incident.objects.filter(satisfaction__isnull=False).exists()


def test_more_reports_come_in_at_ten_in_the_morning_than_at_three_at_night(history):
    hours = Counter(timezone.localtime(t).hour
                    for t in Incident.objects.values_list("reported_at", flat=True))
    assert hours[10] > 3 * max(hours[3], 1)
    assert sum(hours[h] for h in range(9, 18)) > sum(hours.values()) / 2


def _signature() -> list[tuple]:
    out = []
    timelines = _timelines()
    for incident in Incident.objects.select_related("category", "grid").order_by("reported_at",
                                                                                 "id"):
        out.append((incident.channel, incident.category.code if incident.category else None,
                    incident.grid.code if incident.grid else None, incident.reported_at,
                    incident.state, incident.description,
                    tuple((e.action, e.from_state, e.to_state, e.at)
                          for e in timelines[incident.pk])))
    return out


def _forget_incidents() -> None:
    Notification.objects.all().delete()
    Incident.objects.update(merged_into=None)
    Incident.objects.all().delete()


def test_the_same_seed_makes_the_same_history(history):
    end = END - dt.timedelta(days=1)
    runs = []
    for seed in (7, 7, 8):
        _forget_incidents()
        build_history(days=2, incidents=40, seed=seed, end=end, progress=lambda m: None)
        runs.append(_signature())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
