# ruff: noqa: E501  (COPY rows read best on one line)
"""Possible duplicates at intake: how many candidates a real city's reports
get, and how long the check takes with 1,000,000 open incidents.

    .venv/bin/python benchmarks/duplicates.py                  # both parts
    .venv/bin/python benchmarks/duplicates.py --keep-db        # reuse bench_dup's rows
    .venv/bin/python benchmarks/duplicates.py --skip-db        # the NYC part only
    .venv/bin/python benchmarks/duplicates.py --skip-nyc       # the PostgreSQL part only

(1) NYC 311 (``--nyc``, the combined real records in
/work/shared/data/reference/nyc311/): each report is checked against the
earlier reports still open when it came in (not closed before its created
time), of the same complaint type, within 250 m and 7 days, with the text
similarity of the descriptors — the very functions ``possible_duplicates``
uses (``incidents.duplicates.box/rank``). Prints candidates per report
(mean, median, p95, max, share with at least one), per source file too: the
records are samples of several sizes, so the denser the sample, the nearer
the figure comes to the whole city's.

(2) PostgreSQL (``--db``, default postgres://postgres@127.0.0.1:5432/bench_dup,
a database whose name holds "bench": dropped and created again unless
``--keep-db`` finds its rows): a territory of one city and ten districts,
the taxonomy's 45+ subclasses, and ``--incidents`` (1,000,000) open incidents
over the last ``--spread`` (30) days — about the city's daily intake each day —
bulk-loaded with COPY: categories Zipf-distributed, points clustered around
district centres, descriptions from templates. Then ``--checks`` (1,000)
calls of ``possible_duplicates`` (the ORM, the query, the ranking: what the
intake form waits for) at points and categories drawn from the same
distributions, for the city and for a district operator, its query alone,
and ``repeats``, p50/p95/p99 ms, after a warm-up pass over other points and
interleaved check by check with the baseline of the floor: a primary-key
lookup through the ORM. Two more baselines on the first
``--baseline-checks`` (200) checks: without the partial index
``incident_open_category``, and with its first shape (category, -reported_at)
— each inside a transaction that is rolled back. EXPLAIN ANALYZE of the
hardest check (the most frequent category at a district centre) is printed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

NYC = Path("/work/shared/data/reference/nyc311/nyc311_combined.csv")
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_dup"
INDEX = "incident_open_category"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nyc", type=Path, default=NYC)
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--keep-db", action="store_true",
                        help="reuse the incidents already in the database")
    parser.add_argument("--skip-db", action="store_true", help="only the NYC part")
    parser.add_argument("--skip-nyc", action="store_true", help="only the PostgreSQL part")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--spread", type=float, default=30.0, help="days the open incidents span")
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--baseline-checks", type=int, default=200,
                        help="checks run without the index (each reads ~1 M rows)")
    parser.add_argument("--radius", type=float, default=250.0)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "shanzhi.settings"
    os.environ.setdefault("SHANZHI_DATA_DIR", str(ROOT / "var" / "dup" / "bench"))
    if args.skip_db:
        os.environ.pop("SHANZHI_DATABASE_URL", None)
    else:
        if "bench" not in args.db.rsplit("/", 1)[-1]:
            sys.exit("--db must name a database whose name contains 'bench'")
        os.environ["SHANZHI_DATABASE_URL"] = args.db
    if not args.skip_nyc:
        nyc(args.nyc, args.radius, args.days)
    if not args.skip_db:
        database(args)


# ---------------------------------------------------------------- (1) NYC 311

def _time(text: str) -> dt.datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %I:%M:%S %p",
                "%Y-%m-%d %H:%M:%S"):
        try:
            # NYC local time; only differences between records are used
            return dt.datetime.strptime(text, fmt)  # noqa: DTZ007
        except ValueError:
            pass
    return None


def nyc(path: Path, radius: float, days: float) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from shanzhi.incidents.duplicates import box, rank

    reports, skipped = [], Counter()
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            created, closed = _time(row["created_date"]), _time(row["closed_date"])
            try:
                lat, lng = float(row["latitude"]), float(row["longitude"])
            except ValueError:
                skipped["no point"] += 1
                continue
            if created is None:
                skipped["no created date"] += 1
                continue
            reports.append({"key": row["unique_key"], "type": row["complaint_type"],
                            "text": row["descriptor"], "created": created, "closed": closed,
                            "lng": lng, "lat": lat, "source": f"{row['source_repo']}:{row['source_path']}"})
    reports.sort(key=lambda r: r["created"])
    by_type: dict[str, list[dict]] = defaultdict(list)
    counts, per_source = [], defaultdict(list)
    window = dt.timedelta(days=days)
    started = time.perf_counter()
    similar = []
    for r in reports:
        earlier = by_type[r["type"]]  # the same type, in created order
        since = _first_after(earlier, r["created"] - window)
        min_lng, min_lat, max_lng, max_lat = box(r["lng"], r["lat"], radius)
        candidates = [(e, e["lng"], e["lat"], e["text"]) for e in earlier[since:]
                      if e["created"] < r["created"]
                      and (e["closed"] is None or e["closed"] > r["created"])
                      and min_lng <= e["lng"] <= max_lng and min_lat <= e["lat"] <= max_lat]
        found = rank(lng=r["lng"], lat=r["lat"], text=r["text"], candidates=candidates,
                     radius_m=radius)
        counts.append(len(found))
        per_source[r["source"]].append(len(found))
        similar.extend(sim for _e, _d, sim in found)
        earlier.append(r)
    elapsed = time.perf_counter() - started
    print(f"NYC 311: {len(reports):,} reports with a point and a time "
          f"({', '.join(f'{n} {k}' for k, n in skipped.items()) or 'none skipped'}), "
          f"{len(by_type)} complaint types; rule: same type, open at the time, "
          f"≤ {radius:g} m, ≤ {days:g} days")
    print(f"  {'source':<58}{'reports':>8}{'span':>8}{'mean':>7}{'median':>7}{'p95':>5}{'max':>5}{'≥1':>7}")
    spans = defaultdict(list)
    for r in reports:
        spans[r["source"]].append(r["created"])
    for source, values in sorted(per_source.items(), key=lambda kv: -len(kv[1])):
        hours = (max(spans[source]) - min(spans[source])).total_seconds() / 3600
        span = f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} d"
        print(f"  {source[-58:]:<58}{len(values):>8,}{span:>8}" + _figures(values))
    print(f"  {'all':<58}{len(counts):>8,}{'':>8}" + _figures(counts))
    if similar:
        print(f"  similarity of the candidates found: mean {statistics.fmean(similar):.2f}, "
              f"share ≥ 0.5: {sum(s >= 0.5 for s in similar) / len(similar):.0%}")
    print(f"  pure rule time: {elapsed / len(reports) * 1e6:.0f} µs per report\n", flush=True)


def _first_after(rows: list[dict], instant: dt.datetime) -> int:
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid]["created"] <= instant:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _figures(values: list[int]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    share = sum(v > 0 for v in values) / len(values)
    return (f"{statistics.fmean(values):>7.2f}{statistics.median(values):>7.0f}{p95:>5}"
            f"{ordered[-1]:>5}{share:>7.1%}")


# ---------------------------------------------------------------- (2) PostgreSQL at 1 M

#: District centres (lng, lat) of the synthetic city, roughly Suzhou's.
CENTRES = [(120.62, 31.32), (120.58, 31.30), (120.67, 31.30), (120.55, 31.36), (120.73, 31.33),
           (120.63, 31.25), (120.60, 31.40), (120.70, 31.38), (120.52, 31.27), (120.76, 31.27)]
TEMPLATES = ["{p}有{t}，已经好几天了", "{p}附近{t}，请尽快处理", "市民反映{p}{t}", "{t}，位置在{p}",
             "网格员巡查发现{p}{t}", "{p}一带{t}，影响通行"]
PLACES = ["人民路", "干将路", "观前街", "十全街", "凤凰街", "临顿路", "石路", "金鸡湖大道",
          "星湖街", "东环路", "西环路", "南门路", "三香路", "竹辉路", "平江路", "景德路"]


def database(args) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from shanzhi.incidents.models import Incident

    if not args.keep_db:
        _recreate(args.db)
        connection.close()
    call_command("migrate", interactive=False, verbosity=0)
    if not (args.keep_db and Incident.objects.count() >= args.incidents):
        generate(args)
    measure(args)


def _recreate(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _territory():
    from shapely.geometry import box as square

    from shanzhi.geo.models import Level, Region
    from shanzhi.geo.services import NewNode, regions_add

    existing = list(Region.objects.filter(level=Level.DISTRICT).order_by("code"))
    if existing:
        return existing
    (city,) = regions_add(level=Level.CITY, nodes=[NewNode(
        code="320500", name="苏州市", geometry=square(120.4, 31.1, 120.9, 31.5))])
    return regions_add(level=Level.DISTRICT, nodes=[
        NewNode(code=f"3205{i + 1:02d}", name=f"第{i + 1}区",
                geometry=square(120.4 + 0.05 * i, 31.1, 120.45 + 0.05 * i, 31.5), parent=city)
        for i in range(len(CENTRES))])


def _zipf(k: int, rng):
    import numpy as np

    w = 1.0 / np.arange(1, k + 1) ** 1.1
    rng.shuffle(w)
    return w / w.sum()


def _draw(rng, n: int, categories: list, weights):
    """Categories, points and ages (seconds) of n reports: the same law for
    the stored incidents and for the checks."""
    import numpy as np

    cat = rng.choice(len(categories), n, p=weights)
    centre = rng.integers(0, len(CENTRES), n)
    c = np.asarray(CENTRES)[centre]
    # half the reports near a centre (σ ≈ 1.5 km), half spread over the district (σ ≈ 6 km)
    sigma = np.where(rng.random(n) < 0.5, 0.015, 0.06)
    lng = c[:, 0] + rng.normal(0, 1, n) * sigma
    lat = c[:, 1] + rng.normal(0, 1, n) * sigma * 0.86
    return cat, centre, lng, lat


def generate(args) -> None:
    import numpy as np
    from django.db import connection
    from django.utils import timezone

    from shanzhi.incidents.models import Category, Incident

    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    districts = _territory()
    categories = list(Category.objects.filter(parent__isnull=False).order_by("code")
                      .values_list("id", "name"))
    weights = _zipf(len(categories), np.random.default_rng(args.seed))
    n = args.incidents
    with connection.cursor() as c:
        c.execute(f"TRUNCATE {Incident._meta.db_table} CASCADE")
    cat, centre, lng, lat = _draw(rng, n, categories, weights)
    age = rng.random(n) * args.spread * 86400
    now = timezone.now()
    states = ["reported", "registered", "dispatched", "in_progress", "handled"]
    state = rng.choice(len(states), n, p=[0.1, 0.2, 0.2, 0.4, 0.1])
    tmpl = rng.integers(0, len(TEMPLATES), n)
    place = rng.integers(0, len(PLACES), n)
    cols = ("id, number, channel, category_id, urgency, description, address, lng, lat, "
            "region_id, path, holder_id, state, version, contact_name, contact_phone, reported_at, "
            "created_at, updated_at, extra, stage, overdue, warned, self_resolved, return_count, "
            "rework_count, supervise_count, extension_count, escalate_count, reopen_count")
    print(f"generating {n:,} open incidents over {args.spread:g} days …", flush=True)
    chunk = 200_000
    buf = io.StringIO()
    for i in range(n):
        pk = i + 1
        d = districts[centre[i]]
        reported = (now - dt.timedelta(seconds=float(age[i]))).isoformat()
        text = TEMPLATES[tmpl[i]].format(p=PLACES[place[i]], t=categories[cat[i]][1])
        phone = _phone(pk)
        buf.write(f"{pk}\tSJ{pk:012d}\thotline_12345\t{categories[cat[i]][0]}\tnormal\t{text}\t\t"
                  f"{lng[i]:.6f}\t{lat[i]:.6f}\t{d.pk}\t{d.path}\t{d.pk}\t{states[state[i]]}\t1\t\t{phone}\t"
                  f"{reported}\t{reported}\t{reported}\t{{}}\t\tf\tf\tf\t0\t0\t0\t0\t0\t0\n")
        if pk % chunk == 0 or pk == n:
            with connection.cursor() as c, c.cursor.copy(
                    f"COPY {Incident._meta.db_table} ({cols}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
            print(f"  {pk:,} ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as c:
        c.execute(f"SELECT setval(pg_get_serial_sequence('{Incident._meta.db_table}', 'id'), {n})")
        c.execute(f"VACUUM ANALYZE {Incident._meta.db_table}")
    print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)


def _phone(pk: int) -> str:
    """A caller's number: every 300,000th incident has the same caller (≈ 3 each)."""
    return f"139{pk % 300_000:08d}"


