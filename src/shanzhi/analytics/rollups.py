"""Keeping the rollups current: one call at each write point of the incident
services, inside their transaction.

- ``incident_reported`` from ``services._create``: the new incident counts
  as reported on its day, in its category and channel, and as open in its grid.
- ``incident_changing`` from ``services._apply``, just before the
  compare-and-set update: the difference between the row as it is (read
  again, at the version the update will check) and as the update leaves it.
  If the update then loses the race, the transaction rolls back, counters
  included.

The sweep (``sla.py``) needs no call: it changes only the ``warned`` and
``overdue`` flags (and a counter), which no rollup holds — red and yellow
lights are counted live from the indexed deadlines (``selectors.py``) — and
the stage flags read here only when an incident closes or reopens.

Every write is an upsert (``INSERT … ON CONFLICT … DO UPDATE SET n = n +
excluded.n``), the same SQL on SQLite and PostgreSQL, on a row per day and
region (or area, category and channel; or region and grid): no hot row for
the whole city.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, IncidentStage

from .models import DayTally, MixTally, OpenTally

DAY_COUNTERS = ("reported", "rejected", "closed", "closed_on_time", "self_resolved",
                "callbacks", "satisfied")
#: Satisfaction values (services.SATISFACTION) that count as satisfied.
SATISFIED_FROM = 2
#: Depth of the path at which categories and channels are rolled up (the town).
AREA_DEPTH = 3


def local_day(at: dt.datetime) -> dt.date:
    return timezone.localtime(at, timezone.get_default_timezone()).date()


def area_of(path: str) -> tuple[int, str]:
    """The area of a located region's path: its ancestor at the town's depth
    (or itself when it lies higher)."""
    parts = path.strip("/").split("/")[:AREA_DEPTH]
    return int(parts[-1]), "/" + "/".join(parts) + "/"


@dataclass(frozen=True)
class Facts:
    """What of an incident the rollups count."""

    state: str
    category_id: int | None
    self_resolved: bool
    satisfaction: int | None

    def day_counts(self, on_time: bool) -> dict[str, int]:
        closed = self.state == wf.CLOSED
        return {"rejected": int(self.state == wf.REJECTED), "closed": int(closed),
                "closed_on_time": int(closed and on_time),
                "self_resolved": int(self.self_resolved),
                "callbacks": int(self.satisfaction is not None),
                "satisfied": int((self.satisfaction or 0) >= SATISFIED_FROM)}


# ---------------------------------------------------------------- the hooks

def incident_reported(incident: Incident) -> None:
    """A new incident (state reported): +1 reported, +1 open."""
    day = local_day(incident.reported_at)
    _add_day(day, incident.region_id, incident.path, {"reported": 1})
    _add_mix(day, incident.path, incident.category_id, incident.channel, 1)
    _add_open(incident.region_id, incident.grid_id, incident.path, 1)


def incident_changing(incident: Incident, updates: Mapping) -> None:
    """Count what ``updates`` (the compare-and-set's values) will change. Called
    inside the action's transaction, before the update."""
    row = (Incident.objects.filter(pk=incident.pk, version=incident.version)
           .values_list("state", "category_id", "self_resolved", "satisfaction").first())
    if row is None:
        return  # the compare-and-set will fail and roll back
    before = Facts(*row)
    category = updates.get("category", ...)
    after = Facts(
        state=updates.get("state", before.state),
        category_id=before.category_id if category is ... else getattr(category, "pk", None),
        self_resolved=bool(updates.get("self_resolved", before.self_resolved)),
        satisfaction=updates.get("satisfaction", before.satisfaction))
    if after == before:
        return
    on_time = True
    if (before.state == wf.CLOSED) != (after.state == wf.CLOSED):
        # closing ends the running stage, late if its deadline has passed
        # (services._close_stage); a reopen finds every stage ended
        closing_late = (after.state == wf.CLOSED and incident.due_at is not None
                        and incident.due_at < updates.get("updated_at", timezone.now()))
        on_time = not closing_late and not IncidentStage.objects.filter(
            incident_id=incident.pk, overdue=True, ended_at__isnull=False).exists()
    old, new = before.day_counts(on_time), after.day_counts(on_time)
    delta = {k: new[k] - old[k] for k in new if new[k] != old[k]}
    day = local_day(incident.reported_at)
    if delta:
        _add_day(day, incident.region_id, incident.path, delta)
    if after.category_id != before.category_id:
        _add_mix(day, incident.path, before.category_id, incident.channel, -1)
        _add_mix(day, incident.path, after.category_id, incident.channel, 1)
    opened = int(after.state in wf.OPEN_STATES) - int(before.state in wf.OPEN_STATES)
    if opened:
        _add_open(incident.region_id, incident.grid_id, incident.path, opened)


# ---------------------------------------------------------------- upserts

def _upsert(table: str, key: tuple[str, ...], values: dict, counters: tuple[str, ...]) -> None:
    columns = list(values)
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
           f"({', '.join(['%s'] * len(columns))}) "
           f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [values[c] for c in columns])


def _add_day(day: dt.date, region_id: int, path: str, delta: Mapping[str, int]) -> None:
    counts = {c: int(delta.get(c, 0)) for c in DAY_COUNTERS}
    _upsert(DayTally._meta.db_table, ("day", "region_id"),
            {"day": day, "region_id": region_id, "path": path, **counts}, DAY_COUNTERS)


def _add_mix(day: dt.date, path: str, category_id: int | None, channel: str, n: int) -> None:
    area_id, area_path = area_of(path)
    _upsert(MixTally._meta.db_table, ("day", "area_id", "category_key", "channel"),
            {"day": day, "area_id": area_id, "path": area_path,
             "category_key": category_id or 0, "channel": channel, "reported": n},
            ("reported",))


def _add_open(region_id: int, grid_id: int | None, path: str, n: int) -> None:
    _upsert(OpenTally._meta.db_table, ("region_id", "grid_key"),
            {"region_id": region_id, "grid_key": grid_id or 0, "path": path, "open": n},
            ("open",))
