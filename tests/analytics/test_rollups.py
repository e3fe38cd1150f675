"""The rollups equal the naive aggregate: a random mix of every service
(reports on several days, accepts with and without a category, rejects,
merges, self-resolutions, dispatches, returns, escalations, results,
verifications, call-backs, reopens) and overdue sweeps in between; then every
rollup row and every command-centre figure is compared with a GROUP BY over
the incidents — and ``shanzhi analytics rebuild`` gives the same rows."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections import defaultdict
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from shanzhi.accounts.scope import Scope
from shanzhi.analytics import naive, selectors
from shanzhi.analytics.models import DayTally, MixTally, OpenTally
from shanzhi.analytics.rollups import DAY_COUNTERS, OPEN_COUNTERS, areas_of
from shanzhi.cases.sla import sweep
from shanzhi.core.errors import DomainError
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import EAST_POINT, WEST_POINT, ZJJ, at

desk = incident_fixtures.desk
cast = incident_fixtures.cast
_fresh_calendar = incident_fixtures._fresh_calendar

START = at(2026, 3, 2, 9, 0)   # a Monday
CATEGORIES = ["SJ0102", "SJ0104", "SJ0301", "SJ0303", None]
SATISFACTIONS = ["satisfied", "basically_satisfied", "dissatisfied"]


def table(model, key: tuple[str, ...], counters: tuple[str, ...]) -> dict:
    return {tuple(r[k] for k in key): tuple(r[c] for c in counters)
            for r in model.objects.values(*key, *counters)
            if any(r[c] for c in counters)}


def rollup_tables() -> tuple[dict, dict, dict]:
    return (table(DayTally, ("day", "region_id", "path"), DAY_COUNTERS),
            table(MixTally, ("day", "depth", "area_id", "path", "category_key", "channel"),
                  ("reported",)),
            table(OpenTally, ("region_id", "grid_key", "path"), OPEN_COUNTERS))


def naive_tables() -> tuple[dict, dict, dict]:
    every = Incident.objects.all()
    first, last = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    days = {(r["day"], r["region_id"], r["path"]): tuple(r[c] for c in DAY_COUNTERS)
            for r in naive.days(every, first, last, by=("day", "region_id", "path"))}
    mix: dict = defaultdict(int)
    for r in (naive.with_day(every).order_by().values("day", "path", "category_id", "channel")
              .annotate(**{"n": naive.Count("id")})):
        for area_id, path, depth in areas_of(r["path"]):
            mix[(r["day"], depth, area_id, path, r["category_id"] or 0, r["channel"])] += r["n"]
    opened = {(r["region_id"], r["grid_id"] or 0, r["path"]): tuple(r[c] for c in OPEN_COUNTERS)
              for r in naive.open_counts(every, by=("region_id", "grid_id", "path"))}
    return days, {k: (n,) for k, n in mix.items() if n}, opened


class Mix:
    """Drives random services; every refused action (a role, a guard) is skipped."""

    def __init__(self, cast, seed: int):
        self.cast, self.rng, self.now = cast, random.Random(seed), START
        self.incidents: list[Incident] = []

    def tick(self) -> None:
        self.now += dt.timedelta(minutes=self.rng.choice([7, 25, 50, 90, 240, 900]))

    def report(self) -> None:
        c, rng = self.cast, self.rng
        west = rng.random() < 0.75
        point = WEST_POINT if west else EAST_POINT
        if west and rng.random() < 0.3:
            actor, channel = c.worker, "grid_patrol"
        else:
            actor = c.town_operator if west else c.east_operator
            channel = rng.choice(["hotline_12345", "citizen_web", "grid_patrol"])
        back = dt.timedelta(days=rng.choice([0, 0, 1, 3, 9, 20]), hours=rng.randint(0, 5))
        reported = self.now - back if actor.role == "operator" else None
        incident, _ = services.incident_report(
            actor=actor, channel=channel, description="随机事件", category=rng.choice(CATEGORIES),
            reported_at=reported, **point)
        self.incidents.append(incident)

    def act(self) -> None:
        c, rng = self.cast, self.rng
        incident = rng.choice(self.incidents)
        incident = Incident.objects.select_related("holder", "department", "rules", "category",
                                                   "grid", "region").get(pk=incident.pk)
        west = incident.path.startswith(self.cast.west_operator.region.path)
        op = c.town_operator if west else c.east_operator
        s, state = services, incident.state
        choices = {
            wf.REPORTED: [
                lambda: s.incident_accept(actor=op, incident=incident,
                                          category=rng.choice(CATEGORIES[:-1])),
                lambda: s.incident_accept(actor=op, incident=incident),
                lambda: s.incident_reject(actor=op, incident=incident, reason="无效"),
                lambda: s.incident_merge(actor=op, incident=incident,
                                         original=rng.choice(self.incidents).number),
                lambda: s.incident_self_resolve(actor=c.worker, incident=incident,
                                                result="已现场处置")],
            wf.REGISTERED: [
                lambda: s.incident_dispatch(actor=op, incident=incident, department=ZJJ),
                lambda: s.incident_dispatch(actor=op, incident=incident, department=ZJJ),
                lambda: s.incident_escalate(actor=op, incident=incident, reason="需上级协调")],
            wf.DISPATCHED: [
                lambda: s.incident_sign(actor=c.handler, incident=incident),
                lambda: s.incident_sign(actor=c.handler, incident=incident),
                lambda: s.incident_return(actor=c.handler, incident=incident, reason="非本部门")],
            wf.IN_PROGRESS: [
                lambda: s.incident_report_result(actor=c.handler, incident=incident,
                                                 result="已处置"),
                lambda: s.incident_supervise(actor=op, incident=incident, note="请加快")],
            wf.HANDLED: [
                lambda: s.incident_verify_pass(actor=op, incident=incident),
                lambda: s.incident_verify_pass(actor=op, incident=incident),
                lambda: s.incident_verify_fail(actor=op, incident=incident, reason="未清理干净")],
            wf.CLOSED: [
                lambda: s.incident_callback(actor=op, incident=incident,
                                            satisfaction=rng.choice(SATISFACTIONS)),
                lambda: s.incident_reopen(actor=op, incident=incident, reason="群众不满意")],
        }.get(state)
        if choices:
            with contextlib.suppress(DomainError):
                rng.choice(choices)()

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.tick()
            with time_machine.travel(self.now, tick=False):
                roll = self.rng.random()
                if roll < 0.3 or not self.incidents:
                    self.report()
                elif roll < 0.9:
                    self.act()
                else:
                    sweep(now=self.now)


PERSONAS = ("admin", "west_operator", "east_operator", "town_operator", "handler", "worker",
            "viewer")


def naive_figures(scope: Scope, focus, now) -> dict:
    """The command centre's figures straight from the incidents."""
    live = selectors.incidents(scope, focus)
    first, today = now.date() - dt.timedelta(days=29), now.date()
    window = naive.with_late(naive.reported_between(live, first, today)).aggregate(
        **naive.day_counters())
    today_n = naive.reported_between(live, today, today).count()
    mix = naive.mix(live, first, today, by=("category_id",))
    channels = naive.mix(live, first, today, by=("channel",))
    return {"window": {k: window[k] or 0 for k in DAY_COUNTERS}, "today": today_n,
            "open": live.filter(state__in=wf.OPEN_STATES).count(),
            "categories": {r["category_id"] or 0: r["reported"] for r in mix},
            "channels": {r["channel"]: r["reported"] for r in channels}}