def _percentiles(ms: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return q[49], q[94], q[98]


def measure(args) -> None:
    import numpy as np
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from shanzhi.accounts.scope import Scope
    from shanzhi.geo.models import Level, Region
    from shanzhi.incidents.duplicates import candidates_query, possible_duplicates, repeats
    from shanzhi.incidents.models import Category, Incident

    settings.DEBUG = False
    rng = np.random.default_rng(args.seed + 1)
    categories = list(Category.objects.filter(parent__isnull=False).order_by("code")
                      .values_list("code", "name"))
    weights = _zipf(len(categories), np.random.default_rng(args.seed))
    cat, centre, lng, lat = _draw(rng, args.checks, categories, weights)
    districts = list(Region.objects.filter(level=Level.DISTRICT).order_by("code"))
    now = timezone.now()
    checks = [dict(category=categories[cat[i]][0], lng=float(lng[i]), lat=float(lat[i]),
                   text=TEMPLATES[i % len(TEMPLATES)].format(p=PLACES[i % len(PLACES)],
                                                             t=categories[cat[i]][1]))
              for i in range(args.checks)]
    scopes = [Scope(paths=(districts[centre[i]].path,), role="operator")
              for i in range(args.checks)]
    total = Incident.objects.count()
    with connection.cursor() as c:
        c.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX])
        print(f"the index: {(c.fetchone() or ['missing'])[0]}")
    open_in_window = Incident.objects.filter(
        reported_at__gt=now - dt.timedelta(days=args.days)).count()
    hottest = max(range(len(categories)), key=lambda k: weights[k])
    in_hottest = Incident.objects.filter(category__code=categories[hottest][0],
                                         reported_at__gt=now - dt.timedelta(days=args.days)).count()
    print(f"PostgreSQL {connection.cursor().connection.info.server_version // 10000}: "
          f"{total:,} open incidents ({open_in_window:,} in the last {args.days:g} days; "
          f"the most frequent category {categories[hottest][0]} {in_hottest:,}), "
          f"{len(categories)} categories; {args.checks:,} checks, ≤ {args.radius:g} m, "
          f"≤ {args.days:g} days\n", flush=True)

    def run(fn, n: int | None = None) -> tuple[list[float], list]:
        for item in warm[:20]:  # the connection and the plan
            fn(item, scopes[0])
        times, outs = [], []
        for item, scope in zip(checks[:n], scopes[:n], strict=True):  # n None: all
            t = time.perf_counter()
            outs.append(fn(item, scope))
            times.append((time.perf_counter() - t) * 1000)
        return times, outs

    def check(item, scope):
        return possible_duplicates(**item, now=now, radius_m=args.radius, days=args.days)

    def check_scoped(item, scope):
        return possible_duplicates(**item, now=now, scope=scope, radius_m=args.radius,
                                   days=args.days)

    def query_alone(item, scope):
        sql, params = candidates_query(category=item["category"], lng=item["lng"],
                                       lat=item["lat"], now=now, radius_m=args.radius,
                                       days=args.days).query.sql_with_params()
        with connection.cursor() as c:
            c.execute(sql, params)
            return c.fetchall()

    pks = iter(rng.integers(1, total + 1, 3 * args.checks + 100).tolist())
    phones = iter(rng.integers(1, total + 1, 3 * args.checks + 100).tolist())

    def pk_lookup(item, scope):
        return Incident.objects.select_related("category").filter(pk=next(pks)).first()

    def caller(item, scope):
        return repeats(phone=f"+86 {_phone(next(phones))}", now=now, days=30)

    # the ways are interleaved check by check (in turn, each first once), so the
    # machine's noise falls on each alike; a warm-up pass over other points first,
    # as a serving database has its hot index pages in memory
    ways = {"floor": pk_lookup, "city": check, "scoped": check_scoped, "query": query_alone,
            "repeats": caller}
    wcat, _wc, wlng, wlat = _draw(np.random.default_rng(args.seed + 2), args.checks, categories,
                                  weights)
    warm = [dict(category=categories[wcat[i]][0], lng=float(wlng[i]), lat=float(wlat[i]),
                 text=checks[i]["text"]) for i in range(args.checks)]
    for item in warm:
        for fn in ways.values():
            fn(item, scopes[0])
    times: dict[str, list[float]] = {name: [] for name in ways}
    outs: dict[str, list] = {name: [] for name in ways}
    names = list(ways)
    for k, (item, scope) in enumerate(zip(checks, scopes, strict=True)):
        for name in names[k % len(names):] + names[:k % len(names)]:
            t = time.perf_counter()
            outs[name].append(ways[name](item, scope))
            times[name].append((time.perf_counter() - t) * 1000)
    floor, city, scoped, query_ms, repeat_ms = (times[name] for name in names)
    found, repeat_found = outs["city"], outs["repeats"]
    n = min(args.baseline_checks, len(checks))
    baselines = {}
    for name, ddl in ((f"without {INDEX} (n={n})", []),
                      (f"with (category, -reported_at) (n={n})",
                       [f"CREATE INDEX {INDEX} ON {Incident._meta.db_table} (category_id, "
                        f"reported_at DESC) WHERE state IN ('dispatched', 'handled', "
                        f"'in_progress', 'registered', 'reported')", "ANALYZE incidents_incident"])):
        with transaction.atomic():
            with connection.cursor() as c:
                c.execute(f"DROP INDEX {INDEX}")
                for statement in ddl:
                    c.execute(statement)
            baselines[name] = run(check, n)
            transaction.set_rollback(True)
    counts = [len(x) for x in found]
    print(f"{'':<50}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    rows = [("primary-key lookup (the floor)", floor),
            ("possible_duplicates, the city", city),
            ("possible_duplicates, a district operator", scoped),
            ("  its query alone (SQL through the cursor)", query_ms),
            ("repeats (30 days, a +86 phone)", repeat_ms),
            *((f"the city, {name}", ms) for name, (ms, _o) in baselines.items())]
    for name, ms in rows:
        p50, p95, p99 = _percentiles(ms)
        print(f"{name:<50}{p50:>9.2f}{p95:>9.2f}{p99:>9.2f}{max(ms):>9.2f}")
    p50, p95, _p99 = _percentiles(city)
    f50, _f95, _f99 = _percentiles(floor)
    print()
    for name, (ms, outs) in baselines.items():
        b50, b95, b99 = _percentiles(ms)
        w50, w95, w99 = _percentiles(city[:n])
        same = sum([d.incident.pk for d in a] == [d.incident.pk for d in b]
                   for a, b in zip(found[:n], outs, strict=True))
        print(f"ratio {name} / with it, on the same checks: p50 {b50 / w50:.1f}×, "
              f"p95 {b95 / w95:.1f}×, p99 {b99 / w99:.1f}×; same answers {same}/{n}")
    print(f"the check / a primary-key lookup (p50): {p50 / f50:.1f}×")
    print(f"target p95 < 20 ms: {'met' if p95 < 20 else 'NOT met'} ({p95:.2f} ms)")
    print(f"candidates per check (limit 5): mean {statistics.fmean(counts):.2f}, "
          f"share ≥ 1 {sum(c > 0 for c in counts) / len(counts):.0%}; repeats found per "
          f"caller: mean {statistics.fmean(len(r) for r in repeat_found):.2f}")
    # the hardest check: the most frequent category at the densest point (a district centre)
    item = dict(category=categories[hottest][0], lng=CENTRES[0][0], lat=CENTRES[0][1])
    qs = candidates_query(**item, now=now, radius_m=args.radius, days=args.days)
    with connection.cursor() as c:
        sql, params = qs.query.sql_with_params()
        c.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        print(f"\nEXPLAIN ANALYZE of the hardest check ({item['category']} at a district centre,"
              f" {len(list(qs))} rows in the box):")
        for (line,) in c.fetchall():
            print("  " + line)


if __name__ == "__main__":
    main()
