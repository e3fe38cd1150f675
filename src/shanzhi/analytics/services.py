"""Writes of the analytics app: rebuilding the rollups from the incidents."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Count, Max, Min

from shanzhi.incidents.models import Incident

from . import naive
from .models import DayTally, MixTally, OpenTally
from .rollups import DAY_COUNTERS, OPEN_COUNTERS, areas_of, local_day

BATCH = 5000


@transaction.atomic
def rollups_rebuild() -> dict[str, int]:
    """Recount every rollup from the incidents (after a bulk load, or to
    repair). The incident table is locked against writes meanwhile on
    PostgreSQL, so that no action is counted twice or lost."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Incident._meta.db_table} IN SHARE MODE")
    for model in (DayTally, MixTally, OpenTally):
        model.objects.all().delete()
    span = Incident.objects.aggregate(first=Min("reported_at"), last=Max("reported_at"))
    if span["first"] is None:
        return {"days": 0, "mix": 0, "open": 0}
    first, last = local_day(span["first"]), local_day(span["last"])
    every = Incident.objects.all()
    days = [DayTally(day=r["day"], region_id=r["region_id"], path=r["path"],
                     **{c: r[c] for c in DAY_COUNTERS})
            for r in naive.days(every, first, last, by=("day", "region_id", "path"))]
    DayTally.objects.bulk_create(days, batch_size=BATCH)
    mix: dict[tuple, int] = defaultdict(int)
    rows = (naive.with_day(naive.reported_between(every, first, last)).order_by()
            .values("day", "path", "category_id", "channel"))
    for r in rows.annotate(n=Count("id")):
        for area in areas_of(r["path"]):
            mix[(r["day"], *area, r["category_id"] or 0, r["channel"])] += r["n"]
    MixTally.objects.bulk_create(
        [MixTally(day=d, area_id=a, path=p, depth=depth, category_key=c, channel=ch, reported=n)
         for (d, a, p, depth, c, ch), n in mix.items() if n], batch_size=BATCH)
    opened = [OpenTally(region_id=r["region_id"], grid_key=r["grid_id"] or 0, path=r["path"],
                        **{c: r[c] for c in OPEN_COUNTERS})
              for r in naive.open_counts(every, by=("region_id", "path", "grid_id"))]
    OpenTally.objects.bulk_create(opened, batch_size=BATCH)
    return {"days": len(days), "mix": len(mix), "open": len(opened)}
