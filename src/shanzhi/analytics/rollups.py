"""Keeping the rollups current: receivers of the case engine's hooks
(``cases.hooks``) for incidents, connected in ``AnalyticsConfig.ready``,
each called inside the transaction of the change.

- ``incident_reported`` on ``created`` (intake): the new incident counts
  as reported on its day, in its category and channel, and as open in its grid.
- ``incident_changing`` on ``changing`` (``cases.engine.apply``), just before
  the compare-and-set update: the difference between the row as it is (read
  again, at the version the update will check, and locked) and as the update
  leaves it. If the update then loses the race, the transaction rolls back,
  counters included.
- ``lights_changed`` on ``lights_changed`` (the sweep, ``cases.sla``), when it
  marks an incident yellow (``warned``) or red (``overdue``), in the same
  transaction as the mark. Lights that came on since the last sweep are not
  in the rollups: the selectors count those few live (``selectors.open_now``).

Every write is an upsert (``INSERT … ON CONFLICT … DO UPDATE SET n = n +
excluded.n``), the same SQL on SQLite and PostgreSQL, on a row per day and
region (or area, category and channel; or region and grid): no hot row for
the whole city. On PostgreSQL the upserts of one call go to the server as one
statement (``_run``).
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
#: Depths of the path at which categories and channels are rolled up: the
#: district (what the city and a district read) and the town.
AREA_DEPTHS = (2, 3)


def local_day(at: dt.datetime) -> dt.date:
    return timezone.localtime(at, timezone.get_default_timezone()).date()


def areas_of(path: str) -> list[tuple[int, str, int]]:
    """The areas a located region's path counts in, as (id, path, depth): at
    each depth of ``AREA_DEPTHS`` its ancestor there, or the region itself
    when it lies higher."""
    parts = path.strip("/").split("/")
    return [(int(parts[:d][-1]), "/" + "/".join(parts[:d]) + "/", d) for d in AREA_DEPTHS]


@dataclass(frozen=True)
class Facts:
    """What of an incident the rollups count."""

    state: str
    category_id: int | None
    self_resolved: bool
    satisfaction: int | None
    warned: bool = False
    overdue: bool = False

    def open_counts(self) -> tuple[int, int, int]:
        """(open, red, yellow) as the OpenTally counts them."""
        return lights(self.state in wf.OPEN_STATES, self.warned, self.overdue)

    def day_counts(self, on_time: bool) -> dict[str, int]:
        closed = self.state == wf.CLOSED
        return {"rejected": int(self.state == wf.REJECTED), "closed": int(closed),
                "closed_on_time": int(closed and on_time),
                "self_resolved": int(self.self_resolved),
                "callbacks": int(self.satisfaction is not None),
                "satisfied": int((self.satisfaction or 0) >= SATISFIED_FROM)}


def lights(is_open: bool, warned: bool, overdue: bool) -> tuple[int, int, int]:
    """(open, red, yellow) of one incident by its flags."""
    return (int(is_open), int(is_open and overdue), int(is_open and warned and not overdue))


# ---------------------------------------------------------------- the hooks

def incident_reported(incident: Incident) -> None:
    """A new incident (state reported): +1 reported, +1 open."""
    day = local_day(incident.reported_at)
    _run([_day(day, incident, {"reported": 1}),
          _mix(day, incident, [(incident.category_id, 1)]),
          _open(incident, (1, 0, 0))])


def incident_changing(incident: Incident, updates: Mapping) -> None:
    """Count what ``updates`` (the compare-and-set's values) will change. Called
    inside the action's transaction, before the update."""
    # locked, so that the sweep cannot mark the row between this read and the update
    row = (Incident.objects.select_for_update().filter(pk=incident.pk, version=incident.version)
           .values_list("state", "category_id", "self_resolved", "satisfaction", "warned",
                        "overdue").first())
    if row is None:
        return  # the compare-and-set will fail and roll back
    before = Facts(*row)
    category = updates.get("category", ...)
    after = Facts(
        state=updates.get("state", before.state),
        category_id=before.category_id if category is ... else getattr(category, "pk", None),
        self_resolved=bool(updates.get("self_resolved", before.self_resolved)),
        satisfaction=updates.get("satisfaction", before.satisfaction),
        warned=bool(updates.get("warned", before.warned)),
        overdue=bool(updates.get("overdue", before.overdue)))
    if after == before:
        return
    on_time = True
    if (before.state == wf.CLOSED) != (after.state == wf.CLOSED):
        # closing ends the running stage, late if its deadline has passed
        # (cases.engine.close_stage); a reopen finds every stage ended
        closing_late = (after.state == wf.CLOSED and incident.due_at is not None
                        and incident.due_at < updates.get("updated_at", timezone.now()))
        on_time = not closing_late and not IncidentStage.objects.filter(
            incident_id=incident.pk, overdue=True, ended_at__isnull=False).exists()
    old, new = before.day_counts(on_time), after.day_counts(on_time)
    delta = {k: new[k] - old[k] for k in new if new[k] != old[k]}
    day = local_day(incident.reported_at)
    _run([_day(day, incident, delta) if delta else None,
          _mix(day, incident, [(before.category_id, -1), (after.category_id, 1)])
          if after.category_id != before.category_id else None,
          _open(incident, _minus(after.open_counts(), before.open_counts()))])


def lights_changed(incident: Incident, *, before: tuple[bool, bool],
                   after: tuple[bool, bool]) -> None:
    """The sweep changed an open incident's (warned, overdue) flags."""
    _run([_open(incident, _minus(lights(True, *after), lights(True, *before)))])


def on_created(sender, *, case: Incident, **kwargs) -> None:
    incident_reported(case)


def on_changing(sender, *, case: Incident, updates: Mapping, **kwargs) -> None:
    incident_changing(case, updates)


def on_lights_changed(sender, *, case: Incident, before: tuple[bool, bool],
                      after: tuple[bool, bool], **kwargs) -> None:
    lights_changed(case, before=before, after=after)


def _minus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- upserts

Statement = tuple[str, list]


def _upsert(table: str, key: tuple[str, ...], rows: list[dict],
            counters: tuple[str, ...]) -> Statement:
    """The statement adding ``rows`` (dicts of the same columns) to their counters."""
    columns = list(rows[0])
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    one = f"({', '.join(['%s'] * len(columns))})"
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * len(rows))} "
           f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}")
    return sql, [r[c] for r in rows for c in columns]


