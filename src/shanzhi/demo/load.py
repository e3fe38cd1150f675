"""Build the Suzhou demo: real districts and towns, generated communities and
grids, departments at each level, and users for every role."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import shapely
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from shapely.geometry import shape

from shanzhi.accounts import staff
from shanzhi.accounts.models import Department, GridWorker, Role, User
from shanzhi.accounts.services import user_create
from shanzhi.analytics.selectors import WINDOW_DAYS
from shanzhi.geo.models import Grid, Level, Region
from shanzhi.geo.services import NewNode, grids_add, region_retire, regions_add
from shanzhi.incidents import rulebook
from shanzhi.intake.gazetteer import import_places

from .geometry import generate_city
from .patrols import build_patrols
from .registry import build_registry

DATA = Path(__file__).parent / "data"
CITY_CODE = "320500"
CITY_NAME = "苏州市"
#: The district file carries the pre-2023 code of the Industrial Park.
OLD_CODES = {"320571": "320576"}
CODE_CHANGE_DATE = dt.date(2023, 1, 1)
SOURCE_DISTRICTS = "DataV.GeoAtlas (WGS-84)"
SOURCE_TOWNS = "国家统计局 2023 统计用区划代码; boundary generated"
SOURCE_GENERATED = "generated for the demo"
DEMO_PASSWORD = "shanzhi-demo-2026"
#: the closed incidents the demo's category model learns from
DEMO_MODEL_ROWS = 4_000
#: the demo model is not shown the reports of these last days (the match rate's window)
HELD_OUT_DAYS = WINDOW_DAYS
#: The demo gazetteer's source (approximate positions: demo/data/ATTRIBUTION.md).
PLACES_SOURCE = "demo: suzhou_places.geojson (approximate)"

CITY_DEPARTMENTS = [("CGJ", "城管局"), ("ZJJ", "住建局"), ("STHJJ", "生态环境局"),
                    ("GAJ", "公安局"), ("SCJGJ", "市场监管局"), ("YJGLJ", "应急管理局"),
                    ("SWJ", "水务局"), ("MZJ", "民政局")]
DISTRICT_DEPARTMENTS = [("CGJ", "城管局"), ("ZJJ", "住建局"), ("STHJJ", "生态环境分局"),
                        ("SCJGJ", "市场监管局"), ("YJGLJ", "应急管理局"), ("SFJ", "司法局")]
TOWN_DEPARTMENTS = [("ZHZF", "综合执法局"), ("SHSY", "社会事业局")]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    territory: str


def load_suzhou() -> tuple[dict[str, shapely.Geometry], dict[str, str],
                           dict[str, list[tuple[str, str]]]]:
    """(district geometries, district names, towns per district), keyed by the 2023 codes."""
    features = json.loads((DATA / "320500_districts_wgs84.geojson").read_text("utf-8"))["features"]
    geoms, names = {}, {}
    for feature in features:
        code = str(feature["properties"]["adcode"])
        code = OLD_CODES.get(code, code)
        geoms[code] = shape(feature["geometry"])
        names[code] = feature["properties"]["name"]
    towns: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with (DATA / "suzhou_streets_2023.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            towns[row["areaCode"]].append((row["code"], row["name"]))
    return geoms, names, dict(towns)


def demo_exists() -> bool:
    return Region.objects.current().filter(code=CITY_CODE).exists()


@transaction.atomic
def build_demo(*, seed: int = 2026, progress: Callable[[str], None] = print) -> list[DemoLogin]:
    """Build the whole demo in one transaction; returns the demo log-ins."""
    geoms, names, towns_by_district = load_suzhou()
    progress("generating town, community and grid boundaries …")
    towns, communities, grids = generate_city(districts=geoms, towns=towns_by_district, seed=seed)

    progress("writing the city and its 10 districts …")
    (city,) = regions_add(level=Level.CITY, nodes=[NewNode(
        code=CITY_CODE, name=CITY_NAME, geometry=shapely.union_all(list(geoms.values())),
        source=SOURCE_DISTRICTS)])
    for old, new in OLD_CODES.items():  # the predecessor code, kept for history
        (old_region,) = regions_add(level=Level.DISTRICT, nodes=[NewNode(
            code=old, name=names[new], geometry=geoms[new], parent=city,
            source=SOURCE_DISTRICTS)])
        region_retire(region=old_region, valid_to=CODE_CHANGE_DATE)
    districts = regions_add(level=Level.DISTRICT, nodes=[NewNode(
        code=code, name=names[code], geometry=geoms[code], parent=city, source=SOURCE_DISTRICTS,
        valid_from=CODE_CHANGE_DATE if code in OLD_CODES.values() else None)
        for code in sorted(geoms)])
    by_code = {r.code: r for r in districts}

    for label, level, areas, source in (
            ("118 towns and streets", Level.TOWN, towns, SOURCE_TOWNS),
            (f"{len(communities):,} communities", Level.COMMUNITY, communities, SOURCE_GENERATED)):
        progress(f"writing {label} …")
        created = regions_add(level=level, nodes=[NewNode(
            code=a.code, name=a.name, geometry=a.geometry, parent=by_code[a.parent_code],
            generated=True, source=source) for a in areas])
        by_code.update((r.code, r) for r in created)
    progress(f"writing {len(grids):,} grids …")
    grids_add(nodes=[NewNode(code=a.code, name=a.name, geometry=a.geometry,
                             parent=by_code[a.parent_code], generated=True,
                             source=SOURCE_GENERATED) for a in grids])

    progress("creating departments and users …")
    _departments(city, districts, [by_code[t.code] for t in towns])
    logins = _personas(city)
    _grid_workers()
    build_patrols(seed=seed, progress=progress)
    build_registry(seed=seed, progress=progress)
    progress("importing the gazetteer (central Suzhou's roads and landmarks) …")
    import_places(path=DATA / "suzhou_places.geojson", source=PLACES_SOURCE)
    rulebook.changed()  # written in bulk: no signal told the memos
    staff.changed()
    return logins


def train_demo_model(*, progress: Callable[[str], None] = print) -> dict | None:
    """The city's category model trained on the demo history, so that intake
    suggests from the first page opened; None when the history closed too few
    incidents. It learns from the incidents reported before the command
    centre's match-rate window (the last 30 days) and then suggests for those
    of the window, held out, as if it had been asked when they came in: the
    match-rate figure is then the model's honest score on reports it never saw."""
    from shanzhi.core.errors import ValidationError
    from shanzhi.incidents.learning import train_from_incidents

    held_out = timezone.now() - dt.timedelta(days=HELD_OUT_DAYS)
    progress("training the category model on the closed incidents …")
    try:  # the newest few thousand: the demo's texts are few and repeat (seconds, not minutes)
        report = train_from_incidents(limit=DEMO_MODEL_ROWS, folds=3, reported_before=held_out)
    except ValidationError as exc:
        progress(f"no category model: {exc.message}")
        return None
    progress(f"category model v{report['version']}: {report['rows']:,} incidents, "
             f"cross-validated accuracy {report['accuracy']:.1%}, "
             f"macro-F1 {report['macro_f1']:.3f} ({report['duration_s']:.0f} s)")
    asked = _suggest_held_out(held_out)
    progress(f"suggested categories for the {asked:,} people-typed reports of the last "
             f"{HELD_OUT_DAYS} days (held out of the training)")
    return report


