# ruff: noqa: E501  (COPY rows read best on one line)
"""The command centre's queries at a city's scale: rollups vs the naive
aggregate over the same incidents, in the same run, on PostgreSQL.

    SHANZHI_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shanzhi_bench_command \\
        .venv/bin/python benchmarks/dashboard.py --incidents 1000000

The database named must contain "bench": it is emptied and filled. The script
builds the Suzhou demo territory in it (10 districts, 118 towns, 2,000
communities, 10,400 grids), then generates N incidents over the past year
with COPY — each with one stage deadline and three timeline rows (report,
accept, and the last step) — in the states a year of work leaves (recent
ones open, some overdue; most closed, some late, some self-resolved, some
called back), then the rollups from them (``rollups_rebuild``: the rows the
services would have written, as tests/analytics/test_rollups.py checks).
Then each command-centre query for the whole city, the rollup path against
the naive path (the same selector with the rollups switched off: a GROUP BY
over every incident of the window), best of ``--repeat``; the answers must
be equal."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="reuse the data of the last run")
    args = parser.parse_args()
    url = os.environ.get("SHANZHI_DATABASE_URL", "")
    if not url.startswith("postgres") or "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit("set SHANZHI_DATABASE_URL to a PostgreSQL database whose name contains 'bench'")
    os.environ["DJANGO_SETTINGS_MODULE"] = "shanzhi.settings"
    os.environ.setdefault("SHANZHI_DATA_DIR", str(ROOT / "var" / "bench-command"))
    import django

    django.setup()
    from django.core.management import call_command

    from shanzhi.demo.load import build_demo, demo_exists
    from shanzhi.incidents.models import Incident

    call_command("migrate", interactive=False, verbosity=0)
    if not demo_exists():
        print("building the Suzhou territory …", flush=True)
        build_demo(progress=lambda m: None)
    if not (args.keep and Incident.objects.exists()):
        generate(args.incidents, args.seed)
    measure(args.repeat)


def generate(n: int, seed: int) -> None:
    import numpy as np
    from django.db import connection
    from django.utils import timezone

    from shanzhi.analytics.services import rollups_rebuild
    from shanzhi.geo.index import get_index
    from shanzhi.geo.models import Grid, Level
    from shanzhi.incidents.models import Category, Incident, IncidentStage, TimelineEntry

    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with connection.cursor() as c:
        for model in (TimelineEntry, IncidentStage, Incident):
            c.execute(f"TRUNCATE {model._meta.db_table} CASCADE")
    index = get_index()
    grids = list(Grid.objects.current().values_list("id", "community_id"))
    shapes = {g.id: g.shape.representative_point() for g in Grid.objects.current().only("id", "geometry")}
    holders, paths = {}, {}
    for _gid, cid in grids:
        paths[cid] = index.path(cid)
        town = next((x.id for x in index.chain(cid) if x.level == Level.TOWN), cid)
        holders[cid] = town
    categories = list(Category.objects.filter(parent__isnull=False).values_list("id", flat=True))
    channels = ["grid_patrol", "hotline_12345", "citizen_web", "open311", "department", "iot",
                "video"]
    now = timezone.now()
    year = 365 * 86400
    age = np.sort(rng.random(n) ** 1.0 * year)[::-1]  # seconds ago, oldest first
    gi = rng.integers(0, len(grids), n)
    cat = rng.choice(categories, n, p=_zipf(len(categories), rng))
    chan = rng.choice(len(channels), n, p=[0.45, 0.3, 0.08, 0.05, 0.05, 0.04, 0.03])
    u = rng.random(n)
    limit_h = rng.choice([4, 24, 72, 120], n)
    print(f"generating {n:,} incidents …", flush=True)
    buf_i, buf_s, buf_t = io.StringIO(), io.StringIO(), io.StringIO()
    cols_i = ("id, number, channel, category_id, urgency, description, address, lng, lat, grid_id, "
              "region_id, path, holder_id, state, version, contact_name, contact_phone, reported_at, "
              "created_at, updated_at, closed_at, extra, stage, warn_at, due_at, overdue, warned, "
              "self_resolved, satisfaction, return_count, rework_count, supervise_count, "
              "extension_count, escalate_count, reopen_count")
    chunk = 200_000

    def flush(final=False):
        with connection.cursor() as c:
            for table, cols, buf in ((Incident._meta.db_table, cols_i, buf_i),
                                     (IncidentStage._meta.db_table,
                                      "incident_id, stage, started_at, warn_at, due_at, ended_at, "
                                      "overdue, amount, unit, warnings", buf_s),
                                     (TimelineEntry._meta.db_table,
                                      "incident_id, action, at, from_state, to_state, data", buf_t)):
                with c.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    copy.write(buf.getvalue())
                buf.seek(0)
                buf.truncate()

    for i in range(n):
        pk = i + 1
        gid, cid = grids[gi[i]]
        p = shapes[gid]
        reported = now - dt.timedelta(seconds=float(age[i]))
        days_old = age[i] / 86400
        # recent incidents are more often open; a few old ones still are
        p_open = 0.6 if days_old < 2 else 0.15 if days_old < 10 else 0.01
        r = u[i]
        limit = dt.timedelta(hours=int(limit_h[i]))
        if r < p_open:
            state = ["registered", "dispatched", "in_progress", "handled"][i % 4]
            due = reported + limit
            warn = reported + limit * 0.8
            closed = None
            late = due < now
            extra_state = (state, due, warn)
        elif r < p_open + 0.04:
            state, closed, late = "rejected", reported + dt.timedelta(hours=1), False
        else:
            state = "closed"
            late = (i % 10) == 0
            closed = min(now, reported + limit * (1.3 if late else 0.6))
        self_res = state == "closed" and (i % 7) == 0
        sat = ""
        if state == "closed" and (i % 3) == 0:
            sat = str([3, 3, 3, 2, 2, 1][i % 6])
        if state in ("registered", "dispatched", "in_progress", "handled"):
            st, due, warn = extra_state
            stage = {"registered": "dispatch", "dispatched": "sign", "in_progress": "handle",
                     "handled": "verify"}[st]
            stage_cols = f"{stage}\t{_ts(warn)}\t{_ts(due)}\t{'t' if late else 'f'}\t{'t' if warn < now else 'f'}"
        else:
            stage_cols = "\t\\N\t\\N\tf\tf"
        buf_i.write(
            f"{pk}\tSJ{pk:012d}\t{channels[chan[i]]}\t{cat[i]}\tnormal\t事件{pk}\t\t{p.x:.6f}\t{p.y:.6f}\t"
            f"{gid}\t{cid}\t{paths[cid]}\t{holders[cid]}\t{state}\t3\t\t\t{_ts(reported)}\t"
            f"{_ts(reported)}\t{_ts(closed or reported)}\t{_ts(closed) if closed else chr(92) + 'N'}\t{{}}\t"
            f"{stage_cols}\t{'t' if self_res else 'f'}\t{sat or chr(92) + 'N'}\t0\t0\t0\t0\t0\t0\n")
        end = closed or ""
        due_s = reported + limit
        buf_s.write(f"{pk}\thandle\t{_ts(reported)}\t{_ts(reported + limit * 0.8)}\t{_ts(due_s)}\t"
                    f"{_ts(end) if end else chr(92) + 'N'}\t{'t' if late and state == 'closed' else 'f'}\t"
                    f"{int(limit_h[i])}\tnatural_hours\t[]\n")
        buf_t.write(f"{pk}\treport\t{_ts(reported)}\t\treported\t{{}}\n")
        buf_t.write(f"{pk}\taccept\t{_ts(reported)}\treported\tregistered\t{{}}\n")
        if state != "registered":
            buf_t.write(f"{pk}\t{json.dumps(state)[1:-1]}\t{_ts(closed or reported)}\tregistered\t{state}\t{{}}\n")
        if pk % chunk == 0:
            flush()
            print(f"  {pk:,} ({time.perf_counter() - started:.0f} s)", flush=True)
    flush(True)
    with connection.cursor() as c:
        c.execute(f"SELECT setval(pg_get_serial_sequence('{Incident._meta.db_table}', 'id'), {n})")
        c.execute("ANALYZE")
    print(f"incidents written in {time.perf_counter() - started:.0f} s; rollups …", flush=True)
    t = time.perf_counter()
    counts = rollups_rebuild()
    with connection.cursor() as c:
        # as autovacuum soon would: statistics, and the visibility map that
        # lets the covering indexes answer without visiting the tables
        c.execute("VACUUM ANALYZE")
    print(f"rollups in {time.perf_counter() - t:.0f} s: {counts}", flush=True)


def _ts(value) -> str:
    return value.isoformat() if value else "\\N"


def _zipf(k: int, rng):
    import numpy as np

    w = 1.0 / np.arange(1, k + 1) ** 1.1
    rng.shuffle(w)
    return w / w.sum()


def measure(repeat: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from shanzhi.accounts.scope import Scope
    from shanzhi.analytics import selectors
    from shanzhi.incidents.models import Incident, TimelineEntry

    scope = Scope(unrestricted=True, role="city_admin")
    focus = selectors.focus_for(scope=scope)
    print(f"\n{Incident.objects.count():,} incidents, {TimelineEntry.objects.count():,} timeline "
          f"rows; the whole city ({focus.region.name}), PostgreSQL "
          f"{connection.cursor().connection.info.server_version}\n")
    # one instant for every call: red and yellow are counted live, and at this
    # size deadlines pass every second between the rollup and the naive call
    now = timezone.now()
    queries = {
        "kpis": lambda: selectors.kpis(scope=scope, focus=focus, now=now),
        "trend (30 days)": lambda: selectors.trend(scope=scope, focus=focus, now=now),
        "top categories": lambda: selectors.top_categories(scope=scope, focus=focus, now=now),
        "channels": lambda: selectors.channels(scope=scope, focus=focus, now=now),
        "areas (per district)": lambda: selectors.areas(scope=scope, focus=focus, now=now),
        "longest overdue": lambda: selectors.longest_overdue(scope=scope, focus=focus, now=now),
        "points (capped)": lambda: selectors.points(scope=scope, focus=focus, now=now),
    }
    real_rollups, real_mix = selectors.uses_rollups, selectors.mix_depth

    def best(fn):
        times, out = [], None
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return min(times) * 1000, out

    print(f"{'query':<24}{'rollups ms':>12}{'naive ms':>12}{'ratio':>9}  equal")
    total_r = total_n = 0.0
    for name, fn in queries.items():
        selectors.uses_rollups, selectors.mix_depth = real_rollups, real_mix
        r_ms, r_out = best(fn)
        selectors.uses_rollups = lambda s: False
        selectors.mix_depth = lambda s, f: None
        n_ms, n_out = best(fn)
        selectors.uses_rollups, selectors.mix_depth = real_rollups, real_mix
        total_r += r_ms
        total_n += n_ms
        print(f"{name:<24}{r_ms:>12.1f}{n_ms:>12.1f}{n_ms / r_ms:>8.1f}×  {r_out == n_out}")
    print(f"{'the whole summary':<24}{total_r:>12.1f}{total_n:>12.1f}{total_n / total_r:>8.1f}×")


if __name__ == "__main__":
    main()
