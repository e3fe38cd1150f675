"""The people registry on PostgreSQL: importing a million people from CSV and
from Excel (``registry.imports.run_import``) against a bare ``COPY`` of the
same CSV, then searching 13 million people by name, identity number, phone
and address (``registry.selectors.people_list(scope=…, q=…)[:20]``).

    .venv/bin/python benchmarks/registry.py                       # full size
    .venv/bin/python benchmarks/registry.py --rows 200000 --search-rows 2000000
    .venv/bin/python benchmarks/registry.py --search-rows 0       # import only
    .venv/bin/python benchmarks/registry.py --keep-db             # keep bench_registry

The database (``--url``, default ``$SHANZHI_DATABASE_URL`` with the name
``bench_registry``, or ``postgresql://postgres@127.0.0.1:5432/bench_registry``)
is created afresh; its name must contain "bench". A synthetic territory (one
city, 10 districts, 1,000 grids, 100,000 houses) is built first.

**Import.** ``--rows`` valid people (unique identity numbers with their check
digit, phones, grids, a third of them migrants with permit dates) are written
to ``var/bench-registry/people.csv`` and ``people.xlsx`` (``stream_xlsx``),
then each file is imported by the city admin into an empty registry (strict
mode): seconds, rows/s, peak RSS of the process during the import. The
baseline is a bare ``COPY … FROM STDIN (FORMAT csv)`` of the same CSV into an
unindexed scratch table of text columns: the ratio says what validating,
resolving grids, checking duplicates, the indexes and the history cost.
Targets: ≥ 20,000 rows/s from CSV, peak RSS < 500 MB.

**Search.** The registry is filled up to ``--search-rows`` people in SQL
(``INSERT … SELECT generate_series``, indexes dropped meanwhile and rebuilt,
then ``VACUUM ANALYZE``), 13 people per house. Then ``--queries`` searches of
each shape (a name's first two characters, a full identity number, its first
10 digits, a phone's first 7 digits, a road and door number) run as a
district operator, a grid worker (one grid) and the city admin: p50/p99 ms
each, and the ``EXPLAIN ANALYZE`` of the slowest shape. Target p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _setup import ROOT, drop_database, peak_rss_mb, reset_peak_rss, rss_mb, throwaway_database

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋"
            "蔡余杜叶程苏魏吕丁任沈姚卢")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯晨欣怡"
         "婷雪琳梓涵子轩")
ROADS = ["人民路", "干将路", "平江路", "金鸡湖大道", "东环路", "西环路", "石路", "十全街",
         "凤凰街", "竹辉路"]
HEADER = ["姓名", "公民身份号码", "性别", "联系电话", "网格编码", "人员类别", "居住证有效期至"]


def default_url() -> str:
    base = os.environ.get("SHANZHI_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/x"
    return urlunsplit(urlsplit(base)._replace(path="/bench_registry"))


# ---------------------------------------------------------------- the territory

def build_territory(progress) -> dict:
    from shapely.geometry import box

    from shanzhi.accounts.models import Role
    from shanzhi.accounts.services import user_create
    from shanzhi.geo.index import reset_index
    from shanzhi.geo.models import Level
    from shanzhi.geo.services import NewNode, grids_add, regions_add

    (city,) = regions_add(level=Level.CITY, nodes=[NewNode(
        code="320500", name="苏州市", geometry=box(120.0, 31.0, 121.0, 31.1))])
    districts = regions_add(level=Level.DISTRICT, nodes=[NewNode(
        code=f"3205{d + 1:02d}", name=f"第{d + 1}区",
        geometry=box(120 + d / 10, 31.0, 120.1 + d / 10, 31.1), parent=city)
        for d in range(10)])
    grids = []
    for d, district in enumerate(districts):
        (town,) = regions_add(level=Level.TOWN, nodes=[NewNode(
            code=f"{district.code}001", name=f"{district.name}街道",
            geometry=box(120 + d / 10, 31.0, 120.1 + d / 10, 31.1), parent=district)])
        communities = regions_add(level=Level.COMMUNITY, nodes=[NewNode(
            code=f"{town.code}{c:03d}", name=f"{town.name}{c}社区",
            geometry=box(120 + d / 10 + c / 100, 31.0, 120 + d / 10 + (c + 1) / 100, 31.1),
            parent=town) for c in range(10)])
        for c, community in enumerate(communities):
            x = 120 + d / 10 + c / 100
            grids += grids_add(nodes=[NewNode(
                code=f"{community.code}{g:03d}", name=f"{community.name}第{g}网格",
                geometry=box(x, 31.0 + g / 100, x + 0.01, 31.0 + (g + 1) / 100),
                parent=community) for g in range(10)])
    reset_index()
    admin = user_create(username="bench_admin", password="Bench-Pass-2026!",
                        role=Role.CITY_ADMIN, region_code="320500")
    operator = user_create(username="bench_operator", password="Bench-Pass-2026!",
                           role=Role.OPERATOR, region_code=districts[3].code)
    # a grid worker of one grid of the operator's district
    worker = user_create(username="bench_worker", password="Bench-Pass-2026!",
                         role=Role.GRID_WORKER, grid_codes=[grids[305].code])
    progress(f"territory: 1 city, 10 districts, {len(grids):,} grids")
    return {"admin": admin, "operator": operator, "worker": worker,
            "grids": [(g.code, g.pk) for g in grids]}


def build_houses(per_grid: int, progress) -> None:
    """``per_grid`` buildings of 10 flats per grid, in SQL."""
    from django.db import connection

    started = time.perf_counter()
    roads = "ARRAY[" + ",".join(f"'{r}'" for r in ROADS) + "]"
    with connection.cursor() as cur:
        cur.execute(f"""
            INSERT INTO registry_building (grid_id, path, created_at, updated_at, version,
                community_id, road, number, estate, building, lng, lat, address, key)
            SELECT g.id, g.path, now(), now(), 1, g.community_id,
                   ({roads})[1 + (g.id + b) %% 10], (g.id * 7 + b)::text || '号', '',
                   b::text || '幢',
                   120.5, 31.05,
                   r.name || ({roads})[1 + (g.id + b) %% 10] || (g.id * 7 + b)::text || '号'
                       || b::text || '幢',
                   r.code || '|' || ({roads})[1 + (g.id + b) %% 10] || '|'
                       || (g.id * 7 + b)::text || '|' || b::text
            FROM geo_grid g JOIN geo_region r ON r.id = g.community_id,
                 generate_series(1, %s) b""", [per_grid])
        cur.execute("""
            INSERT INTO registry_house (grid_id, path, created_at, updated_at, version,
                building_id, unit, room, use, owner_name, owner_phone, address, key)
            SELECT b.grid_id, b.path, now(), now(), 1, b.id, '1', (100 + f)::text, 'own', '',
                   '', b.address || '1单元' || (100 + f)::text || '室',
                   b.key || '|1|' || (100 + f)::text
            FROM registry_building b, generate_series(1, 10) f""")
        cur.execute("SELECT count(*) FROM registry_house")
        houses = cur.fetchone()[0]
    progress(f"houses: {houses:,} in {time.perf_counter() - started:.1f} s")


# ---------------------------------------------------------------- the files

def people(count: int, grids: list[tuple[str, int]], seed: int):
    """Valid rows: the identity number's birth date and sequence follow the row's
    number, so every number is distinct, with its real check digit."""
    from shanzhi.core.identity import id_check

    rng = random.Random(seed)
    base = dt.date(1950, 1, 1)
    expires = dt.date(2027, 1, 1)
    for i in range(count):
        born = base + dt.timedelta(days=i // 1000)
        first17 = f"320505{born:%Y%m%d}{i % 1000:03d}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else "")
        migrant = i % 3 == 0
        yield [name, first17 + id_check(first17), "男" if i % 2 else "女",
               f"1{rng.randrange(3, 10)}{rng.randrange(10 ** 9):09d}", grids[i % len(grids)][0],
               "流动人口" if migrant else "户籍人口",
               (expires + dt.timedelta(days=i % 700)).isoformat() if migrant else ""]


def write_files(folder: Path, count: int, grids, seed: int, progress) -> tuple[Path, Path]:
    from shanzhi.core.xlsx import Column, stream_xlsx

    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / "people.csv", folder / "people.xlsx"
    started = time.perf_counter()
    with csv_path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(people(count, grids, seed))
    with xlsx_path.open("wb") as out:
        for chunk in stream_xlsx(columns=[Column(h) for h in HEADER],
                                 rows=people(count, grids, seed)):
            out.write(chunk)
    progress(f"files: {csv_path.stat().st_size / 1e6:.0f} MB CSV, "
             f"{xlsx_path.stat().st_size / 1e6:.0f} MB XLSX in "
             f"{time.perf_counter() - started:.1f} s")
    return csv_path, xlsx_path


# ---------------------------------------------------------------- import

def empty_registry() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE registry_personchange, registry_person RESTART IDENTITY CASCADE")
        cur.execute("DELETE FROM registry_importjob")


def import_file(path: Path, admin, count: int) -> dict:
    from shanzhi.registry.imports import run_import
    from shanzhi.registry.models import ImportJob

    empty_registry()
    reset_peak_rss()
    before = rss_mb() or 0.0
    started = time.perf_counter()
    job = run_import(registry="people", path=path, actor=admin, good_only=False)
    seconds = time.perf_counter() - started
    if job.state != ImportJob.State.DONE or job.written != count:
        raise SystemExit(f"import of {path.name}: {job.state}, {job.written:,} written, "
                         f"errors {job.errors[:5]}")
    return {"name": f"run_import {path.suffix[1:]}", "seconds": seconds,
            "rows_per_s": count / seconds, "peak_mb": peak_rss_mb(), "growth_mb":
            peak_rss_mb() - before}


def bare_copy(path: Path, count: int) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_scratch")
        cur.execute("CREATE UNLOGGED TABLE bench_scratch (" + ", ".join(
            f"c{i} text" for i in range(len(HEADER))) + ")")
        started = time.perf_counter()
        with path.open("rb") as source, cur.cursor.copy(
                "COPY bench_scratch FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while data := source.read(1 << 20):
                copy.write(data)
        seconds = time.perf_counter() - started
        cur.execute("DROP TABLE bench_scratch")
    return {"name": "bare COPY csv (baseline)", "seconds": seconds,
            "rows_per_s": count / seconds, "peak_mb": None, "growth_mb": None}


# ---------------------------------------------------------------- search

def fill(total: int, progress) -> None:
    """People up to ``total`` in SQL, 13 per house, the indexes rebuilt after."""
    from django.db import connection

    from shanzhi.registry.models import Person

    with connection.cursor() as cur:
        cur.execute("SELECT count(*), coalesce(max(id), 0) FROM registry_person")
        have, top = cur.fetchone()
        cur.execute("SELECT count(*) FROM registry_house")
        houses = cur.fetchone()[0]
    missing = total - have
    if missing <= 0:
        return
    started = time.perf_counter()
    surnames = "ARRAY[" + ",".join(f"'{c}'" for c in SURNAMES) + "]"
    given = "ARRAY[" + ",".join(f"'{c}'" for c in GIVEN) + "]"
    # every index but the primary key, as the database has it (the migrations
    # may have rebuilt one, e.g. person_name in bytewise order), recreated after
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                    "AND indexname <> %s", [Person._meta.db_table,
                                            f"{Person._meta.db_table}_pkey"])
        indexes = cur.fetchall()
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        step = 1_000_000
        for start in range(0, missing, step):
            n = min(step, missing - start)
            cur.execute(f"""
                INSERT INTO registry_person (grid_id, path, created_at, updated_at, version,
                    name, former_name, id_type, id_number, gender, ethnicity, phone, kind,
                    left_behind, native_place, registered_address, occupation, relation,
                    reason, permit_number, nationality, note, house_id)
                SELECT h.grid_id, h.path, now(), now(), 1,
                    ({surnames})[1 + hashint(s, 1) %% {len(SURNAMES)}]
                        || ({given})[1 + hashint(s, 2) %% {len(GIVEN)}]
                        || CASE WHEN s %% 3 = 0 THEN '' ELSE
                           ({given})[1 + hashint(s, 3) %% {len(GIVEN)}] END,
                    '', 'resident', '3206' || lpad(s::text, 14, '0'), (1 + s %% 2)::text, '01',
                    '13' || lpad((hashint(s, 4) %% 1000000000)::text, 9, '0'),
                    'registered', '', '', '', '', '', '', '', '', '', h.id
                FROM generate_series(%s, %s) s
                JOIN registry_house h ON h.id = 1 + (s / 13) %% %s""",
                        [top + start + 1, top + start + n, houses])
            progress(f"  {have + start + n:,} people")
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cur.execute(definition)
        cur.execute("VACUUM ANALYZE registry_person")
    progress(f"filled to {total:,} people in {time.perf_counter() - started:.0f} s")


HASH_FUNCTION = """
CREATE OR REPLACE FUNCTION hashint(n bigint, salt int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT abs(hashtext(n::text || ':' || salt::text))::bigint $$"""


def shapes(rng: random.Random, count: int) -> dict[str, list[str]]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id_number, phone, name FROM registry_person TABLESAMPLE SYSTEM (1) "
                    "LIMIT %s", [count])
        sample = cur.fetchall()
        cur.execute("SELECT address FROM registry_building TABLESAMPLE SYSTEM (10) LIMIT %s",
                    [count])
        addresses = [r[0] for r in cur.fetchall()]
    rng.shuffle(sample)
    return {
        "name (2 chars)": [name[:2] for _, _, name in sample],
        "id number (full)": [n for n, _, _ in sample],
        "id number (10 digits)": [n[:10] for n, _, _ in sample],
        "phone (7 digits)": [p[:7] for _, p, _ in sample],
        "address (road + number)": [a.split("社区", 1)[-1].split("号")[0] + "号"
                                    for a in addresses],
    }


def time_search(scope, queries: list[str]) -> tuple[list[float], str]:
    from shanzhi.registry import selectors

    times = []
    slowest = (0.0, "")
    for q in queries:
        started = time.perf_counter()
        list(selectors.people_list(scope=scope, q=q)[:20])
        ms = (time.perf_counter() - started) * 1000
        times.append(ms)
        if ms > slowest[0]:
            slowest = (ms, q)
    return times, slowest[1]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def search(users: dict, total: int, count: int, seed: int, progress) -> None:
    from django.db import connection

    from shanzhi.accounts.scope import Scope
    from shanzhi.registry import selectors

    rng = random.Random(seed)
    queries = shapes(rng, count)
    print(f"\nsearch over {total:,} people, {count} queries per shape "
          "(people_list(scope, q)[:20], ms)")
    print(f"{'shape':26} {'actor':20} {'p50':>7} {'p99':>7} {'max':>7}")
    worst = (0.0, "", None, "")
    for actor_name in ("operator", "worker", "admin"):
        scope = Scope.for_user(users[actor_name])
        for shape, qs in queries.items():
            qs = (qs * (count // max(len(qs), 1) + 1))[:count]
            times, slowest = time_search(scope, qs)
            p99 = percentile(times, 99)
            who = {"operator": "district operator", "worker": "grid worker (1 grid)",
                   "admin": "city admin"}[actor_name]
            print(f"{shape:26} {who:20} {percentile(times, 50):>7.1f} {p99:>7.1f} "
                  f"{max(times):>7.1f}")
            if p99 > worst[0]:
                worst = (p99, shape, scope, slowest)
    p99, shape, scope, q = worst
    sql, params = selectors.people_list(scope=scope, q=q)[:20].query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    print(f"\nslowest shape: {shape} (p99 {p99:.1f} ms), q={q!r}:\n{plan}")


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="people to import (0: no import)")
    parser.add_argument("--search-rows", type=int, default=13_000_000,
                        help="people to search among (0: no search)")
    parser.add_argument("--queries", type=int, default=200, help="queries per shape")
    parser.add_argument("--url", default=default_url(), help="the benchmark's database")
    parser.add_argument("--keep-db", action="store_true", help="keep the database at exit")
    parser.add_argument("--no-xlsx", action="store_true", help="skip the Excel import")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    url = throwaway_database(args.url)
    folder = ROOT / "var" / "bench-registry"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["SHANZHI_DATABASE_URL"] = url
    os.environ["SHANZHI_DATA_DIR"] = str(folder)
    os.environ["DJANGO_SETTINGS_MODULE"] = "shanzhi.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        call_command("migrate", interactive=False, verbosity=0)
        with connection.cursor() as cur:
            cur.execute(HASH_FUNCTION)
        users = build_territory(progress)
        grids = users.pop("grids")
        if args.rows:
            import_part(args, folder, users, grids, progress)
        if args.search_rows:
            build_houses(max(1, args.search_rows // 13 // 10 // len(grids)), progress)
            fill(args.search_rows, progress)
            search(users, args.search_rows, args.queries, args.seed, progress)
    finally:
        connection.close()
        if not args.keep_db:
            drop_database(url)
        for path in (folder / "people.csv", folder / "people.xlsx"):
            path.unlink(missing_ok=True)


def import_part(args, folder: Path, users: dict, grids, progress) -> None:
    """The two imports and the bare COPY, one table of figures."""
    csv_path, xlsx_path = write_files(folder, args.rows, grids, args.seed, progress)

    results = [bare_copy(csv_path, args.rows)]
    progress("importing the CSV …")
    results.append(import_file(csv_path, users["admin"], args.rows))
    if not args.no_xlsx:
        progress("importing the XLSX …")
        results.append(import_file(xlsx_path, users["admin"], args.rows))
    print(f"\nimport of {args.rows:,} people (strict, into an empty registry)")
    print(f"{'way':26} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12} {'growth MB':>10}")
    for r in results:
        peak = f"{r['peak_mb']:>12.0f}" if r["peak_mb"] is not None else f"{'-':>12}"
        growth = f"{r['growth_mb']:>10.0f}" if r["growth_mb"] is not None else f"{'-':>10}"
        print(f"{r['name']:26} {r['seconds']:>8.1f} {r['rows_per_s']:>10,.0f} {peak} "
              f"{growth}")
    base = results[0]["rows_per_s"]
    for r in results[1:]:
        print(f"{r['name']} runs at {r['rows_per_s'] / base:.2f}× the bare COPY's rows/s")


if __name__ == "__main__":
    main()
