"""Ninety days of incidents for the demo, made by the real services.

Every report goes through ``incident_report`` and every later step through
the action services (``services.ACTIONS``), each called with ``now=`` set to
a simulated instant, so timelines, stage deadlines in working time, lights
and overdue marks are what the platform itself would have recorded. The
overdue sweep runs every simulated hour, and once more at ``end``.

The simulation is a queue of events ordered by time: reports (drawn with a
daily and weekly rhythm), the next step of each case, and the sweeps. Each
case draws its content and its fate from its own random generator
(``seed`` and its position in report order), so the same seed, the same
``end`` and the same territory give the same history.

Who does what: grid workers (``gw<grid code>``) report their patrol cases
and resolve ~40 % on the spot; the city's intake desks (the 12345 hotline,
the web portal, the Open311 app), departments and devices report the rest;
the operators of the holding linkage centre (``op<region code>``) accept,
dispatch, verify and call back; the handlers of the department sent to
(``hd<department code>``) sign and handle. Missing operators, handlers, grid
workers, intake desks and devices are created first, in bulk, without usable
passwords.
"""

from __future__ import annotations

import datetime as dt
import gc
import heapq
import math
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import shapely
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from shanzhi.accounts import staff
from shanzhi.accounts.models import Department, GridWorker, Role, User
from shanzhi.cases import sla
from shanzhi.core.calendar import get_calendar
from shanzhi.core.errors import DomainError
from shanzhi.geo.models import Grid, Level, Region
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.case import limit as incident_limit
from shanzhi.incidents.models import Category, Channel, Device, Incident, RoutingRule

# ---------------------------------------------------------------- the mix

#: Share of reports per channel (per cent).
CHANNELS = {Channel.HOTLINE_12345: 45.0, Channel.GRID_PATROL: 35.0, Channel.CITIZEN_WEB: 8.0,
            Channel.OPEN311: 5.0, Channel.DEPARTMENT: 3.0, Channel.IOT: 2.5,
            Channel.VIDEO: 1.5}
CITIZEN_CHANNELS = frozenset({Channel.HOTLINE_12345, Channel.CITIZEN_WEB, Channel.OPEN311})

#: Reports per hour of the day (Asia/Shanghai): few at night, peaks 9–11 and 14–17.
HOURLY = (0.35, 0.2, 0.15, 0.12, 0.12, 0.25, 0.7, 1.8, 4.0, 7.0, 7.5, 6.2,
          3.2, 4.2, 6.5, 7.0, 6.8, 4.8, 3.0, 2.6, 2.2, 1.8, 1.2, 0.7)
#: Grid workers patrol in the daytime.
PATROL_HOURLY = (0, 0, 0, 0, 0, 0, 0, 0.3, 3.0, 8.0, 9.0, 7.0,
                 2.0, 4.0, 8.0, 9.0, 8.0, 4.0, 1.0, 0.2, 0, 0, 0, 0)
#: Sensors and cameras alert around the clock, a little more by day.
DEVICE_HOURLY = (0.6, 0.5, 0.5, 0.5, 0.5, 0.6, 0.8, 1.0, 1.3, 1.4, 1.4, 1.3,
                 1.2, 1.3, 1.4, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6)
#: Share of a working day's volume on a weekend and on a public holiday (per channel kind).
WEEKEND = {"citizen": 0.72, "patrol": 0.35, "device": 1.0, "department": 0.15}
HOLIDAY = {"citizen": 0.55, "patrol": 0.2, "device": 1.0, "department": 0.05}

#: Subcategory → (weight among patrol reports, weight among the others).
CATEGORIES = {
    "SJ0102": (14, 7), "SJ0404": (9, 6), "SJ0405": (8, 4), "SJ0402": (9, 5),
    "SJ0401": (5, 2.5), "SJ0403": (4, 2), "SJ0201": (6, 1.5), "SJ0104": (5, 3),
    "SJ0103": (3.5, 2), "SJ0101": (2.5, 2), "SJ0105": (1, 0.8), "SJ0106": (1.2, 0.8),
    "SJ0202": (1, 0.6), "SJ0301": (1, 5), "SJ0302": (1.5, 1.5), "SJ0303": (2, 2.5),
    "SJ0501": (0.8, 1.5), "SJ0502": (0.03, 0.06), "SJ0503": (0.2, 0.5),
    "BJ0101": (1, 0.6), "BJ0102": (1.5, 0.8), "BJ0103": (1, 0.6), "BJ0104": (2, 2.5),
    "BJ0201": (0.4, 0.8), "BJ0202": (0.6, 0.3), "BJ0203": (0.4, 0.3), "BJ0401": (1.5, 1.2),
    "BJ0402": (1, 0.6),
    "ZZ0101": (3, 6), "ZZ0102": (0.8, 3), "ZZ0103": (1.5, 4.5), "ZZ0201": (1, 1),
    "ZZ0202": (0.2, 0.3), "ZZ0301": (0.8, 0.4), "ZZ0302": (0.15, 0.1), "ZZ0401": (2.5, 1.5),
    "ZZ0402": (3, 1.5), "ZZ0501": (2, 8), "ZZ0502": (0.4, 0.8), "ZZ0503": (0.3, 1),
    "ZZ0601": (3, 3), "ZZ0701": (0.6, 0.1), "ZZ0801": (0.2, 2), "ZZ0802": (0.3, 2),
    "ZZ0803": (0.5, 6),
}
#: Devices: (channel, category, name) — water-level sensors, manhole sensors,
#: smoke sensors in bicycle sheds, and video analytics on streets.
DEVICE_KINDS = [
    (Channel.IOT, "SJ0501", "积水监测仪"), (Channel.IOT, "BJ0102", "智能井盖"),
    (Channel.IOT, "ZZ0402", "非机动车棚烟感"), (Channel.VIDEO, "SJ0402", "占道经营识别"),
    (Channel.VIDEO, "SJ0404", "违停识别"), (Channel.VIDEO, "SJ0102", "垃圾暴露识别"),
]
DEVICES_PER_KIND = 15
#: The city's intake desks (operators of the city centre) per citizen channel.
INTAKE_DESKS = {Channel.HOTLINE_12345: ("hotline12345", "12345热线坐席"),
                Channel.CITIZEN_WEB: ("web_intake", "市民网页受理"),
                Channel.OPEN311: ("open311_intake", "Open311 应用受理")}
