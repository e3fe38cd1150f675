"""Open311 GeoReport v2 at scale: ``GET requests.json`` answering 1,000
requests from a database of a million incidents (p50/p99), and POST
throughput, each against a baseline measured in the same run.

    .venv/bin/python benchmarks/open311.py                  # PostgreSQL, 1,000,000 incidents
    .venv/bin/python benchmarks/open311.py --incidents 200000 --gets 50 --posts 300
    .venv/bin/python benchmarks/open311.py --keep \
        --database-url postgresql://postgres@127.0.0.1:5432/shanzhi_open311_bench

Steps, in one run:

1. a throwaway PostgreSQL database (its name must contain "bench"; created
   and dropped by the script, ``--keep`` keeps it) holding the Suzhou demo
   territory (``build_demo``, 10,400 grids);
2. ``--incidents`` incidents written by COPY, the rows the services would
   write: each incident reported over the last 365 days at a point of a
   random grid (its community, path, town centre as holder, a category of
   the demo's mix, its deadline), 80 % closed by a department (with the
   ``report``, ``report_result`` and ``verify_pass`` timeline rows, the
   last two carrying the public note), 5 % rejected (``reject`` with its
   reason), the rest open in every state; then ``VACUUM ANALYZE``. The
   intermediate steps (accept, dispatch, sign) and the stage rows are left
   out: no Open311 read touches them;
3. a real server (``uvicorn shanzhi.asgi:application``, ``--workers``) and an
   Open311 API key;
4. GET: ``--gets`` sequential requests of each query after 5 warm-ups, p50/p99:
   the default (the newest 1,000 of the last 90 days), a filtered one
   (``status=open&service_code=…``, two codes), a 30-day window 200 days ago,
   and page 50 of the default. Baseline: the bare SQL of the same 1,000 rows
   (incidents with their department and centre names, the public notes,
   the Open311 extras) through psycopg, no Django, no HTTP;
5. POST: ``--posts`` reports from ``--clients`` threads (form bodies, a point
   in a random grid, an attribute), every answer must be 200. Baseline:
   ``incident_report`` called in process, the same bodies, no HTTP.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from _setup import (  # benchmarks/ is on sys.path as a script
    ROOT,
    drop_database,
    start_server,
    stop_server,
    throwaway_database,
)

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/shanzhi_open311_bench"
CATEGORIES = {"SJ0102": 14, "SJ0404": 9, "SJ0402": 9, "SJ0405": 8, "SJ0201": 6, "SJ0104": 5,
              "ZZ0501": 5, "ZZ0402": 3, "SJ0301": 3, "SJ0303": 2, "ZZ0803": 4}
OPEN_STATES = ["reported", "registered", "dispatched", "in_progress", "handled"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("SHANZHI_DATABASE_URL")
                        or DEFAULT_POSTGRES, help=f"PostgreSQL (default {DEFAULT_POSTGRES})")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--gets", type=int, default=100, help="requests per GET query (100)")
    parser.add_argument("--posts", type=int, default=1000, help="POST reports (1,000)")
    parser.add_argument("--clients", type=int, default=8, help="POST client threads (8)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (2)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        raise SystemExit("this benchmark needs PostgreSQL (a million incidents)")
    url = throwaway_database(args.database_url)
    data_dir = Path(tempfile.mkdtemp(prefix="shanzhi-open311-"))
    os.environ.update(SHANZHI_DATABASE_URL=url, SHANZHI_DATA_DIR=str(data_dir),
                      DJANGO_SETTINGS_MODULE="shanzhi.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    server = None
    try:
        started = time.perf_counter()
        _build(args)
        print(f"  database ready in {time.perf_counter() - started:.0f} s", flush=True)
        from shanzhi.open311.services import key_create

        _key, secret = key_create(name="benchmark", rate_limit=10**8)
        server, port = start_server(data_dir, url, args.workers)
        ok = _measure(args, url, port, secret)
    finally:
        if server is not None:
            stop_server(server)
        from django.db import connections

        connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)
        if not args.keep:
            drop_database(url)
    return 0 if ok else 1


# ---------------------------------------------------------------- the database

def _build(args) -> None:
    from django.core.management import call_command
    from django.db import connection

    from shanzhi.demo.load import build_demo

    call_command("migrate", interactive=False, verbosity=0)
    print("building the Suzhou demo territory …", flush=True)
    build_demo(progress=lambda message: print(f"  {message}", flush=True))
    print(f"writing {args.incidents:,} incidents by COPY …", flush=True)
    began = time.perf_counter()
    _generate(args.incidents, random.Random(args.seed))
    print(f"  written in {time.perf_counter() - began:.0f} s; VACUUM ANALYZE …", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _generate(count: int, rng: random.Random) -> None:
    """Incidents and their timeline rows, as the services would write them."""
    import shapely
    from django.db import connection, transaction
    from django.utils import timezone

    from shanzhi.accounts.models import Department, User
    from shanzhi.geo.models import Grid, Region
    from shanzhi.incidents.models import Incident, TimelineEntry
    from shanzhi.incidents.rulebook import rule_book

    book = rule_book().categories
    categories = [(book[c][0].pk, book[c][1].pk, w) for c, w in CATEGORIES.items() if c in book]
    cat_weights = [w for *_x, w in categories]
    parents = dict(Region.objects.values_list("pk", "parent_id"))
    paths = dict(Region.objects.values_list("pk", "path"))
    departments: dict[int, list[int]] = {}
    for pk, region_id in Department.objects.values_list("pk", "region_id"):
        departments.setdefault(region_id, []).append(pk)
    grids = []
    for pk, community, wkb in Grid.objects.current().values_list("pk", "community_id",
                                                                 "geometry"):
        point = shapely.from_wkb(bytes(wkb)).representative_point()
        town = parents[community]
        district = parents.get(town)
        grids.append((pk, community, town, departments.get(district) or departments.get(town)
                      or [None], point.x, point.y))
    actor = User.objects.filter(username="city_operator").values_list("pk", flat=True).first()
    now = timezone.now()
    year = 365 * 86400
    concrete = [f for f in Incident._meta.concrete_fields if not f.primary_key]
    incident_columns = ["id"] + [f.column for f in concrete]
    entry_columns = ["incident_id", "action", "actor_id", "at", "from_state", "to_state", "data"]
    defaults = {f.attname: f.get_default() for f in concrete}
    next_entry_rows: list[tuple] = []

    def adapt(value):
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return value

    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY incidents_incident ({', '.join(incident_columns)}) FROM STDIN") \
                as copy:
            for pk in range(1, count + 1):
                grid, community, town, depts, lng, lat = rng.choice(grids)
                cat, rules, _w = rng.choices(categories, cat_weights)[0]
                reported = now - dt.timedelta(seconds=rng.random() * year)
                roll = rng.random()
                state = ("closed" if roll < 0.80 else "rejected" if roll < 0.85
                         else rng.choice(OPEN_STATES))
                department = rng.choice(depts) if state not in ("reported", "registered",
                                                                "rejected") else None
                closed_at = (reported + dt.timedelta(hours=rng.uniform(2, 200))
                             if state in ("closed", "rejected") else None)
                row = dict(defaults)
                row.update(
                    number=f"SJ{timezone.localtime(reported):%Y%m%d}{pk:08d}", channel=rng.choice(
                        ["grid_patrol", "hotline_12345", "open311", "citizen_web"]),
                    category_id=cat, rules_id=rules, description=f"压测事件 {pk}：现场情况描述",
                    address=f"苏州市某路{pk % 999}号", lng=lng, lat=lat, grid_id=grid,
                    region_id=community, path=paths[community], holder_id=town,
                    department_id=department, state=state, reporter_id=actor,
                    contact_name="张先生" if pk % 2 else "", reported_at=reported,
                    created_at=reported, updated_at=closed_at or reported,
                    closed_at=closed_at, version=1 if state == "reported" else 4,
                    stage="" if closed_at else "handle",
                    due_at=None if closed_at else reported + dt.timedelta(days=5),
                    warn_at=None if closed_at else reported + dt.timedelta(days=4))
                copy.write_row([pk] + [adapt(row[f.attname]) for f in concrete])
                next_entry_rows.append((pk, "report", actor, reported, "", "reported",
                                        {"channel": row["channel"]}))
                if state == "closed":
                    next_entry_rows.append((pk, "report_result", None, closed_at
                                            - dt.timedelta(hours=1), "in_progress", "handled",
                                            {"result": "已处置完毕"}))
                    next_entry_rows.append((pk, "verify_pass", None, closed_at, "handled",
                                            "closed", {"note": ""}))
                elif state == "rejected":
                    next_entry_rows.append((pk, "reject", None, closed_at, "reported",
                                            "rejected", {"reason": "重复上报"}))
        table = TimelineEntry._meta.db_table
        with raw.copy(f"COPY {table} ({', '.join(entry_columns)}) FROM STDIN") as copy:
            for entry in next_entry_rows:
                copy.write_row([adapt(v) for v in entry])
        cursor.execute("SELECT setval(pg_get_serial_sequence('incidents_incident', 'id'), %s)",
                       [count])
    print(f"  {count:,} incidents, {len(next_entry_rows):,} timeline rows", flush=True)


# ---------------------------------------------------------------- the server

# ---------------------------------------------------------------- measuring

def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _gets(port: int, path: str, times: int) -> tuple[list[float], int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies, size, rows = [], 0, 0
    for i in range(times + 5):
        began = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        if i >= 5:
            latencies.append((time.perf_counter() - began) * 1000)
        size, rows = len(body), len(json.loads(body))
    conn.close()
    return latencies, size, rows


def _bare_sql(url: str, times: int) -> list[float]:
    """The same 1,000 rows by plain SQL: what no framework can beat."""
    import psycopg

    now = dt.datetime.now(dt.UTC)
    latencies = []
    with psycopg.connect(url) as conn:
        for i in range(times + 5):
            began = time.perf_counter()
            rows = conn.execute(
                "SELECT i.id, i.number, i.state, i.description, i.address, i.lat, i.lng, "
                "i.reported_at, i.updated_at, i.closed_at, i.due_at, i.category_id, d.name, "
                "h.name, c.publication FROM incidents_incident i LEFT JOIN accounts_department d "
                "ON d.id = i.department_id JOIN geo_region h ON h.id = i.holder_id "
                "JOIN incidents_category c ON c.id = i.category_id "
                "WHERE i.reported_at BETWEEN %s AND %s AND i.channel = 'open311' "
                "AND c.publication IN ('public', 'coarse') "
                "ORDER BY i.reported_at DESC, i.id DESC "
                "LIMIT 1000", [now - dt.timedelta(days=90), now]).fetchall()
            ids = [r[0] for r in rows]
            conn.execute("SELECT incident_id, action, data FROM incidents_timelineentry WHERE "
                         "incident_id = ANY(%s) AND action = ANY(%s) ORDER BY at, id",
                         [ids, ["reject", "self_resolve", "report_result", "verify_pass",
                                "reopen"]]).fetchall()
            conn.execute("SELECT incident_id, media_url, address_id FROM "
                         "open311_servicerequest WHERE incident_id = ANY(%s)", [ids]).fetchall()
            if i >= 5:
                latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def _bodies(count: int, rng: random.Random, secret: str) -> list[dict]:
    import shapely

    from shanzhi.geo.models import Grid

    grids = list(Grid.objects.current().values_list("geometry", flat=True)[:2000])
    out = []
    for i in range(count):
        point = shapely.from_wkb(bytes(rng.choice(grids))).representative_point()
        out.append({"api_key": secret, "service_code": "SJ0102", "lat": f"{point.y:.6f}",
                    "long": f"{point.x:.6f}", "description": f"Open311 压测 {i}：路边垃圾",
                    "attribute[location_desc]": "东门口", "email": "a@example.cn"})
    return out


def _posts(port: int, bodies: list[dict], clients: int) -> tuple[float, list[float], dict]:
    lock = threading.Lock()
    position = iter(range(len(bodies)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                break
            began = time.perf_counter()
            conn.request("POST", "/open311/v2/requests.json", body=urlencode(bodies[i]),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
            with lock:
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, statuses


def _in_process(bodies: list[dict]) -> float:
    from shanzhi.accounts.models import User
    from shanzhi.incidents.services import incident_report

    actor = User.objects.get(username="city_operator")
    began = time.perf_counter()
    for body in bodies:
        incident_report(actor=actor, channel="open311", description=body["description"],
                        category="SJ0102", lat=float(body["lat"]), lng=float(body["long"]),
                        extra={"location_desc": "东门口"})
    return len(bodies) / (time.perf_counter() - began)


def _measure(args, url: str, port: int, secret: str) -> bool:
    rng = random.Random(args.seed)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=200)
    # with the key: a keyless client gets pages of 100 and 60 reads a minute
    # (the publication policy, docs/open311.md); both read what the policy publishes
    key = f"api_key={secret}&"
    queries = [
        ("default: newest 1,000 of 90 days", f"/open311/v2/requests.json?{key}"),
        ("status=open, 2 service codes", f"/open311/v2/requests.json?{key}status=open&"
         "service_code=SJ0102,SJ0402"),
        ("30 days, 200 days ago", f"/open311/v2/requests.json?{key}" + urlencode({
            "start_date": (old - dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_date": old.strftime("%Y-%m-%dT%H:%M:%SZ")})),
        ("page 50 of the default", f"/open311/v2/requests.json?{key}page=50"),
    ]
    print(f"\nGET requests.json, {args.incidents:,} incidents, {args.gets} requests each "
          f"({args.workers} server workers)")
    print(f"{'query':36} {'rows':>5} {'KB':>6} {'p50 ms':>8} {'p99 ms':>8}")
    default_p50 = None
    for label, path in queries:
        latencies, size, rows = _gets(port, path, args.gets)
        p50 = statistics.median(latencies)
        default_p50 = default_p50 or p50
        print(f"{label:36} {rows:>5} {size / 1024:>6.0f} {p50:>8.1f} {_pct(latencies, .99):>8.1f}")
    bare = _bare_sql(url, args.gets)
    bare_p50 = statistics.median(bare)
    print(f"{'baseline: bare SQL, same 1,000 rows':36} {1000:>5} {'':>6} {bare_p50:>8.1f} "
          f"{_pct(bare, .99):>8.1f}")
    print(f"API / bare SQL (p50): {default_p50 / bare_p50:.1f}x")

    bodies = _bodies(args.posts + 200, rng, secret)
    seconds, latencies, statuses = _posts(port, bodies[:args.posts], args.clients)
    rate = args.posts / seconds
    direct = _in_process(bodies[args.posts:])
    print(f"\nPOST requests.json: {args.posts:,} reports, {args.clients} clients")
    print(f"  {rate:.0f} requests/s, p50 {statistics.median(latencies):.0f} ms, "
          f"p99 {_pct(latencies, .99):.0f} ms, statuses {statuses}")
    print(f"  baseline incident_report in process (no HTTP, one thread): {direct:.0f}/s; "
          f"ratio {rate / direct:.2f}")
    return set(statuses) == {200}


if __name__ == "__main__":
    sys.exit(main())
