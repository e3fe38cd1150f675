"""The streamed Excel export (``core.xlsx.stream_xlsx``, what the case desk's
``export.xlsx`` sends) against ``csv.writer`` over the same rows, in one run.

    .venv/bin/python benchmarks/export.py                 # 1,000,000 rows
    .venv/bin/python benchmarks/export.py --rows 100000

The rows have the export's 25 columns (``web/export.py``): numbers, Chinese
names and descriptions, addresses, dates, masked contacts, counters — drawn
once from a seeded generator and produced again row by row for each writer,
so neither holds them in memory. Each writer's bytes go to a sink that counts
and drops them (as a socket would take them). Prints rows/s, the output size
and the process's resident memory while each writer runs (peak and the
growth over the run): a streamed writer must stay flat however many rows.
The first 10,000 rows are checked by opening the workbook with openpyxl.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
import time
import zoneinfo

from _setup import rss_mb  # benchmarks/ is on sys.path as a script

from shanzhi.core.xlsx import Column, stream_xlsx

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
WORDS = ["暴露垃圾", "机动车乱停放", "噪声污染", "占道经营", "邻里纠纷", "路灯不亮", "井盖缺失",
         "工地扬尘", "违章搭建", "物业纠纷"]
PLACES = ["姑苏区", "虎丘区", "吴中区", "相城区", "吴江区", "苏州工业园区"]


def columns() -> list[Column]:
    return [Column(f"列{i + 1}", 12) for i in range(25)]


def rows(count: int, seed: int):
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=TZ)
    for n in range(count):
        at = start + dt.timedelta(minutes=rng.randrange(500_000))
        word = rng.choice(WORDS)
        yield [f"SJ{at:%Y%m%d}{n:08d}", "处置中", "绿", "12345热线", "SJ0102", word, "一般",
               f"{rng.choice(PLACES)}某路{rng.randrange(1, 400)}号附近{word}，请尽快处理。",
               f"某路{rng.randrange(1, 400)}号", "某某社区", "320508001001", "320508001001001",
               "某某街道", "某某街道综合执法局", at, at + dt.timedelta(days=3), None, "否",
               "王**", "139****1234", rng.randrange(3), rng.randrange(2), 0, 0, None]


class Sink:
    def __init__(self) -> None:
        self.bytes = 0
        self.peak_mb = rss_mb() or 0.0

    def take(self, chunk: bytes | str) -> None:
        self.bytes += len(chunk)

    def watch(self) -> None:
        self.peak_mb = max(self.peak_mb, rss_mb() or 0.0)


def run(name: str, produce, count: int) -> dict:
    sink = Sink()
    before = rss_mb() or 0.0
    began = time.perf_counter()
    for i, chunk in enumerate(produce(sink)):
        sink.take(chunk)
        if i % 64 == 0:
            sink.watch()
    seconds = time.perf_counter() - began
    sink.watch()
    return {"name": name, "rows_per_s": count / seconds, "seconds": seconds,
            "mb": sink.bytes / 1e6, "peak_mb": sink.peak_mb, "growth_mb": sink.peak_mb - before}


def xlsx(count: int, seed: int):
    def produce(_sink):
        return stream_xlsx(columns=columns(), rows=rows(count, seed), tz=TZ)
    return produce


def csv_rows(count: int, seed: int):
    def produce(_sink):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([c.title for c in columns()])
        for i, row in enumerate(rows(count, seed)):
            writer.writerow(row)
            if i % 1000 == 999:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()
    return produce


def check(seed: int) -> None:
    import openpyxl

    data = b"".join(stream_xlsx(columns=columns(), rows=rows(10_000, seed), tz=TZ))
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    first = next(rows(1, seed))
    got = next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))
    assert got[0] == first[0] and got[7] == first[7], (got[:8], first[:8])
    assert sum(1 for _ in sheet.iter_rows()) == 10_001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    check(args.seed)
    print(f"{args.rows:,} rows of 25 columns; openpyxl reads back the first 10,000: ok")
    results = [run("csv.writer (baseline)", csv_rows(args.rows, args.seed), args.rows),
               run("stream_xlsx", xlsx(args.rows, args.seed), args.rows)]
    print(f"\n{'writer':24} {'rows/s':>10} {'seconds':>8} {'output MB':>10} "
          f"{'peak RSS MB':>12} {'growth MB':>10}")
    for r in results:
        print(f"{r['name']:24} {r['rows_per_s']:>10,.0f} {r['seconds']:>8.1f} {r['mb']:>10.1f} "
              f"{r['peak_mb']:>12.0f} {r['growth_mb']:>10.1f}")
    base, ours = results
    print(f"\nstream_xlsx runs at {ours['rows_per_s'] / base['rows_per_s']:.2f}× the speed of "
          "csv.writer over the same rows")


if __name__ == "__main__":
    main()