#: Hotline reports whose category the operator picks when accepting.
UNCLASSIFIED_SHARE = 0.08

#: Relative weight of a district's incidents (people, density), then of a town:
#: streets (街道) ×2.5 over towns (镇).
DISTRICT_WEIGHT = {"320508": 14, "320576": 13, "320505": 9, "320506": 11, "320507": 7,
                   "320509": 11, "320581": 8, "320582": 8, "320583": 13, "320585": 6}
STREET_FACTOR = 2.5

SWEEP_EVERY = dt.timedelta(hours=1)
BATCH = 200
PROGRESS_EVERY = 5_000

ROADS = ["干将路", "人民路", "观前街", "平江路", "十全街", "凤凰街", "石路", "金鸡湖大道",
         "星湖街", "现代大道", "苏州大道", "竹辉路", "东环路", "西环路", "南环路", "北环路",
         "三香路", "长江路", "狮山路", "塔园路", "东吴北路", "宝带路", "吴中大道", "友新路",
         "松陵大道", "中山路", "黄河路", "虞山路", "前进路", "娄江路", "朝阳路", "李公堤",
         "苏州湾大道", "太湖大道", "相城大道", "阳澄湖大道", "景德路", "养育巷", "临顿路"]
SPOTS = ["号门口", "号附近", "小区南门", "小区东门", "菜市场旁", "公交站台旁", "路口",
         "商业街", "地铁站出口", "学校对面", "河边步道", "桥下", "停车场"]
DESCRIPTIONS = {
    "SJ0102": ["路边垃圾桶满溢，垃圾散落一地", "有人乱倒生活垃圾，气味很大", "绿化带内堆有垃圾袋"],
    "SJ0404": ["机动车长期占用人行道停放", "车辆堵住小区消防通道", "路口违停影响通行"],
    "SJ0405": ["共享单车堆积占道", "电动车乱停挡住盲道"],
    "SJ0402": ["流动摊贩占道经营", "早餐摊占用人行道", "水果摊摆到机动车道上"],
    "SJ0401": ["无照游商沿街叫卖", "夜间流动烧烤摊"],
    "SJ0201": ["墙面和电线杆上贴满小广告", "单元门口喷涂办证广告"],
    "SJ0104": ["路面有大片油污", "道路上撒落泥土未清扫"],
    "SJ0301": ["工地夜间施工噪声扰民", "工地清晨六点前开工"],
    "ZZ0101": ["楼上漏水与楼下住户发生纠纷", "邻居在楼道堆放杂物引发争执", "两户因噪声发生口角"],
    "ZZ0103": ["业主与物业因停车费发生纠纷", "物业长期不维修电梯"],
    "ZZ0102": ["工人反映被拖欠工资", "装修工人讨薪"],
    "ZZ0501": ["广场舞音响声音过大", "商铺外放音乐扰民", "夜间KTV噪声扰民"],
    "ZZ0402": ["楼道内私拉电线给电动车充电", "电动车推进电梯上楼充电"],
    "ZZ0401": ["消防通道被杂物堵塞", "消防通道被车辆占用"],
    "ZZ0803": ["路灯不亮请求维修", "公交站台缺少遮阳棚", "小区门口缺少减速带"],
    "SJ0502": ["路面出现塌陷坑洞，已设临时围挡", "道路突然下陷，存在安全隐患"],
}
RESULTS = ["已现场清理完毕", "已督促当事人整改", "已联系责任单位处理", "已劝离并登记",
           "已维修完成", "已调解，双方达成一致"]