def lights_of(scope: Scope, focus, now) -> tuple:
    """(red, yellow) of the KPI tiles, and (open, red, yellow) per child of the map."""
    kpis = selectors.kpis(scope=scope, focus=focus, now=now)
    areas = selectors.areas(scope=scope, focus=focus, now=now)["items"]
    return (kpis["overdue"], kpis["near_due"],
            {a["code"]: (a["open"], a["overdue"], a["near_due"]) for a in areas})


def naive_lights(scope: Scope, focus, now) -> tuple:
    live = selectors.incidents(scope, focus)
    opened = live.filter(state__in=wf.OPEN_STATES)
    red, yellow = naive.red(live, now), naive.yellow(live, now)
    kind, children = selectors._children(scope, focus)
    per_child = {}
    for child in children:
        mine = ({"grid_id": child["id"]} if kind == "grid"
                else {"path__startswith": child["path"]})
        per_child[child["code"]] = tuple(qs.filter(**mine).count()
                                         for qs in (opened, red, yellow))
    return red.count(), yellow.count(), per_child


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollups_equal_the_naive_aggregate_after_a_random_mix_of_services(cast, seed):
    mix = Mix(cast, seed)
    mix.run(260)
    assert len(mix.incidents) > 40
    states = set(Incident.objects.values_list("state", flat=True))
    assert {wf.CLOSED, wf.REJECTED, wf.IN_PROGRESS} <= states

    assert rollup_tables() == naive_tables()

    now = mix.now
    for name in PERSONAS:
        scope = Scope.for_user(getattr(cast, name))
        codes = [None, "320505", "320505001", "320505001001", "320506"]
        for code in codes:
            if code and not scope.unrestricted and not any(
                    scope.covers(r.path) for r in scope.regions().filter(code=code)):
                continue
            focus = selectors.focus_for(scope=scope, region=code)
            expected = naive_figures(scope, focus, now)
            kpis = selectors.kpis(scope=scope, focus=focus, now=now)
            window = {k: kpis["window"][k] for k in DAY_COUNTERS}
            assert window == expected["window"], (name, code)
            assert kpis["today_reported"] == expected["today"], (name, code)
            assert kpis["open"] == expected["open"], (name, code)
            assert {r["channel"]: r["reported"] for r in selectors.channels(
                scope=scope, focus=focus, now=now)} == expected["channels"], (name, code)
            top = selectors.top_categories(scope=scope, focus=focus, now=now, top=99)
            assert sum(r["reported"] for r in top) == sum(expected["categories"].values())
            trend = selectors.trend(scope=scope, focus=focus, now=now)
            assert sum(d["reported"] for d in trend) == expected["window"]["reported"]
            assert sum(d["closed"] for d in trend) == expected["window"]["closed"]
            # the lights at the last sweep and later, with deadlines passed since
            for later in (now, now + dt.timedelta(hours=3), now + dt.timedelta(days=4)):
                assert lights_of(scope, focus, later) == naive_lights(scope, focus, later), (
                    name, code, later)

    call_command("analytics", "rebuild", stdout=StringIO())
    assert rollup_tables() == naive_tables()