def _suggest_held_out(since: dt.datetime) -> int:
    """What the model suggests for the people-typed incidents reported since
    ``since``, stored as if asked at intake (the incident's two fields)."""
    from shanzhi.incidents.learning import MACHINE_CHANNELS
    from shanzhi.incidents.models import Category, Incident
    from shanzhi.intake import textclass

    ids = dict(Category.objects.values_list("code", "id"))
    rows = list(Incident.objects.filter(reported_at__gte=since, device__isnull=True)
                .exclude(channel__in=MACHINE_CHANNELS).only("id", "description"))
    for start in range(0, len(rows), 2_000):
        batch = rows[start:start + 2_000]
        answers = textclass.classify([i.description for i in batch], k=1)
        for incident, ranked in zip(batch, answers, strict=True):
            incident.suggested_id = ids.get(ranked[0].label) if ranked else None
            incident.suggested_confidence = ranked[0].confidence if ranked else None
        Incident.objects.bulk_update(batch, ["suggested", "suggested_confidence"],
                                     batch_size=1_000)
    return len(rows)


def _departments(city: Region, districts: list[Region], towns: list[Region]) -> None:
    rows = [Department(code=f"{city.code}-{abbr}", name=f"{city.name}{name}", region=city,
                       kind=abbr) for abbr, name in CITY_DEPARTMENTS]
    rows += [Department(code=f"{d.code}-{abbr}", name=f"{d.name}{name}", region=d, kind=abbr)
             for d in districts for abbr, name in DISTRICT_DEPARTMENTS]
    rows += [Department(code=f"{t.code}-{abbr}", name=f"{t.name}{name}", region=t, kind=abbr)
             for t in towns for abbr, name in TOWN_DEPARTMENTS]
    Department.objects.bulk_create(rows, batch_size=500)


