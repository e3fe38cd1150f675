"""How fast points find their grid: bulk, naive baseline, PostGIS, HTTP API.

    .venv/bin/python benchmarks/locate.py                 # 1,000,000 points
    .venv/bin/python benchmarks/locate.py --points 200000 --reuse

Builds the Suzhou demo (10,400 grids) in a throwaway SQLite data directory,
loads the spatial index and measures, in one run and on the same grids:

* ``SpatialIndex.locate_many`` on N random points (uniform in the city's
  bounding box): points/s, best of 3, and the peak memory of the call;
* a naive baseline on a subsample: a Python loop over the points, each tested
  with shapely ``covers`` against every grid whose bounding box holds it, in
  code order (the first hit is the grid with the lowest code, the same edge
  rule); its rate is extrapolated and set against the bulk rate;
* that both agree, on the subsample and on grid vertices (points exactly on
  the boundary shared by two or more grids);
* PostGIS ``ST_Contains`` with a GiST index on the same grids and points, in a
  throwaway database ``shanzhi_bench_locate`` (Debian's postgresql-15-postgis-3
  is installed with apt when missing, as root): one point per query over one
  connection, and all points in one query (``unnest`` arrays + ``LATERAL``),
  each as a ratio to the in-memory index, both checked to agree point by point
  (PostGIS is needed by this benchmark only, never by the product or the tests);
* single-point latency of ``GET /api/v1/geo/locate`` through a real uvicorn
  server on 127.0.0.1 with a bearer token, and of ``SpatialIndex.locate``.

Prints a summary table; exits 0 (1 only if the methods disagree).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _setup import (  # benchmarks/ is on sys.path when this file runs as a script
    POSTGIS_URL,
    ROOT,
    add_data_arguments,
    demo_database,
    drop_database,
    peak_rss_mb,
    postgis_database,
    reset_peak_rss,
    rss_mb,
)

TARGET_POINTS_PER_S = 400_000


@dataclass
class Row:
    what: str
    figure: str
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    ok: bool = True

    def add(self, what: str, figure: str, note: str = "") -> None:
        self.rows.append(Row(what, figure, note))
        print(f"  {what}: {figure}" + (f"  ({note})" if note else ""), flush=True)

    def print_table(self) -> None:
        width = max(len(r.what) for r in self.rows)
        fig = max(len(r.figure) for r in self.rows)
        print("\n" + "=" * (width + fig + 40))
        for r in self.rows:
            print(f"{r.what:<{width}}  {r.figure:>{fig}}  {r.note}")
        print("=" * (width + fig + 40))


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


def naive_locate(geoms: np.ndarray, lng: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The grid index (code order) of each point by a plain loop: bounding-box
    prefilter with numpy, then shapely ``covers`` on unprepared polygons."""
    import shapely

    minx, miny, maxx, maxy = shapely.bounds(geoms).T
    found = np.full(len(lng), -1, dtype=np.int64)
    for i, (x, y) in enumerate(zip(lng.tolist(), lat.tolist(), strict=True)):
        point = shapely.Point(x, y)
        for j in np.flatnonzero((minx <= x) & (x <= maxx) & (miny <= y) & (y <= maxy)):
            if geoms[j].covers(point):
                found[i] = j
                break
    return found


def compare(report: Report, label: str, got: np.ndarray, want: np.ndarray) -> None:
    differ = np.flatnonzero(got != want)
    report.add(label, f"{len(got) - len(differ):,}/{len(got):,} agree",
               "OK" if not len(differ) else f"FIRST DIFFERENCES at {differ[:5].tolist()}")
    if len(differ):
        report.ok = False


