"""Patrols for the demo (巡查): a few working days of walks before today by the
demo's grid workers (worker_full, worker_part) and the full-time workers
(``gw<grid code>``) of the first grids of 姑苏区, so that the patrol log, the
phone's history and the workers' figures have something to show, while
today's patrols stay due.

Each walk is a round through the worker's grid at a stroll's pace, a
point every 15 s, a few of them imprecise (kept in the track, not counted
in the distance), with one to three check-ins. Written with ``bulk_create``
(well under a second); the same seed and ``end`` give the same walks.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
import uuid
from collections.abc import Callable

import numpy as np
import shapely
from django.db import transaction
from django.utils import timezone

from shanzhi.accounts.models import GridWorker, User
from shanzhi.core.calendar import get_calendar
from shanzhi.geo.models import Grid, Region
from shanzhi.patrols.models import CheckIn, Patrol
from shanzhi.patrols.services import track_distance

#: Working days of history before today.
DAYS = 5
#: How many full-time ``gw…`` workers of 姑苏区 walk (those of its first grids).
DISTRICT_WORKERS = 30
#: A patrol's share of working days: full-time workers and the part-time ones.
FULL_TIME_SHARE, PART_TIME_SHARE = 0.9, 0.5
STEP_S = 15
PACE_M_S = 1.1
METRES_PER_DEGREE = 111_195.0
NOTES = ["垃圾桶满溢，已通知保洁", "井盖松动，已拍照上报", "楼道堆放杂物，已劝导清理",
         "路灯不亮", "共享单车乱停放，已整理", "独居老人走访，情况良好", "消防通道畅通",
         "沿街店铺占道经营，已劝离", "绿化带有积水", "小区门岗登记正常"]


def _walkers() -> list[tuple[User, GridWorker.Kind, list[Grid]]]:
    """(user, kind, grids) of the demo personas and of the district's workers."""
    gusu = Region.objects.current().filter(code="320508").first()
    if gusu is None:
        return []
    names = ["worker_full", "worker_part", *(
        f"gw{code}" for code in Grid.objects.current().filter(path__startswith=gusu.path)
        .order_by("code").values_list("code", flat=True)[:DISTRICT_WORKERS])]
    workers = (GridWorker.objects.filter(user__username__in=names).select_related("user")
               .prefetch_related("grids"))
    return [(w.user, w.kind, [g for g in w.grids.all() if g.valid_to is None])
            for w in sorted(workers, key=lambda w: w.user.username)]


def _walk(grid: shapely.Geometry, steps: int, gen: np.random.Generator) -> np.ndarray:
    """``steps + 1`` positions of a round through ``grid``: a loop through a
    few points inside it (its sides straight, as a grid cell is about
    convex), walked at a stroll's pace, a few metres of GPS jitter added."""
    minx, miny, maxx, maxy = grid.bounds
    candidates = gen.uniform((minx, miny), (maxx, maxy), size=(48, 2))
    inside = candidates[shapely.contains_xy(grid, candidates[:, 0], candidates[:, 1])]
    if len(inside) < 3:
        inside = np.repeat([grid.representative_point().coords[0]], 3, axis=0)
    stops = inside[:int(gen.integers(4, 9))]
    centre = stops.mean(axis=0)
    stops = stops[np.argsort(np.arctan2(*(stops - centre).T[::-1]))]
    loop = np.vstack([stops, stops[:1]])
    per_lng = METRES_PER_DEGREE * math.cos(math.radians(centre[1]))
    legs = np.hypot(np.diff(loop[:, 0]) * per_lng, np.diff(loop[:, 1]) * METRES_PER_DEGREE)
    along = np.concatenate([[0.0], np.cumsum(legs)])
    walked = np.cumsum(gen.uniform(0.6, 1.3, steps + 1) * PACE_M_S * STEP_S)
    walked = (walked - walked[0]) % max(along[-1], 1.0)
    lng = np.interp(walked, along, loop[:, 0]) + gen.normal(0, 2.0, steps + 1) / per_lng
    lat = np.interp(walked, along, loop[:, 1]) + gen.normal(0, 2.0, steps + 1) / METRES_PER_DEGREE
    return np.column_stack([lng, lat])


def _days(end: dt.datetime) -> list[dt.date]:
    """The last :data:`DAYS` working days before ``end``'s day."""
    calendar = get_calendar()
    day, days = timezone.localdate(end), []
    while len(days) < DAYS:
        day -= dt.timedelta(days=1)
        if calendar.is_working_day(day):
            days.append(day)
    return sorted(days)


def build_patrols(*, seed: int = 2026, end: dt.datetime | None = None,
                  progress: Callable[[str], None] = print) -> int:
    """Write the demo's patrols; returns how many (none when some exist)."""
    if Patrol.objects.exists():
        return 0
    clock = time.monotonic()
    end = end or timezone.now()
    tz = get_calendar().tz
    rng = random.Random(seed * 31 + 7)
    gen = np.random.default_rng(seed * 31 + 7)
    shapes: dict[int, shapely.Geometry] = {}
    patrols, checkins = [], []
    for user, kind, grids in _walkers():
        share = PART_TIME_SHARE if kind == GridWorker.Kind.PART_TIME else FULL_TIME_SHARE
        for day in _days(end):
            for grid in grids:
                if rng.random() > share:
                    continue
                if grid.pk not in shapes:
                    shapes[grid.pk] = grid.shape
                started = dt.datetime.combine(day, dt.time(9), tzinfo=tz) + dt.timedelta(
                    minutes=rng.randrange(0, 6 * 60))
                steps = rng.randrange(100, 280)
                positions = _walk(shapes[grid.pk], steps, gen).round(7)
                times = np.datetime_as_string(
                    np.datetime64(started.astimezone(dt.UTC).replace(tzinfo=None), "ms")
                    + np.arange(steps + 1) * STEP_S * 1000, unit="ms")
                accuracy = np.where(gen.random(steps + 1) < 0.03,  # a few imprecise fixes
                                    gen.uniform(120, 400, steps + 1),
                                    gen.choice((5.0, 8.0, 12.0, 20.0), steps + 1)).round(1)
                track = [[f"{at}Z", lng, lat, acc] for at, lng, lat, acc in zip(
                    times.tolist(), positions[:, 0].tolist(), positions[:, 1].tolist(),
                    accuracy.tolist(), strict=True)]
                ended = started + dt.timedelta(seconds=steps * STEP_S + rng.randrange(0, 90))
                patrol = Patrol(id=uuid.UUID(int=rng.getrandbits(128), version=4), worker=user,
                                grid=grid, path=grid.path, started_at=started, ended_at=ended,
                                distance_m=round(track_distance(track), 1),
                                duration_s=int((ended - started).total_seconds()),
                                track=track, point_count=len(track), created_at=started)
                patrols.append(patrol)
                for i in sorted(rng.sample(range(5, steps), rng.randint(1, 3))):
                    checkins.append(CheckIn(
                        id=uuid.UUID(int=rng.getrandbits(128), version=4), patrol=patrol,
                        at=started + dt.timedelta(seconds=i * STEP_S), lng=track[i][1],
                        lat=track[i][2], grid=grid, note=rng.choice(NOTES), created_at=ended))
    with transaction.atomic():
        Patrol.objects.bulk_create(patrols, batch_size=200)
        CheckIn.objects.bulk_create(checkins, batch_size=500)
    progress(f"patrols: {len(patrols)} walks with {len(checkins)} check-ins over {DAYS} "
             f"working days ({time.monotonic() - clock:.1f} s)")
    return len(patrols)


__all__ = ["build_patrols"]