def test_an_action_that_loses_the_race_counts_nothing(cast):
    with time_machine.travel(START, tick=False):
        incident, _ = services.incident_report(actor=cast.worker, channel="grid_patrol",
                                               description="垃圾", category="SJ0102",
                                               **WEST_POINT)
        stale = Incident.objects.get(pk=incident.pk)
        services.incident_accept(actor=cast.town_operator, incident=incident)
        before = rollup_tables()
        with pytest.raises(DomainError):
            services.incident_reject(actor=cast.town_operator, incident=stale, reason="x")
    assert rollup_tables() == before == naive_tables()


def test_lights_count_what_the_sweep_has_not_marked_yet(cast):
    """Yellow and red between sweeps: marked ones from OpenTally, the rest live."""
    scope = Scope.for_user(cast.admin)
    focus = selectors.focus_for(scope=scope)

    def lights(now):
        found = lights_of(scope, focus, now)
        assert found == naive_lights(scope, focus, now)
        assert rollup_tables() == naive_tables()
        return found[:2]

    with time_machine.travel(START, tick=False):
        incident, _ = services.incident_report(actor=cast.worker, channel="grid_patrol",
                                               description="垃圾", category="SJ0102",
                                               **WEST_POINT)
    warn, due = incident.warn_at, incident.due_at
    minute = dt.timedelta(minutes=1)
    assert lights(START) == (0, 0)
    assert lights(warn + minute) == (0, 1)         # past the warning, not yet swept
    assert sweep(now=warn + minute)["warned"] == 1
    assert lights(warn + minute) == (0, 1)         # marked yellow
    assert lights(due + minute) == (1, 0)          # past due, still marked yellow
    assert sweep(now=due + minute)["overdue"] == 1
    assert lights(due + minute) == (1, 0)          # marked red
    with time_machine.travel(due + minute, tick=False):
        services.incident_accept(actor=cast.town_operator,
                                 incident=Incident.objects.get(pk=incident.pk))
    assert lights(due + 2 * minute) == (0, 0)      # a fresh stage, its flags reset