def bench_bulk(report: Report, index, lng: np.ndarray,
               lat: np.ndarray) -> tuple[np.ndarray, float]:
    rss_before = rss_mb()
    resettable = reset_peak_rss()
    first, (grid_idx, _regions) = timed(index.locate_many, lng, lat)
    best = min(timed(index.locate_many, lng, lat)[0] for _ in range(3))
    peak, rss_after = peak_rss_mb(), rss_mb()
    n = len(lng)
    report.add("bulk locate_many, first call", f"{n / first:,.0f} pts/s",
               f"{first:.2f} s, building the lookup rasters")
    report.add("bulk locate_many, best of 3", f"{n / best:,.0f} pts/s", f"{best:.2f} s")
    report.add("points inside a grid", f"{(grid_idx >= 0).mean():.1%}",
               "the rest lie outside every grid")
    if resettable and rss_before and rss_after:
        report.add("peak RSS during the 4 calls", f"{peak:,.0f} MiB",
                   f"+{peak - rss_before:,.0f} MiB over the {rss_before:,.0f} MiB before; "
                   f"{rss_after:,.0f} MiB after; points in: {2 * lng.nbytes / 2**20:,.0f} MiB")
    else:
        report.add("peak RSS of the process", f"{peak:,.0f} MiB")
    met = n / best >= TARGET_POINTS_PER_S
    report.add(f"target ≥ {TARGET_POINTS_PER_S:,} pts/s", "MET" if met else "MISSED")
    return grid_idx, n / best


def bench_naive(report: Report, index, lng, lat, grid_idx, sample: int) -> float:
    import shapely

    # Fresh, unprepared copies: the index's own polygons are prepared.
    geoms = shapely.from_wkb(shapely.to_wkb(index.grids.geoms))
    seconds, naive = timed(naive_locate, geoms, lng[:sample], lat[:sample])
    rate = sample / seconds
    report.add("naive loop (bbox prefilter + covers)", f"{rate:,.0f} pts/s",
               f"{sample:,} points in {seconds:.2f} s; 1,000,000 would take "
               f"{1_000_000 / rate / 60:.0f} min")
    compare(report, "bulk vs naive, random points", grid_idx[:sample], naive)
    return rate


def check_vertices(report: Report, index, rng, count: int) -> None:
    """Grid vertices lie exactly on the boundary of two or more grids: the
    lowest code must win, whichever way the point is found."""
    import shapely

    vertices = np.unique(shapely.get_coordinates(index.grids.geoms), axis=0)
    pick = vertices[rng.choice(len(vertices), size=min(count, len(vertices)), replace=False)]
    bulk, _ = index.locate_many(pick[:, 0], pick[:, 1])
    geoms = shapely.from_wkb(shapely.to_wkb(index.grids.geoms))
    naive = naive_locate(geoms, pick[:, 0], pick[:, 1])
    position = {node.code: i for i, node in enumerate(index.grids.nodes)}
    single = np.array([-1 if (loc := index.locate(x, y)).grid is None else position[loc.grid.code]
                       for x, y in pick[:1000].tolist()])
    compare(report, "bulk vs naive, grid vertices", bulk, naive)
    compare(report, "single vs naive, grid vertices", single, naive[:1000])


#: One point per query, as a request would ask; the text the issue named.
POSTGIS_ONE = ("SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_Point(%s, %s), 4326))"
               " ORDER BY code LIMIT 1")
#: Every point in one query: arrays in, one LATERAL lookup per point (the GiST index each time).
POSTGIS_BULK = """
    SELECT p.i, g.code
    FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(lng, lat, i)
    LEFT JOIN LATERAL (
        SELECT code FROM grids
        WHERE ST_Contains(geom, ST_SetSRID(ST_Point(p.lng, p.lat), 4326))
        ORDER BY code LIMIT 1) g ON true"""


def postgis_url(option: str, external: str) -> str | None:
    """The benchmark database to compare with: ``--postgis`` as given, else the
    server of SHANZHI_DATABASE_URL (if PostgreSQL), else the local one; always
    a database of its own, ``shanzhi_bench_locate`` (dropped at the end)."""
    if option == "none":
        return None
    from urllib.parse import urlsplit, urlunsplit

    base = option or (external if external.startswith(("postgres://", "postgresql://"))
                      else POSTGIS_URL)
    parts = urlsplit(base)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        name = "shanzhi_bench_locate"
    return urlunsplit(parts._replace(path=f"/{name}"))


