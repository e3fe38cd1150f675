"""How many incidents per second the HTTP API takes in, end to end, against a
bare INSERT loop writing the same rows.

    .venv/bin/python benchmarks/intake.py                      # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/intake.py --database-url sqlite
    .venv/bin/python benchmarks/intake.py --database-url postgresql://postgres@127.0.0.1:5432/shanzhi_bench
    .venv/bin/python benchmarks/intake.py --requests 1000 --clients 8 --workers 2
    .venv/bin/python benchmarks/intake.py --database-url sqlite --profile 300

For each database, in a child process of its own (Django reads its settings once):

1. a database holding the Suzhou demo territory (``build_demo``): SQLite in a
   throwaway data directory (``--reuse`` keeps it), PostgreSQL in a throwaway
   database that the script creates and drops (its name must contain
   "bench": ``shanzhi_bench`` unless the URL names another);
2. bearer tokens for the 12345 hotline operator and 200 grid workers, and
   ``--requests`` reports (hotline with a contact, or a worker's patrol report
   from a random point of their own grid; the category mix of the demo);
3. a real server: ``uvicorn shanzhi.asgi:application`` on 127.0.0.1 with
   ``--workers`` processes, warmed up (each process loads the spatial index);
4. the load: ``--clients`` threads, each with a keep-alive ``http.client``
   connection, POST /api/v1/incidents (locate, route, timeline row, stage
   deadline, notifications, the response with the incident's detail);
   incidents/s over the whole run, latency p50/p99, every answer must be 201;
5. the baseline, in the same run: the same Incident, IncidentStage,
   TimelineEntry and Notification rows (copied from what the API wrote) by a
   bare loop of ``bulk_create`` calls, 100 incidents a transaction, no services.

Prints a table with both rates and their ratio, and whether the target
(≥ 300 incidents/s on PostgreSQL) is met. ``--profile N`` instead runs N
reports through Django's test client in process under cProfile (the request
path without HTTP) and prints the top functions.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _setup import (  # benchmarks/ is on sys.path as a script
    ROOT,
    add_data_arguments,
    drop_database,
    start_server,
    stop_server,
    throwaway_database,
)

TARGET_PER_S = 300
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/shanzhi_bench"
WORKER_TOKENS = 200
CATEGORIES = {"SJ0102": 14, "SJ0404": 9, "SJ0402": 9, "SJ0405": 8, "SJ0201": 6, "SJ0104": 5,
              "ZZ0501": 5, "ZZ0402": 3, "ZZ0101": 4, "SJ0301": 3, "SJ0303": 2, "ZZ0803": 4}
EXTRA = {"ZZ0101": {"dispute_type": "neighbour"}}


# ---------------------------------------------------------------- the parent

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", action="append", metavar="URL",
                        help="'sqlite' or a postgresql:// URL (repeatable); default: "
                        "SHANZHI_DATABASE_URL if set, else SQLite and " + DEFAULT_POSTGRES)
    parser.add_argument("--requests", type=int, default=3000, help="reports to send (3,000)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (8)")
    parser.add_argument("--workers", type=int, default=0,
                        help="server processes (default: 2 on PostgreSQL, 1 on SQLite)")
    parser.add_argument("--interface", choices=["asgi", "wsgi"], default="asgi",
                        help="serve shanzhi.asgi (default, as `shanzhi serve` does) or "
                        "shanzhi.wsgi through uvicorn's WSGI thread pool (for comparison)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile N reports in process instead of serving them")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL database instead of dropping it")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    if args.child:
        return child(args, args.database_url[0])

    urls = args.database_url or ([os.environ["SHANZHI_DATABASE_URL"]]
                                 if os.environ.get("SHANZHI_DATABASE_URL")
                                 else ["sqlite", DEFAULT_POSTGRES])
    results = []
    for url in urls:
        print(f"\n=== {_label(url)} ===", flush=True)
        command = [sys.executable, __file__, "--child", "--database-url", url,
                   "--requests", str(args.requests), "--clients", str(args.clients),
                   "--workers", str(args.workers), "--seed", str(args.seed),
                   "--interface", args.interface,
                   "--profile", str(args.profile)]
        if args.reuse:
            command += ["--reuse", args.reuse]
        if args.keep:
            command.append("--keep")
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        lines = done.stdout.splitlines()
        print("\n".join(line for line in lines if not line.startswith("RESULT ")), flush=True)
        results += [json.loads(line[7:]) for line in lines if line.startswith("RESULT ")]
        if done.returncode:
            print(f"  the {_label(url)} run failed (exit {done.returncode})")
    if results:
        _table(results)
    ok = bool(results) and all(r["ok"] for r in results) and len(results) == len(urls)
    return 0 if ok else 1


def _label(url: str) -> str:
    return "SQLite" if url == "sqlite" else "PostgreSQL"


def _table(results: list[dict]) -> None:
    rows = [("database", "API incidents/s", "bare INSERT incidents/s", "API / bare",
             "latency p50 / p99", "server")]
    for r in results:
        rows.append((r["database"], f"{r['api_per_s']:,.0f}", f"{r['bare_per_s']:,.0f}",
                     f"{r['api_per_s'] / r['bare_per_s']:.1%}",
                     f"{r['p50_ms']:.0f} / {r['p99_ms']:.0f} ms",
                     f"{r['interface']}, {r['workers']} worker(s), {r['clients']} clients"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print("\n" + "=" * (sum(widths) + 2 * len(widths)))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print("=" * (sum(widths) + 2 * len(widths)))
    for r in results:
        if r["database"] == "PostgreSQL":
            verdict = "MET" if r["api_per_s"] >= TARGET_PER_S else "MISSED"
            print(f"target ≥ {TARGET_PER_S} incidents/s through the API on PostgreSQL: "
                  f"{verdict} ({r['api_per_s']:,.0f}/s with {r['requests']:,} reports)")


# ---------------------------------------------------------------- one database

def child(args, url: str) -> int:
    postgres = url != "sqlite"
    started = time.perf_counter()
    if postgres:
        url = throwaway_database(url)
        data_dir = Path(tempfile.mkdtemp(prefix="shanzhi-intake-"))
        os.environ.update(SHANZHI_DATABASE_URL=url, SHANZHI_DATA_DIR=str(data_dir),
                          DJANGO_SETTINGS_MODULE="shanzhi.settings")
        import django

        django.setup()
        from django.core.management import call_command

        from shanzhi.demo.load import build_demo

        call_command("migrate", interactive=False, verbosity=0)
        print("building the Suzhou demo in PostgreSQL …", flush=True)
        build_demo(progress=lambda message: print(f"  {message}", flush=True))
        # the statistics autovacuum would gather within a minute or two: without
        # them the planner walks all 10,400 grids for a grid worker's scope
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        from _setup import demo_database

        data_dir = demo_database(args.reuse).data_dir
    print(f"  database ready in {time.perf_counter() - started:.0f} s", flush=True)
    try:
        if args.profile:
            return _profile(args)
        result = _run(args, url, data_dir, postgres)
    finally:
        if postgres:
            from django.db import connections

            connections.close_all()
            shutil.rmtree(data_dir, ignore_errors=True)
            if not args.keep:
                drop_database(url)
    print("RESULT " + json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


def _reports(count: int, seed: int) -> list[tuple[str, dict]]:
    """(bearer token, JSON body) for each report: half from the 12345 hotline,
    half patrol reports of grid workers from inside their own grid."""
    import shapely

    from shanzhi.accounts.services import token_create
    from shanzhi.geo.models import Grid

    rng = random.Random(seed)
    grids = list(Grid.objects.current().order_by("code").values_list("code", "geometry"))
    chosen = rng.sample(grids, WORKER_TOKENS)
    workers = []
    for code, wkb in chosen:
        geometry = shapely.from_wkb(bytes(wkb))
        shapely.prepare(geometry)
        workers.append((token_create(username=f"gw{code}", name="intake benchmark"), geometry))
    hotline = token_create(username="city_operator", name="intake benchmark")
    codes, weights = list(CATEGORIES), list(CATEGORIES.values())
    out = []
    for i in range(count):
        token, geometry = rng.choice(workers)
        lng, lat = _inside(geometry, rng)
        category = rng.choices(codes, weights)[0]
        body = {"channel": "grid_patrol", "category": category, "lng": lng, "lat": lat,
                "description": f"压测事件 {i}：{category} 现场情况描述",
                "extra": EXTRA.get(category, {})}
        if i % 2:
            body.update(channel="hotline_12345", contact_name="张先生",
                        contact_phone=f"139{rng.randrange(10**8):08d}")
            token = hotline
        out.append((token, body))
    return out


def _inside(geometry, rng: random.Random) -> tuple[float, float]:
    import shapely

    minx, miny, maxx, maxy = geometry.bounds
    for _ in range(100):
        lng, lat = round(rng.uniform(minx, maxx), 7), round(rng.uniform(miny, maxy), 7)
        if shapely.contains_xy(geometry, lng, lat):
            return lng, lat
    point = geometry.representative_point()
    return point.x, point.y


def _send(port: int, work: list[tuple[str, dict]], clients: int) -> tuple[float, list, Counter]:
    """POST every report from ``clients`` threads; (seconds, latencies in ms, statuses)."""
    lock = threading.Lock()
    position = iter(range(len(work)))
    latencies: list[float] = []
    statuses: Counter = Counter()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, codes = [], Counter()
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                break
            token, body = work[i]
            payload = json.dumps(body).encode()
            began = time.perf_counter()
            conn.request("POST", "/api/v1/incidents", body=payload, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - began) * 1000)
            codes[response.status] += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, statuses


def _run(args, url: str, data_dir: Path, postgres: bool) -> dict:
    import numpy as np

    from shanzhi.incidents.models import Incident

    workers = args.workers or (2 if postgres else 1)
    work = _reports(args.requests + 40 * workers, args.seed)
    warmup, work = work[:40 * workers], work[40 * workers:]
    before = Incident.objects.count()
    server, port = start_server(data_dir, url, workers, args.interface)
    try:
        _seconds, _lat, statuses = _send(port, warmup, min(args.clients, 2 * workers))
        if set(statuses) != {201}:
            raise SystemExit(f"warm-up answers: {dict(statuses)}")
        first_id = Incident.objects.order_by("-id").values_list("id", flat=True).first()
        seconds, latencies, statuses = _send(port, work, args.clients)
    finally:
        stop_server(server)
    errors = Counter(line.strip() for line in (data_dir / "server.log").read_text(
        errors="replace").splitlines() if line and not line[0].isspace() and "Error" in line)
    for line, count in errors.most_common(3):
        print(f"  server log: {count} × {line[:160]}", flush=True)
    api_rate = statuses.get(201, 0) / seconds
    p50, p99 = np.percentile(latencies, [50, 99])
    made = Incident.objects.filter(id__gt=first_id)
    print(f"  API: {statuses.get(201, 0):,} reports in {seconds:.2f} s = {api_rate:,.0f}/s "
          f"({args.clients} clients, {workers} server worker(s)); p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms; answers {dict(statuses)}", flush=True)
    ok = set(statuses) == {201} and made.count() == len(work) == Incident.objects.count() - (
        before + len(warmup))
    bare_rate = _bare_inserts(list(made.values_list("id", flat=True)))
    print(f"  bare INSERT loop: {bare_rate:,.0f} incidents/s (the same 4 kinds of rows, "
          "bulk_create, 100 incidents a transaction)", flush=True)
    return {"database": "PostgreSQL" if postgres else "SQLite", "api_per_s": api_rate,
            "bare_per_s": bare_rate, "p50_ms": float(p50), "p99_ms": float(p99),
            "requests": len(work), "clients": args.clients, "workers": workers, "ok": ok,
            "interface": args.interface}


def _bare_inserts(ids: list[int]) -> float:
    """Write copies of the incidents ``ids`` and of their stage, timeline and
    notification rows with ``bulk_create`` only; incidents per second."""
    from django.db import transaction

    from shanzhi.cases.models import Notification
    from shanzhi.incidents.models import Incident, IncidentStage, TimelineEntry

    def rows(model, key: str) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {}
        for row in model.objects.filter(**{f"{key}__in": ids}).values():
            out.setdefault(row[key], []).append(row)
        return out

    incidents = {row["id"]: row for row in Incident.objects.filter(id__in=ids).values()}
    stages = rows(IncidentStage, "incident_id")
    entries = rows(TimelineEntry, "incident_id")
    notes = rows(Notification, "case_id")
    began = time.perf_counter()
    for start in range(0, len(ids), 100):
        batch = ids[start:start + 100]
        with transaction.atomic():
            copies = Incident.objects.bulk_create([
                Incident(**{**incidents[i], "id": None, "number": f"B{incidents[i]['number']}"})
                for i in batch])
            new_id = {old: copy.pk for old, copy in zip(batch, copies, strict=True)}

            def copy(model, found, i, new_id=new_id, key="incident_id"):
                return [model(**{**r, "id": None, key: new_id[i]}) for r in found.get(i, [])]

            IncidentStage.objects.bulk_create([r for i in batch
                                               for r in copy(IncidentStage, stages, i)])
            TimelineEntry.objects.bulk_create([r for i in batch
                                               for r in copy(TimelineEntry, entries, i)])
            Notification.objects.bulk_create([r for i in batch
                                              for r in copy(Notification, notes, i,
                                                            key="case_id")])
    return len(ids) / (time.perf_counter() - began)


def _profile(args) -> int:
    """N reports through the test client under cProfile: the request path
    without HTTP, for finding what to speed up."""
    import cProfile
    import pstats

    from django.test import Client

    work = _reports(args.profile + 20, args.seed)
    client = Client(HTTP_HOST="127.0.0.1")

    def post(token: str, body: dict) -> None:
        response = client.post("/api/v1/incidents", json.dumps(body),
                               content_type="application/json",
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.content

    for token, body in work[:19]:
        post(token, body)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        post(*work[19])
    print(f"  one report, {len(queries)} SQL statements:")
    for query in queries:
        print(f"    {query['sql'][:150]}")
    half = args.profile // 2
    began, cpu = time.perf_counter(), time.process_time()
    for token, body in work[20:20 + half]:
        post(token, body)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"  {half} reports in process, one at a time: {half / seconds:,.0f}/s; "
          f"{cpu / half * 1000:.2f} ms of this process's CPU a report")
    profile = cProfile.Profile(time.process_time)  # CPU, not time spent waiting for the server
    began = time.perf_counter()
    profile.enable()
    for token, body in work[20 + half:]:
        post(token, body)
    profile.disable()
    seconds = time.perf_counter() - began
    print(f"  {args.profile - half} more under cProfile: {(args.profile - half) / seconds:,.0f}/s")
    stats = pstats.Stats(profile)
    if os.environ.get("PROFILE_OUT"):
        stats.dump_stats(os.environ["PROFILE_OUT"])
    stats.sort_stats("cumulative").print_stats("shanzhi|ninja|auth|django", 60)
    stats.sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