RETURN_REASONS = ["不属于本单位职责范围", "位置不在本单位管辖区域", "需由属地先行处置"]
FAIL_REASONS = ["现场复核仍未整改到位", "整改不彻底，仍有残留", "照片与现场不符"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国"


@dataclass
class History:
    """What ``build_history`` made."""

    incidents: int = 0
    channels: Counter = field(default_factory=Counter)
    states: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    sweeps: Counter = field(default_factory=Counter)
    #: Service calls the platform refused (a bug in the simulation if not empty).
    errors: Counter = field(default_factory=Counter)
    overdue_open: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        def share(counter: Counter) -> str:
            total = sum(counter.values()) or 1
            return ", ".join(f"{k} {v / total:.0%}" for k, v in counter.most_common())

        return (f"{self.incidents:,} incidents in {self.seconds:.0f} s; channels: "
                f"{share(self.channels)}; states: {share(self.states)}; "
                f"{self.overdue_open:,} open and overdue")


# ---------------------------------------------------------------- the cast and the places

@dataclass
class _Place:
    grid_id: int
    code: str
    town_id: int
    district_code: str
    geometry: shapely.Geometry


class _World:
    """Everything the simulation looks up, loaded once."""

    def __init__(self, *, rng: random.Random) -> None:
        regions = {r.pk: r for r in Region.objects.current().filter(
            level__in=[Level.CITY, Level.DISTRICT, Level.TOWN])}
        self.regions = regions
        self.parent = {r.pk: r.parent_id for r in regions.values()}
        self.departments = {(d.region_id, d.kind): d for d in Department.objects.all()}
        grids = list(Grid.objects.current().order_by("code")
                     .values_list("id", "code", "path", "geometry"))
        geometries = shapely.from_wkb([bytes(g[3]) for g in grids])
        self.places: list[_Place] = []
        weights: list[float] = []
        per_town: Counter = Counter()
        for (gid, code, path, _wkb), geom in zip(grids, geometries, strict=True):
            chain = [int(p) for p in path.strip("/").split("/") if p]
            town = next((r for r in chain if r in regions and regions[r].level == Level.TOWN),
                        None)
            district = next((regions[r] for r in chain
                             if r in regions and regions[r].level == Level.DISTRICT), None)
            if town is None or district is None:
                continue
            shapely.prepare(geom)
            self.places.append(_Place(gid, code, town, district.code, geom))
            per_town[town] += 1
        # a district's share, split among its towns (streets weigh more), then
        # evenly among a town's grids, times a random hot-spot factor per grid
        town_factor = {t: STREET_FACTOR if _is_street(regions[t]) else 1.0 for t in per_town}
        district_towns: Counter = Counter()
        for t, factor in town_factor.items():
            district_towns[regions[t].parent_id] += factor
        for place in self.places:
            town = regions[place.town_id]
            weight = (DISTRICT_WEIGHT.get(place.district_code, 8)
                      * town_factor[town.pk] / district_towns[town.parent_id]
                      / per_town[town.pk])
            weights.append(weight * rng.lognormvariate(0, 0.6))
        if not self.places:
            raise DomainError("the territory has no grids below a town: build the demo first")
        self.cum_weights = _cumulate(weights)
        self.categories = {c.code: c for c in Category.objects.filter(
            code__in=list(CATEGORIES), is_active=True)}
        self.rules = {code: c.current_rules for code, c in self.categories.items()}
        codes = sorted(c for c in CATEGORIES if c in self.categories)
        self.category_codes = codes
        self.patrol_weights = _cumulate([CATEGORIES[c][0] for c in codes])
        self.citizen_weights = _cumulate([CATEGORIES[c][1] for c in codes])
        self.routing_rules = RoutingRule.objects.exists()

    # --- people

    def cast(self) -> None:
        """Load (creating what is missing) the operators of every linkage
        centre, the handlers of every department and a worker for every grid."""
        unusable = make_password(None)
        _ensure_users([User(username=f"op{r.code}", role=Role.OPERATOR, region=r,
                            password=unusable, display_name=f"{r.name}联动中心坐席")
                       for r in self.regions.values()])
        _ensure_users([User(username=f"hd{d.code}", role=Role.HANDLER, department=d,
                            password=unusable, display_name=f"{d.name}办理人")
                       for d in self.departments.values()])
        city = next(r for r in self.regions.values() if r.level == Level.CITY)
        _ensure_users([User(username=name, role=Role.OPERATOR, region=city, password=unusable,
                            display_name=display) for name, display in INTAKE_DESKS.values()])
        _ensure_grid_workers([(p.grid_id, p.code) for p in self.places], unusable)
        self.operators = {u.region_id: u for u in User.objects.select_related("region").filter(
            username__in=[f"op{r.code}" for r in self.regions.values()])}
        self.handlers = {u.department_id: u for u in User.objects.select_related(
            "department__region").filter(
            username__in=[f"hd{d.code}" for d in self.departments.values()])}
        workers = {u.username: u for u in User.objects.select_related("grid_worker").filter(
            username__in=[f"gw{p.code}" for p in self.places])}
        self.workers = {p.grid_id: workers[f"gw{p.code}"] for p in self.places}
        desks = {u.username: u for u in User.objects.select_related("region").filter(
            username__in=[name for name, _display in INTAKE_DESKS.values()])}
        self.desks = {channel: desks[name] for channel, (name, _d) in INTAKE_DESKS.items()}

    def devices(self, rng: random.Random) -> list[Device]:
        existing = {d.device_id: d for d in Device.objects.select_related("category")
                    .filter(device_id__startswith="demo-")}
        for kind, (channel, category, name) in enumerate(DEVICE_KINDS):
            if category not in self.categories:
                continue
            for n in range(DEVICES_PER_KIND):
                device_id = f"demo-{channel}-{category}-{n:02d}"
                place = self.pick_place(rng)
                lng, lat = self.point_in(place, rng)
                if device_id not in existing:
                    existing[device_id], _token = services.device_create(
                        device_id=device_id, name=f"{name} {kind + 1}-{n + 1:02d}",
                        channel=channel, category=category, lng=round(lng, 6),
                        lat=round(lat, 6))
        return [existing[k] for k in sorted(existing)]

    # --- places

    def pick_place(self, rng: random.Random) -> _Place:
        return rng.choices(self.places, cum_weights=self.cum_weights)[0]

    @staticmethod
    def point_in(place: _Place, rng: random.Random) -> tuple[float, float]:
        """A random point strictly inside the grid (so the index finds this grid)."""
        minx, miny, maxx, maxy = place.geometry.bounds
        for _ in range(100):
            lng, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(place.geometry, round(lng, 7), round(lat, 7)):
                return round(lng, 7), round(lat, 7)
        point = place.geometry.representative_point()
        return point.x, point.y

    # --- routing

    def suggestion(self, incident: Incident) -> Department | None:
        """The department the routing suggests (the service records its own)."""
        if self.routing_rules:
            from shanzhi.incidents.routing import suggest_department

            return suggest_department(region=incident.region, category=incident.category,
                                      rules=incident.rules).department
        wanted = (incident.rules.departments if incident.rules else None) or {}
        for region_id in self.chain(incident):
            kind = wanted.get(self.regions[region_id].level)
            if kind and (region_id, kind) in self.departments:
                return self.departments[(region_id, kind)]
        return None

    def chain(self, incident: Incident) -> list[int]:
        """The incident's town, district and city, lowest first."""
        ids = [int(p) for p in reversed(incident.path.strip("/").split("/")) if p]
        return [i for i in ids if i in self.regions]

    def responsible(self, incident: Incident, level: str | None = None) -> list[Department]:
        """Departments of the incident's chain (at ``level`` if given), by code."""
        chain = set(self.chain(incident))
        return sorted((d for d in self.departments.values() if d.region_id in chain
                       and (level is None or self.regions[d.region_id].level == level)),
                      key=lambda d: d.code)


def _is_street(town: Region) -> bool:
    """A street (街道) or zone rather than a town (镇): 100–199 is the code range of 镇."""
    return not (100 <= int(town.code[6:9] or 0) <= 199
                or town.name.endswith(("镇", "（镇）", "(镇)")))


def _cumulate(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _ensure_users(users: list[User]) -> None:
    existing = set(User.objects.filter(username__in=[u.username for u in users])
                   .values_list("username", flat=True))
    User.objects.bulk_create([u for u in users if u.username not in existing], batch_size=1000)
    staff.changed()  # written in bulk: no signal told the memo


def _ensure_grid_workers(grids: list[tuple[int, str]], password: str) -> None:
    """A full-time worker ``gw<grid code>`` for every grid that has none by that name."""
    names = {f"gw{code}": gid for gid, code in grids}
    existing = set(User.objects.filter(username__in=list(names)).values_list("username",
                                                                             flat=True))
    missing = {name: gid for name, gid in names.items() if name not in existing}
    if not missing:
        return
    User.objects.bulk_create([User(username=name, role=Role.GRID_WORKER, password=password,
                                   display_name=f"网格员 {name[-6:]}") for name in missing],
                             batch_size=1000)
    ids = dict(User.objects.filter(username__in=list(missing)).values_list("username", "id"))
    GridWorker.objects.bulk_create([GridWorker(user_id=ids[name],
                                               kind=GridWorker.Kind.FULL_TIME)
                                    for name in missing], batch_size=1000)
    worker_ids = dict(GridWorker.objects.filter(user_id__in=ids.values())
                      .values_list("user__username", "id"))
    through = GridWorker.grids.through
    through.objects.bulk_create([through(gridworker_id=worker_ids[name], grid_id=gid)
                                 for name, gid in missing.items()], batch_size=2000)


# ---------------------------------------------------------------- when reports come in

def _report_times(*, start: dt.datetime, end: dt.datetime, incidents: int,
                  rng: random.Random) -> list[tuple[dt.datetime, str]]:
    """``incidents`` (time, channel) pairs in [start, end), sorted: the channel
    mix, the hours of the day, weekends and holidays lighter."""
    calendar = get_calendar()
    tz = calendar.tz
    profiles = {"citizen": HOURLY, "patrol": PATROL_HOURLY, "device": DEVICE_HOURLY,
                "department": PATROL_HOURLY}
    kind_of = {Channel.GRID_PATROL: "patrol", Channel.IOT: "device", Channel.VIDEO: "device",
               Channel.DEPARTMENT: "department"}
    # (day, hour, channel) buckets with their expected share
    buckets: list[tuple[dt.datetime, str, float]] = []
    day = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        working = calendar.is_working_day(day.date())
        holiday = not working and day.weekday() < 5
        for channel, share in CHANNELS.items():
            kind = kind_of.get(channel, "citizen")
            factor = 1.0 if working else (HOLIDAY if holiday else WEEKEND)[kind]
            profile = profiles[kind]
            total = sum(profile)
            for hour, weight in enumerate(profile):
                begin = day + dt.timedelta(hours=hour)
                covered = _overlap(begin, begin + dt.timedelta(hours=1), start, end)
                if weight and covered:
                    buckets.append((begin, channel, share * factor * weight / total * covered))
        day = (day + dt.timedelta(days=1, hours=2)).replace(hour=0)  # safe across DST
    out = []
    for begin, channel, _weight in rng.choices(buckets, cum_weights=_cumulate(
            [b[2] for b in buckets]), k=incidents):
        for _try in range(20):
            at = begin + dt.timedelta(seconds=rng.randrange(3600))
            if start <= at < end:
                break
        out.append((at, str(channel)))
    out.sort()
    return out


def _overlap(a0: dt.datetime, a1: dt.datetime, b0: dt.datetime, b1: dt.datetime) -> float:
    """The share of [a0, a1) inside [b0, b1)."""
    lo, hi = max(a0, b0), min(a1, b1)
    return max((hi - lo) / (a1 - a0), 0.0)


# ---------------------------------------------------------------- one case

@dataclass
class _Case:
    index: int
    at: dt.datetime
    channel: str
    rng: random.Random
    incident: Incident | None = None
    returns: int = 0
    reworks: int = 0
    dispatches: int = 0
    reopened: bool = False
    escalated: bool = False
    done: bool = False
    last_department: str = ""
    pk: int | None = None
    #: A step of this case is in the queue.
    pending: bool = False
    #: When the handler will report the result (planned when handling starts).
    report_at: dt.datetime | None = None


class _Simulation:
    def __init__(self, world: _World, devices: list[Device], *, seed: int, end: dt.datetime,
                 stats: History) -> None:
        self.world = world
        self.devices = devices
        self.seed = seed
        self.end = end
        self.stats = stats
        self.calendar = get_calendar()
        self.queue: list[tuple[dt.datetime, int, int, str, dict]] = []
        self.clock = end - dt.timedelta(days=36500)
        self.order = 0
        self.cases: list[_Case] = []
        self.by_pk: dict[int, _Case] = {}
        #: (town, category) → recent (time, number, case index): originals for duplicates.
        self.recent: dict[tuple[int, int], deque] = defaultdict(lambda: deque(maxlen=20))

    # --- the queue

    def push(self, at: dt.datetime, case: _Case | None, action: str, **fields) -> None:
        if case is not None and action != "report":
            at = max(at, self.clock + dt.timedelta(seconds=30))  # one step after another
        if at >= self.end and action != "sweep":
            return  # still to come: the case stays open
        self.order += 1
        heapq.heappush(self.queue, (at, self.order, case.index if case else -1, action, fields))
        if case is not None:
            case.pending = True

    def later(self, case: _Case, start: dt.datetime, share: float,
              stage: str | None = None) -> dt.datetime:
        """When ``share`` of the running stage's limit is used, from ``start``
        (a share above 1 is late), plus a few minutes of jitter."""
        incident = case.incident
        stage = stage or incident.stage or "handle"
        limit = incident_limit(incident, stage)
        amount = min(max(limit["amount"] * share, 0.02), limit["amount"] * 6)
        at = self.calendar.add(start, round(amount, 3), limit["unit"]).at
        return max(at, start + dt.timedelta(minutes=1)) + dt.timedelta(
            seconds=case.rng.randrange(300))

    def run(self, times: list[tuple[dt.datetime, str]], progress: Callable[[str], None],
            started: float, on_report: Callable[[int], None] | None = None) -> None:
        for index, (at, channel) in enumerate(times):
            case = _Case(index, at, channel, random.Random(self.seed * 1_000_003 + index))
            self.cases.append(case)
            self.push(at, case, "report")
        sweep_at = min((t for t, _ in times), default=self.end)
        sweep_at = sweep_at.replace(minute=0, second=0, microsecond=0) + SWEEP_EVERY
        while sweep_at < self.end:
            self.push(sweep_at, None, "sweep")
            sweep_at += SWEEP_EVERY
        self.push(self.end, None, "sweep")
        reported = 0
        while self.queue:
            with transaction.atomic():
                for _ in range(BATCH):
                    if not self.queue:
                        break
                    at, _order, index, action, fields = heapq.heappop(self.queue)
                    self.clock = at
                    if action == "sweep":
                        self.sweep(at)
                        continue
                    case = self.cases[index]
                    case.pending = False
                    if action == "report":
                        self.report(case)
                        reported += 1
                        if on_report is not None:
                            on_report(reported)
                        if reported % PROGRESS_EVERY == 0 or reported == len(times):
                            progress(f"  {reported:,}/{len(times):,} incidents reported, "
                                     f"simulated up to {timezone.localtime(at):%Y-%m-%d %H:%M}"
                                     f" ({time.monotonic() - started:.0f} s)")
                    else:
                        self.act(case, at, action, fields)
                    if not case.pending and case.incident is not None:
                        # nothing more will happen to it: let it go (memory, GC)
                        self.by_pk.pop(case.incident.pk, None)
                        case.incident = None

    def sweep(self, at: dt.datetime) -> None:
        counts = sla.sweep(now=at)
        self.stats.sweeps.update({k: v for k, v in counts.items() if v})
        if counts["escalated"]:
            # the sweep moved some to the centre above: our copies must see the new holder
            from shanzhi.incidents.models import TimelineEntry

            for pk in TimelineEntry.objects.filter(action="overdue", at=at).values_list(
                    "incident_id", flat=True):
                if pk in self.by_pk:
                    self.by_pk[pk].incident.refresh_from_db()

    # --- the steps

    def report(self, case: _Case) -> None:
        rng, world, at = case.rng, self.world, case.at
        fields: dict = {"channel": case.channel, "now": at}
        device = None
        if case.channel in (Channel.IOT, Channel.VIDEO):
            candidates = [d for d in self.devices if d.channel == case.channel]
            device = rng.choice(candidates) if candidates else None
        if device is not None:
            code = device.category.code if device.category else "SJ0102"
            fields.update(actor=None, device=device, lng=device.lng, lat=device.lat,
                          category=code,
                          description=f"{device.name} 告警：{world.categories[code].name}")
            place_town = None
        else:
            place = world.pick_place(rng)
            place_town = place.town_id
            lng, lat = world.point_in(place, rng)
            weights = (world.patrol_weights if case.channel == Channel.GRID_PATROL
                       else world.citizen_weights)
            code = rng.choices(world.category_codes, cum_weights=weights)[0]
            spot = f"{rng.choice(ROADS)}{rng.randint(1, 399)}{rng.choice(SPOTS)}"
            text = rng.choice(DESCRIPTIONS.get(code, [f"发现{world.categories[code].name}问题"]))
            fields.update(lng=lng, lat=lat, address=spot, category=code,
                          description=f"{spot}{text}，请尽快处理。")
            if case.channel == Channel.GRID_PATROL:
                fields["actor"] = world.workers[place.grid_id]
            elif case.channel == Channel.DEPARTMENT:
                district = world.parent[place.town_id]
                depts = [d for (rid, _k), d in world.departments.items() if rid == district]
                fields["actor"] = (world.handlers.get(min(depts, key=lambda d: d.code).pk)
                                   if depts else world.desks[Channel.HOTLINE_12345])
            else:  # the city's intake desks: the hotline, the web portal, the Open311 app
                fields["actor"] = world.desks[case.channel]
            if case.channel in CITIZEN_CHANNELS:
                fields["contact_name"] = (rng.choice(SURNAMES) + rng.choice(GIVEN)
                                          + rng.choice(["", rng.choice(GIVEN)]))
                fields["contact_phone"] = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        rules = world.rules[code]
        extra = {}
        for spec in rules.extra_fields if rules else []:
            if spec.get("datatype") == "singlevaluelist" and spec.get("values"):
                extra[spec["code"]] = rng.choice(spec["values"])["key"]
            elif spec.get("datatype") == "number" and rng.random() < 0.5:
                extra[spec["code"]] = rng.randint(2, 12)
        fields["extra"] = extra
        u = rng.random()
        fields["urgency"] = "critical" if u < 0.01 else "urgent" if u < 0.06 else "normal"
        if case.channel == Channel.HOTLINE_12345 and rng.random() < UNCLASSIFIED_SHARE:
            fields.update(category=None, extra=None, urgency="normal")
        try:
            incident, _created = services.incident_report(**fields)
        except DomainError as exc:
            self.stats.errors[f"report: {exc.message}"] += 1
            return
        case.incident, case.pk = incident, incident.pk
        self.by_pk[incident.pk] = case
        self.stats.incidents += 1
        self.stats.channels[case.channel] += 1
        self.stats.actions["report"] += 1
        if place_town is not None and incident.category_id:
            self.recent[(place_town, incident.category_id)].append(
                (at, incident.number, case.index))
        if case.channel == Channel.GRID_PATROL and rng.random() < 0.40:
            self.push(at + dt.timedelta(minutes=rng.randint(3, 45)), case, "self_resolve",
                      result=rng.choice(RESULTS))
            return
        self.after_report(case, at, place_town, code)

    def after_report(self, case: _Case, at: dt.datetime, town: int | None,
                     code: str | None) -> None:
        rng = case.rng
        when = self.later(case, at, rng.lognormvariate(math.log(0.35), 0.8), "accept")
        u = rng.random()
        if u < 0.025:
            self.push(when, case, "reject", reason=rng.choice(
                ["非本平台受理范围", "信息不全，无法核实", "经核实情况不属实"]))
        elif u < 0.055 and town is not None and case.incident.category_id:
            originals = [r for r in self.recent[(town, case.incident.category_id)]
                         if r[2] != case.index and at - r[0] < dt.timedelta(days=3)
                         and not self.cases[r[2]].done]
            if originals:
                self.push(when, case, "merge", original=rng.choice(originals)[1])
            else:
                self.push(when, case, "accept")
        else:
            category = None if case.incident.category_id else rng.choices(
                self.world.category_codes, cum_weights=self.world.citizen_weights)[0]
            self.push(when, case, "accept", category=category)

    def act(self, case: _Case, at: dt.datetime, action: str, fields: dict) -> None:
        incident = case.incident
        actor = self.actor(case, action)
        if action == "dispatch" and "department" not in fields:
            fields = {**fields, "department": self.department_for(case)}
        try:
            case.incident = services.ACTIONS[action](actor=actor, incident=incident, now=at,
                                                     **fields)
        except DomainError as exc:
            self.stats.errors[f"{action}: {exc.message}"] += 1
            return
        self.stats.actions[action] += 1
        self.next(case, at, action)

    def actor(self, case: _Case, action: str) -> User:
        world, incident = self.world, case.incident
        if action in ("sign", "return", "report_result", "request_extension") or (
                action == "escalate" and incident.state == wf.IN_PROGRESS):
            return world.handlers[incident.department_id]
        if action == "self_resolve" or (action in ("verify_pass", "verify_fail")
                                        and case.channel == Channel.GRID_PATROL
                                        and incident.grid_id in world.workers
                                        and case.rng.random() < 0.75):
            return world.workers[incident.grid_id]
        if action == "supervise":  # 督办 comes from the centre above
            parent = world.parent.get(incident.holder_id)
            return world.operators.get(parent) or world.operators[incident.holder_id]
        return world.operators[incident.holder_id]

    def department_for(self, case: _Case) -> str:
        """Mostly the routing suggestion; sometimes the operator knows better
        (or the last department sent it back)."""
        world, incident, rng = self.world, case.incident, case.rng
        suggested = world.suggestion(incident)
        holder_level = world.regions[incident.holder_id].level
        level_departments = world.responsible(incident, holder_level)
        others = [d for d in (level_departments or world.responsible(incident))
                  if d != suggested]
        if holder_level != Level.TOWN and suggested is not None:
            # at a district or the city: its own department of the suggested kind
            same_kind = [d for d in level_departments if d.kind == suggested.kind]
            suggested = same_kind[0] if same_kind else suggested
        others = [d for d in others if d.code != case.last_department]
        follow = suggested is not None and (
            rng.random() < 0.88 if case.dispatches == 0
            else suggested.code != case.last_department)
        case.dispatches += 1
        chosen = suggested if follow or not others else rng.choice(others)
        case.last_department = (chosen or others[0]).code
        return case.last_department

    def next(self, case: _Case, at: dt.datetime, action: str) -> None:
        """Plan the case's next step after ``action`` at ``at``."""
        incident, rng = case.incident, case.rng
        state = incident.state
        case.done = state in (wf.CLOSED, wf.REJECTED)  # no longer an original for duplicates
        if state == wf.REJECTED:
            return
        if state == wf.CLOSED:
            if action in ("verify_pass",) and case.channel in CITIZEN_CHANNELS \
                    and rng.random() < 0.85:
                when = self.calendar.add(at, round(rng.uniform(0.2, 2.0), 2), "working_days").at
                u = rng.random()
                satisfaction = ("satisfied" if u < 0.80 else "basically_satisfied" if u < 0.94
                                else "dissatisfied")
                self.push(when, case, "callback", satisfaction=satisfaction,
                          note="电话回访" if u < 0.94 else "群众表示问题仍未解决")
            elif action == "callback" and incident.satisfaction == services.SATISFACTION[
                    "dissatisfied"] and not case.reopened and rng.random() < 0.5:
                case.reopened = True
                self.push(at + dt.timedelta(minutes=rng.randint(10, 120)), case, "reopen",
                          reason="回访不满意，重新派遣办理")
            return
        if state == wf.REGISTERED:
            when = self.later(case, at, rng.lognormvariate(math.log(0.3), 0.8))
            on_overdue = incident.rules.on_overdue if incident.rules else "notify"
            holder_level = self.world.regions[incident.holder_id].level
            if (not case.escalated and holder_level == Level.TOWN and on_overdue == "escalate"
                    and rng.random() < 0.15):
                case.escalated = True
                self.push(when, case, "escalate", reason="超出街镇处置能力，提请区联动中心协调")
            elif (action == "escalate" and holder_level == Level.DISTRICT
                  and rng.random() < 0.3):
                town = next((r for r in self.world.chain(incident)
                             if self.world.regions[r].level == Level.TOWN), None)
                if town is not None:
                    self.push(when, case, "assign_down", region=self.world.regions[town].code,
                              note="区联动中心协调后交街镇办理")
                else:
                    self.push(when, case, "dispatch")
            else:
                self.push(when, case, "dispatch", note="请及时处置")
            return
        if state == wf.DISPATCHED:
            if case.returns == 0 and rng.random() < 0.06:
                case.returns += 1
                self.push(self.later(case, at, rng.uniform(0.2, 0.9)), case, "return",
                          reason=rng.choice(RETURN_REASONS))
            else:
                self.push(self.later(case, at, rng.lognormvariate(math.log(0.4), 0.9)), case,
                          "sign")
            return
        if state == wf.IN_PROGRESS and action in ("sign", "verify_fail", "approve_extension",
                                                  "refuse_extension", "supervise",
                                                  "request_extension"):
            self.plan_handling(case, at, action)
            return
        if state == wf.HANDLED:
            when = self.later(case, at, rng.lognormvariate(math.log(0.25), 0.8))
            if case.reworks < 2 and rng.random() < 0.07:
                case.reworks += 1
                self.push(when, case, "verify_fail", reason=rng.choice(FAIL_REASONS))
            else:
                self.push(when, case, "verify_pass", note="现场核查已整改")

    def plan_handling(self, case: _Case, at: dt.datetime, action: str) -> None:
        """In progress: maybe escalate, ask for more time, get supervised; then report."""
        rng, incident = case.rng, case.incident
        if action in ("approve_extension", "refuse_extension", "supervise"):
            self.push(case.report_at, case, "report_result", result=rng.choice(RESULTS))
            return
        if action == "request_extension":
            when = self.later(case, at, rng.uniform(0.05, 0.3), "dispatch")
            if rng.random() < 0.8:
                self.push(when, case, "approve_extension", note="同意延期")
            else:
                self.push(when, case, "refuse_extension", reason="请按原时限办结")
            case.report_at = max(case.report_at, when + dt.timedelta(minutes=30))
            return
        share = rng.lognormvariate(math.log(0.45 if action == "sign" else 0.3), 0.75)
        report_at = self.later(case, at, share)
        if not case.escalated and incident.holder_id and rng.random() < 0.012 \
                and self.world.parent.get(incident.holder_id):
            case.escalated = True
            self.push(self.later(case, at, share * 0.3), case, "escalate",
                      reason="涉及多个部门职责，需上级协调")
            return
        case.report_at = report_at
        u = rng.random()
        if (share > 1.0 and u < 0.45) or u < 0.02:
            self.push(self.later(case, at, min(share, 1.0) * 0.6), case, "request_extension",
                      reason="需协调相关单位，申请延期", amount=rng.choice([1, 2, 3]),
                      unit="working_days")
        elif share > 0.85 and u < 0.5:
            self.push(self.later(case, at, 0.75), case, "supervise",
                      note="请加快办理进度", level="red" if share > 1.5 else "yellow")
        else:
            self.push(report_at, case, "report_result", result=rng.choice(RESULTS))


# ---------------------------------------------------------------- the entry point

def build_history(*, days: int = 90, incidents: int = 50_000, seed: int = 2026,
                  end: dt.datetime | None = None,
                  progress: Callable[[str], None] = print,
                  on_report: Callable[[int], None] | None = None) -> History:
    """Fill ``days`` of incidents up to ``end`` (default: now) on the territory
    in the database (the Suzhou demo); return what was made. ``on_report`` is
    called with the number of incidents reported so far (0 first), e.g. a
    ``demo.progress.ProgressRecorder`` that the pages read."""
    started = time.monotonic()
    end = (end or timezone.now()).replace(microsecond=0)
    if timezone.is_naive(end):
        raise DomainError("end needs a time zone")
    start = end - dt.timedelta(days=days)
    rng = random.Random(seed)
    stats = History()
    progress(f"history: {incidents:,} incidents over {days} days up to "
             f"{timezone.localtime(end):%Y-%m-%d %H:%M} …")
    with transaction.atomic():
        world = _World(rng=rng)
        world.cast()
        devices = world.devices(rng)
    times = _report_times(start=start, end=end, incidents=incidents, rng=rng)
    simulation = _Simulation(world, devices, seed=seed, end=end, stats=stats)
    # hundreds of thousands of short-lived ORM objects: collect garbage less
    # often, and never scan what was loaded before (about 6 % less time)
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        if on_report is not None:
            on_report(0)
        simulation.run(times, progress, started, on_report)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
    stats.states = _state_counts(simulation)
    stats.overdue_open = Incident.objects.filter(state__in=wf.OPEN_STATES, overdue=True).count()
    stats.seconds = time.monotonic() - started
    progress(f"history: {stats.summary()}")
    if stats.errors:
        progress(f"history: {sum(stats.errors.values())} steps refused: "
                 + "; ".join(f"{k} ×{v}" for k, v in stats.errors.most_common(5)))
    return stats


def _state_counts(simulation: _Simulation) -> Counter:
    ids = [c.pk for c in simulation.cases if c.pk]
    counts: Counter = Counter()
    for i in range(0, len(ids), 900):
        counts.update(Incident.objects.filter(pk__in=ids[i:i + 900]).values_list("state",
                                                                                  flat=True))
    return counts


__all__ = ["History", "build_history"]