def bench_postgis(report: Report, url: str | None, index, lng, lat, grid_idx,
                  bulk_rate: float, singles: int) -> None:
    """PostGIS ``ST_Contains`` with a GiST index on the same grids and points,
    one point per query over one connection and all points in one query,
    each set against the in-memory index in this run."""
    if url is None:
        report.add("PostGIS", "skipped", "--postgis none")
        return
    url = postgis_database(url)
    if url is None:
        report.add("PostGIS", "skipped", "no PostgreSQL with PostGIS (see the message above)")
        return
    import psycopg

    codes = [node.code for node in index.grids.nodes]
    position = {code: i for i, code in enumerate(codes)}
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
            seconds, _ = timed(_load_grids, conn, index, codes)
            report.add("PostGIS load", f"{seconds:.1f} s",
                       f"PostGIS {version}: {len(codes):,} grids as EWKB (SRID 4326), GiST "
                       "index, VACUUM ANALYZE")

            # one point per query, one connection (prepared by psycopg after 5 uses)
            n = min(singles, len(lng))
            xs, ys = lng[:n].tolist(), lat[:n].tolist()
            for x, y in zip(xs[:200], ys[:200], strict=True):  # warm the cache and the plan
                conn.execute(POSTGIS_ONE, (x, y)).fetchone()
            found = np.full(n, -1, dtype=np.int64)
            pg_one = mem_one = 0.0
            for _round in range(3):  # alternate, best of 3: the server shares the machine
                started = time.perf_counter()
                for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
                    row = conn.execute(POSTGIS_ONE, (x, y)).fetchone()
                    found[i] = -1 if row is None else position[row[0]]
                pg_one = max(pg_one, n / (time.perf_counter() - started))
                started = time.perf_counter()
                for x, y in zip(xs, ys, strict=True):
                    index.locate(x, y)
                mem_one = max(mem_one, n / (time.perf_counter() - started))
            report.add("PostGIS, one point per query", f"{pg_one:,.0f} pts/s",
                       f"{n:,} queries over one connection, best of 3; "
                       f"{1e6 / pg_one:,.0f} µs each")
            report.add("SpatialIndex.locate, same points", f"{mem_one:,.0f} pts/s",
                       f"one call per point, in process, best of 3; {1e6 / mem_one:,.0f} µs each")
            report.add("in memory / PostGIS, one point", f"{mem_one / pg_one:,.1f}×")
            compare(report, "PostGIS one-by-one vs in memory", found, grid_idx[:n])

            # every point in one query
            conn.execute(POSTGIS_BULK, (lng[:2000].tolist(), lat[:2000].tolist())).fetchall()
            seconds, rows = timed(lambda: conn.execute(
                POSTGIS_BULK, (lng.tolist(), lat.tolist()), binary=True).fetchall())
    except psycopg.Error as exc:
        report.add("PostGIS", "failed", str(exc).splitlines()[0])
        report.ok = False
        return
    finally:
        drop_database(url)
    found = np.full(len(lng), -1, dtype=np.int64)
    for i, code in rows:
        if code is not None:
            found[i - 1] = position[code]
    pg_bulk = len(lng) / seconds
    report.add("PostGIS, all points in one query", f"{pg_bulk:,.0f} pts/s",
               f"{len(lng):,} points in {seconds:.2f} s: unnest arrays + LATERAL, "
               "arrays sent and rows read back included")
    report.add("in memory / PostGIS, bulk", f"{bulk_rate / pg_bulk:,.1f}×",
               "locate_many best of 3 against the one query")
    compare(report, "PostGIS bulk vs in memory", found, grid_idx)


