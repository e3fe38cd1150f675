"""Address to place: how many typed addresses resolve to the right grid.

    .venv/bin/python benchmarks/places.py --data-dir var/place      # a built demo
    .venv/bin/python benchmarks/places.py --addresses 2000           # builds a demo

Needs the Suzhou demo (its registry houses and the demo gazetteer): an
existing demo data directory (``--data-dir``, ``--reuse``), or one built in a
temporary directory (minutes). Two sets of typed addresses, each with its
true grid:

* **registry** — ``--addresses`` houses drawn from the demo registry (fixed
  seed), each typed in one of the forms people use: the full standard
  address; with 苏州市, 3号楼 and without the estate; full-width digits;
  Chinese numerals (三幢二单元三零二室); building-unit-room with dashes
  (3-2-302); the building alone (3栋); without the community (district, road
  and door); road and door alone. The true grid is the house's. The demo's
  door numbers start again in every community and its road names are spread
  over the whole city, so a door typed without its community is in several
  communities by construction: the resolver must say so (not confident).
* **gazetteer** — hand-written crossings, landmarks and landmark-relative
  addresses of central Suzhou (``demo/data/suzhou_places.geojson``); the
  true point is the crossing or the landmark, its grid the true grid. Also
  whole roads, areas, regions (which must *not* be confident) and unknown
  texts (which must resolve to nothing).

For each form: how many resolve, how many to the right grid, how many are
confident, and the precision among the confident (the share of reports that
would be placed without the operator and land in the right grid); ms per
resolve (p50/p95). The baseline, on the same texts in the same run, is the
registry's ``addresses.match`` alone (what the intake had before).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict

from _setup import add_data_arguments, demo_database

#: (typed, the true point: lng, lat in WGS-84 as in the demo gazetteer).
#: The points come from the gazetteer itself: what is measured is the
#: resolver, not the (approximate) gazetteer.
CROSSINGS = [("人民路和干将路路口", "乐桥"), ("人民路与干将西路交叉口", "乐桥"),
             ("干将路人民路口", "乐桥"), ("人民路、观前街路口", "察院场"),
             ("景德路与人民路交叉口", "察院场")]
LANDMARKS = ["观前街北侧近玄妙观", "玄妙观门口", "拙政园", "拙政园东北街入口", "北寺塔对面",
             "苏州火车站南广场", "苏州站", "苏州博物馆", "狮子林门口", "网师园附近",
             "沧浪亭旁边", "阊门", "盘门景区", "虎丘山门口", "苏州大学十梓街校门",
             "石路步行街", "东方之门", "苏州中心商场", "乐桥", "察院场"]
#: Road pairs whose crossing is computed from the gazetteer as the truth.
ROAD_PAIRS = [("平江路", "干将东路", "平江路与干将东路交叉口"),
              ("十全街", "凤凰街", "十全街凤凰街口"), ("临顿路", "观前街", "临顿路观前街路口"),
              ("养育巷", "景德路", "景德路养育巷交叉口"), ("养育巷", "道前街", "养育巷道前街口"),
              ("凤凰街", "十梓街", "凤凰街与十梓街路口"),
              ("临顿路", "干将东路", "临顿路和干将路路口"),
              ("东环路", "干将东路", "东环路干将东路口")]
WHOLE = ["平江路", "人民路上", "金鸡湖边", "姑苏区", "平江历史街区", "观前街"]
UNKNOWN = ["某某小区门口", "那个菜市场旁边", "火星基地", "12345"]
CN = "〇一二三四五六七八九"


def typed_forms(house, building, district: str) -> list[tuple[str, str]]:
    """(form, typed) of one house (or its building)."""
    road, number = building.road, building.number.removesuffix("号")
    b = building.building.removesuffix("幢")
    unit, room = house.unit, house.room
    unit_text = f"{unit}单元" if unit else ""
    where = house.address[:house.address.index(road)]  # district, town, community
    door = f"{road}{number}号"
    wide = house.address.translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})
    cn = (f"{where}{door}{''.join(CN[int(d)] for d in b)}幢"
          + (f"{CN[int(unit)]}单元" if len(unit) == 1 else unit_text)
          + f"{''.join(CN[int(d)] for d in room)}室")
    dashes = f"{where}{door}{b}-{unit}-{room}" if unit else f"{where}{door}{b}-{room}"
    return [
        ("standard address", house.address),
        ("苏州市…, 3号楼, no estate", f"苏州市{where}{door}{b}号楼{unit_text}{room}"),
        ("full-width digits", wide),
        ("Chinese numerals", cn),
        ("dashes 3-2-302", dashes),
        ("building only", f"{where}{door}{b}栋"),
        ("no community: district+door", f"{district}{door}{b}幢{unit_text}{room}室"),
        ("no district, no community", f"{door}{b}幢{unit_text}{room}室"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--data-dir", help="a data directory holding a built demo (= --reuse)")
    parser.add_argument("--addresses", type=int, default=1000,
                        help="houses drawn from the registry (default 1,000)")
    parser.add_argument("--seed", type=int, default=15)
    opts = parser.parse_args()
    demo_database(opts.data_dir or opts.reuse, progress=print)

    from shanzhi.demo.load import DATA, PLACES_SOURCE
    from shanzhi.geo.index import get_index
    from shanzhi.geo.models import Level
    from shanzhi.intake import places
    from shanzhi.intake.gazetteer import import_places
    from shanzhi.intake.models import PlaceName
    from shanzhi.registry import addresses
    from shanzhi.registry.models import House

    if not PlaceName.objects.exists():  # a demo built before the gazetteer
        import_places(path=DATA / "suzhou_places.geojson", source=PLACES_SOURCE)
    index = get_index()
    rng = random.Random(opts.seed)

    cases: list[tuple[str, str, int | None, bool]] = []  # group, typed, true grid, placeable
    ids = list(House.objects.order_by("id").values_list("id", flat=True))
    chosen = rng.sample(ids, min(opts.addresses, len(ids)))
    for house in House.objects.filter(id__in=chosen).select_related("building"):
        district = next((n.name for n in index.chain(house.building.community_id)
                         if n.level == Level.DISTRICT), "")
        forms = typed_forms(house, house.building, district)
        form, text = rng.choice(forms)
        cases.append((form, text, house.grid_id, True))

    gaz = places.gazetteer()
    by_name = {e.name: e for e in gaz.entries}
    for text, mark in CROSSINGS:
        cases.append(("crossing", text, _grid(index, by_name[mark].lng, by_name[mark].lat), True))
    for a, b, text in ROAD_PAIRS:
        lng, lat, _ = places.meeting_point(by_name[a].geometry, by_name[b].geometry)
        cases.append(("crossing", text, _grid(index, lng, lat), True))
    for text in LANDMARKS:
        mark = next(e for name, es in gaz.names.items() if name in addresses.normalize(text)
                    for e in es if e.kind == "landmark")
        cases.append(("landmark", text, _grid(index, mark.lng, mark.lat), True))
    cases += [("whole road/area/region", text, None, False) for text in WHOLE]
    cases += [("unknown", text, None, False) for text in UNKNOWN]

    places.resolve("warm up 人民路")
    stats: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    times: list[float] = []
    base_times: list[float] = []
    for group, text, grid, placeable in cases:
        started = time.perf_counter()
        place = places.resolve(text)
        times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        match = addresses.match(text)
        base_times.append((time.perf_counter() - started) * 1000)
        s = stats[group]
        s["n"] += 1
        s["placeable"] += placeable
        s["resolved"] += place is not None
        right = place is not None and grid is not None and place.grid_id == grid
        s["right"] += right
        s["confident"] += bool(place and place.confident)
        s["confident_right"] += bool(place and place.confident and right)
        s["base_right"] += match is not None and grid is not None and match.grid_id == grid

    print(f"\n{len(cases):,} typed addresses (seed {opts.seed})\n")
    head = (f"{'form':<26}{'n':>6}{'resolved':>10}{'right grid':>12}{'confident':>11}"
            f"{'precision':>11}{'baseline right':>16}")
    print(head)
    print("-" * len(head))
    total: dict[str, int] = defaultdict(int)
    for group, s in stats.items():
        for k, v in s.items():
            total[k] += v
        _row(group, s)
    print("-" * len(head))
    _row("all", total)
    placeable = sum(s["n"] for s in stats.values() if s["placeable"])
    print(f"\nof the {placeable:,} addresses with a true grid: {total['right']:,} resolve to it "
          f"({total['right'] / placeable:.1%}); baseline (registry match alone) "
          f"{total['base_right']:,} ({total['base_right'] / placeable:.1%})")
    wrong_confident = total["confident"] - total["confident_right"]
    print(f"placed without the operator (confident): {total['confident']:,}, of them in the "
          f"wrong grid or not placeable: {wrong_confident:,}")
    p50, base50 = statistics.median(times), statistics.median(base_times)
    print(f"ms per resolve: p50 {p50:.2f}, p95 {_p(times, 0.95):.2f}, max {max(times):.2f}; "
          f"baseline match p50 {base50:.2f} (ratio {p50 / max(base50, 1e-9):.1f}×)")


def _grid(index, lng: float, lat: float) -> int | None:
    location = index.locate(lng, lat)
    return location.grid.id if location.grid else None


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(group: str, s: dict) -> None:
    n = s["n"]
    precision = f"{s['confident_right'] / s['confident']:.1%}" if s["confident"] else "-"
    print(f"{group:<26}{n:>6}{s['resolved']:>10}{s['right']:>12}{s['confident']:>11}"
          f"{precision:>11}{s['base_right']:>16}")


if __name__ == "__main__":
    main()