def _personas(city: Region) -> list[DemoLogin]:
    """Named log-ins, one or more per role, anchored in 姑苏区 where local."""
    gusu = Region.objects.current().get(code="320508")
    town = Region.objects.current().filter(parent=gusu).order_by("code").first()
    community = Region.objects.current().filter(parent=town).order_by("code").first()
    grids = list(Grid.objects.current().filter(community=community).order_by("code")[:3])
    wujiang = Region.objects.current().get(code="320509")
    specs = [
        ("admin", Role.CITY_ADMIN, {"region_code": city.code}, "市级管理员"),
        ("city_operator", Role.OPERATOR, {"region_code": city.code}, "市联动中心"),
        ("gusu_operator", Role.OPERATOR, {"region_code": gusu.code}, "姑苏区联动中心"),
        ("town_operator", Role.OPERATOR, {"region_code": town.code}, f"{town.name}分中心"),
        ("community_operator", Role.OPERATOR, {"region_code": community.code},
         f"{community.name}工作站"),
        ("wujiang_operator", Role.OPERATOR, {"region_code": wujiang.code}, "吴江区联动中心"),
        ("city_handler", Role.HANDLER, {"department_code": f"{city.code}-CGJ"}, "市城管局"),
        ("gusu_handler", Role.HANDLER, {"department_code": f"{gusu.code}-ZJJ"}, "姑苏区住建局"),
        ("worker_full", Role.GRID_WORKER, {"grid_codes": [g.code for g in grids[:2]]},
         "专职网格员"),
        ("worker_part", Role.GRID_WORKER, {"grid_codes": [grids[2].code],
                                           "worker_kind": GridWorker.Kind.PART_TIME},
         "兼职网格员"),
        ("viewer", Role.VIEWER, {"region_code": city.code}, "市级查看"),
        # the district's mediation centre (demo/mediation.py) gives them their cases
        ("mediator_320508", Role.MEDIATOR, {"region_code": gusu.code}, "姑苏区人民调解员"),
    ]
    logins = []
    for username, role, anchor, display in specs:
        user = user_create(username=username, password=DEMO_PASSWORD, role=role,
                           display_name=display, validate=False, **anchor)
        territory = (user.region or (user.department.region if user.department else None))
        logins.append(DemoLogin(username, role, territory.name if territory else
                                "、".join(g.name for g in user.grid_worker.grids.all())))
    User.objects.filter(username="admin").update(is_superuser=True, is_staff=True)
    return logins


def _grid_workers() -> None:
    """A full-time worker for every grid and a part-time one for every community,
    without a usable password (log-ins are created by the city)."""
    unusable = make_password(None)
    grids = list(Grid.objects.current().values_list("id", "code", "community_id"))
    communities = sorted({c for _, _, c in grids})
    users = [User(username=f"gw{code}", role=Role.GRID_WORKER, password=unusable,
                  display_name=f"网格员 {code[-6:]}") for _, code, _ in grids]
    users += [User(username=f"pt{c}", role=Role.GRID_WORKER, password=unusable,
                   display_name="兼职网格员") for c in communities]
    User.objects.bulk_create(users, batch_size=1000)
    ids = dict(User.objects.filter(username__in=[u.username for u in users])
               .values_list("username", "id"))
    workers = [GridWorker(user_id=ids[f"gw{code}"], kind=GridWorker.Kind.FULL_TIME)
               for _, code, _ in grids]
    workers += [GridWorker(user_id=ids[f"pt{c}"], kind=GridWorker.Kind.PART_TIME)
                for c in communities]
    GridWorker.objects.bulk_create(workers, batch_size=1000)
    worker_ids = dict(GridWorker.objects.filter(user_id__in=ids.values())
                      .values_list("user__username", "id"))
    through = GridWorker.grids.through
    links = [through(gridworker_id=worker_ids[f"gw{code}"], grid_id=gid)
             for gid, code, _ in grids]
    links += [through(gridworker_id=worker_ids[f"pt{c}"], grid_id=gid)
              for gid, _, c in grids]
    through.objects.bulk_create(links, batch_size=2000)