def _load_grids(conn, index, codes: list[str]) -> None:
    import shapely

    conn.execute("DROP TABLE IF EXISTS grids")
    conn.execute("CREATE TABLE grids (code text PRIMARY KEY, geom geometry(Geometry, 4326) "
                 "NOT NULL)")
    wkbs = shapely.to_wkb(shapely.set_srid(index.grids.geoms, 4326), hex=True,
                          include_srid=True)
    with conn.cursor().copy("COPY grids (code, geom) FROM STDIN") as copy:
        for code, wkb in zip(codes, wkbs, strict=True):
            copy.write_row((code, wkb))
    conn.execute("CREATE INDEX grids_geom ON grids USING gist (geom)")
    conn.execute("VACUUM ANALYZE grids")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_api(report: Report, data_dir: Path, bbox, rng, requests: int) -> None:
    from shanzhi.accounts.services import token_create

    token = token_create(username="admin", name="benchmark")
    port = _free_port()
    env = {**os.environ, "SHANZHI_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT / "src")}
    env.pop("SHANZHI_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "shanzhi.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                report.add("API GET /api/v1/geo/locate", "failed", "the server did not start")
                return
            time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        lng = rng.uniform(bbox[0], bbox[2], requests + 50)
        lat = rng.uniform(bbox[1], bbox[3], requests + 50)
        latencies = []
        for i, (x, y) in enumerate(zip(lng.tolist(), lat.tolist(), strict=True)):
            started = time.perf_counter()
            conn.request("GET", f"/api/v1/geo/locate?lng={x:.7f}&lat={y:.7f}", headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                report.add("API GET /api/v1/geo/locate", "failed", f"HTTP {response.status}")
                report.ok = False
                return
            if i >= 50:  # the first requests build the index and warm the caches
                latencies.append(elapsed * 1000)
        conn.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    p50, p99 = np.percentile(latencies, [50, 99])
    report.add("API GET /api/v1/geo/locate", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
               f"{len(latencies):,} sequential requests, uvicorn, 1 worker, bearer token")


def bench_single(report: Report, index, bbox, rng, count: int = 20_000) -> None:
    lng = rng.uniform(bbox[0], bbox[2], count).tolist()
    lat = rng.uniform(bbox[1], bbox[3], count).tolist()
    latencies = []
    for x, y in zip(lng, lat, strict=True):
        started = time.perf_counter()
        index.locate(x, y)
        latencies.append((time.perf_counter() - started) * 1e6)
    p50, p99 = np.percentile(latencies, [50, 99])
    report.add("SpatialIndex.locate, one point", f"p50 {p50:.0f} µs, p99 {p99:.0f} µs",
               f"{count:,} calls in process")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="bulk points (1,000,000)")
    parser.add_argument("--seed", type=int, default=2026, help="numpy seed of the points")
    parser.add_argument("--naive-sample", type=int, default=2_000, metavar="N",
                        help="points for the naive loop (2,000)")
    parser.add_argument("--vertices", type=int, default=20_000, metavar="N",
                        help="grid vertices checked, bulk vs naive (20,000)")
    parser.add_argument("--postgis", default="", metavar="URL",
                        help="PostgreSQL server to compare with (its database is always a "
                        "throwaway *bench* one; default: the server of SHANZHI_DATABASE_URL, "
                        f"else {POSTGIS_URL}); 'none' to skip")
    parser.add_argument("--postgis-queries", type=int, default=20_000, metavar="N",
                        help="points sent to PostGIS one query each (20,000)")
    parser.add_argument("--requests", type=int, default=2_000,
                        help="HTTP requests for the API latency, 0 to skip (2,000)")
    add_data_arguments(parser)
    args = parser.parse_args(argv)

    db = demo_database(args.reuse)
    from shanzhi.geo.index import SpatialIndex

    report = Report()
    if db.built_in is not None:
        report.add("demo build", f"{db.built_in:.1f} s")
    seconds, index = timed(SpatialIndex.from_database)
    report.add("index load", f"{seconds:.2f} s",
               f"{len(index.grids.nodes):,} grids, revision {index.revision}")
    city = index.layers["city"]
    bbox = city.geoms[[n.code for n in city.nodes].index("320500")].bounds
    rng = np.random.default_rng(args.seed)
    lng = rng.uniform(bbox[0], bbox[2], args.points)
    lat = rng.uniform(bbox[1], bbox[3], args.points)
    print(f"{args.points:,} points, seed {args.seed}, in lng {bbox[0]:.4f}–{bbox[2]:.4f}, "
          f"lat {bbox[1]:.4f}–{bbox[3]:.4f}", flush=True)

    grid_idx, bulk_rate = bench_bulk(report, index, lng, lat)
    naive_rate = bench_naive(report, index, lng, lat, grid_idx, min(args.naive_sample,
                                                                    args.points))
    report.add("bulk / naive", f"{bulk_rate / naive_rate:,.0f}×",
               "locate_many does grids and regions; naive only grids")
    check_vertices(report, index, rng, args.vertices)
    bench_postgis(report, postgis_url(args.postgis, db.external_url), index, lng, lat, grid_idx,
                  bulk_rate, args.postgis_queries)
    bench_single(report, index, bbox, rng)
    if args.requests:
        bench_api(report, db.data_dir, bbox, rng, args.requests)
    report.print_table()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