def _run(statements: list[Statement | None]) -> None:
    """Run the upserts: on PostgreSQL in one statement (each but the last a
    data-modifying WITH clause, which always runs to completion), one round
    trip for all; on SQLite one by one."""
    statements = [s for s in statements if s is not None]
    if not statements:
        return
    if connection.vendor == "postgresql" and len(statements) > 1:
        *first, (last, last_params) = statements
        statements = [("WITH " + ", ".join(f"u{i} AS ({sql})" for i, (sql, _) in enumerate(first))
                       + " " + last, [p for _, params in first for p in params] + last_params)]
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def _day(day: dt.date, incident: Incident, delta: Mapping[str, int]) -> Statement:
    counts = {c: int(delta.get(c, 0)) for c in DAY_COUNTERS}
    return _upsert(DayTally._meta.db_table, ("day", "region_id"),
                   [{"day": day, "region_id": incident.region_id, "path": incident.path,
                     **counts}], DAY_COUNTERS)


def _mix(day: dt.date, incident: Incident, counts: list[tuple[int | None, int]]) -> Statement:
    """Add n to (category, n) of ``counts`` in each area of the incident."""
    return _upsert(MixTally._meta.db_table, ("day", "depth", "area_id", "category_key", "channel"),
                   [{"day": day, "area_id": area_id, "path": area_path, "depth": depth,
                     "category_key": category_id or 0, "channel": incident.channel,
                     "reported": n}
                    for category_id, n in counts
                    for area_id, area_path, depth in areas_of(incident.path)],
                   ("reported",))


OPEN_COUNTERS = ("open", "red", "yellow")


def _open(incident: Incident, delta: tuple[int, ...]) -> Statement | None:
    if not any(delta):
        return None
    return _upsert(OpenTally._meta.db_table, ("region_id", "grid_key"),
                   [{"region_id": incident.region_id, "grid_key": incident.grid_id or 0,
                     "path": incident.path, **dict(zip(OPEN_COUNTERS, delta, strict=True))}],
                   OPEN_COUNTERS)
