"""The grid's base data for the demo (人地事物组织): about 1 % of Suzhou's
population — 130,000 people — in households, houses and buildings with
standard addresses, organisations, special-group members followed up by
their grid workers, key places, and the follow-up tasks with their history.

* People: registered residents (户籍, identity numbers of Suzhou's districts,
  3205xx), migrants from other provinces with residence permits (some ending
  within 30 days: their renewal task is open), a few hundred overseas persons
  with passports, left-behind children, elders and women (留守) mostly in
  villages. Every identity number and credit code is synthetic and valid.
* Places: an estate (小区) per grid on a real-sounding Suzhou road, its
  buildings at points inside the grid, its flats (单元/室) with their keys
  (``registry.addresses``).
* Follow-up: each active member has done visits over the last months (state
  ``done``, when, what was found, a note) and one open task due by the
  engine's working-day deadline of the group's rule — some of them late, so
  the lights show. The demo's grid workers (worker_full, worker_part) follow
  members of their own grids.

Written with one ``executemany`` per batch and ids chosen here (the rows refer to each
other before they are written; the sequences are moved on after), so the
whole registry takes seconds. The same seed and ``end`` give the same rows.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Max
from django.db.models.base import ModelState
from django.utils import timezone

from shanzhi.accounts.models import GridWorker
from shanzhi.cases.engine import deadline
from shanzhi.core.calendar import get_calendar
from shanzhi.core.identity import synthetic_credit_code, synthetic_id_number
from shanzhi.geo.index import SpatialIndex, get_index
from shanzhi.geo.models import Level
from shanzhi.registry import addresses
from shanzhi.registry import workflow as wf
from shanzhi.registry.models import (
    Building,
    Finding,
    Group,
    House,
    Household,
    HouseUse,
    IdType,
    KeyPlace,
    LeftBehind,
    Member,
    Organisation,
    OrganisationKind,
    Person,
    PersonChange,
    PersonKind,
    PlaceKind,
    RiskLevel,
    Visit,
    VisitEntry,
    VisitStage,
)

#: About 1 % of Suzhou's 12.9 million people.
PEOPLE = 130_000
#: One organisation per this many people (≈3,000), one special-group member
#: per (≈1,500), one key place per (≈400).
PEOPLE_PER_ORGANISATION = 43
PEOPLE_PER_MEMBER = 87
PEOPLE_PER_PLACE = 325
#: Households: registered, migrant, overseas.
HOUSEHOLD_KINDS = ((PersonKind.REGISTERED, 0.55), (PersonKind.MIGRANT, 0.445),
                   (PersonKind.OVERSEAS, 0.005))
#: Days of follow-up history before ``end``.
HISTORY_DAYS = 120
#: The share of members whose last visit is late (a red light).
LATE_SHARE = 0.08
BATCH = 2000

SUZHOU_AREAS = ("320502", "320503", "320504", "320505", "320506", "320507", "320508",
                "320509", "320581", "320582", "320583", "320585")
#: Where Suzhou's migrants come from (GB/T 2260 county codes and their names).
MIGRANT_AREAS = {
    "341221": "安徽省阜阳市临泉县", "341222": "安徽省阜阳市太和县", "341282": "安徽省阜阳市界首市",
    "341621": "安徽省亳州市涡阳县", "340323": "安徽省蚌埠市固镇县", "341322": "安徽省宿州市萧县",
    "410522": "河南省安阳市安阳县", "411323": "河南省南阳市淅川县",
    "411721": "河南省驻马店市西平县", "411621": "河南省周口市扶沟县",
    "411525": "河南省信阳市固始县", "511321": "四川省南充市南部县",
    "510981": "四川省遂宁市射洪市", "500101": "重庆市万州区", "520304": "贵州省遵义市播州区",
    "430524": "湖南省邵阳市隆回县", "431102": "湖南省永州市零陵区", "360704": "江西省赣州市赣县区",
    "320321": "江苏省徐州市丰县", "321322": "江苏省宿迁市沭阳县", "320722": "江苏省连云港市东海县",
    "370881": "山东省济宁市曲阜市", "371522": "山东省聊城市莘县", "130123": "河北省石家庄市正定县",
    "230103": "黑龙江省哈尔滨市南岗区", "450103": "广西壮族自治区南宁市青秀区",
    "420116": "湖北省武汉市黄陂区", "140110": "山西省太原市晋源区", "620102": "甘肃省兰州市城关区",
    "530102": "云南省昆明市五华区",
}
#: The share of migrants whose permit ended in the last days (not yet renewed).
PERMIT_LAPSED_SHARE = 0.01
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
            "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
            "贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏飞斌宇浩凯晨轩子涵欣怡梓"
         "睿嘉琪佳文博俊志建国新海波婷雪琳晓燕慧颖思雨晗铭泽瑶诗悦")
FOREIGNERS = {"KOR": (("KIM", "LEE", "PARK", "CHOI"), ("MINJUN", "SEOYEON", "JIHO", "HAEUN")),
              "JPN": (("SATO", "SUZUKI", "TAKAHASHI", "TANAKA"), ("HIROSHI", "YUKI", "KENJI",
                                                                   "AYAKA")),
              "USA": (("SMITH", "JOHNSON", "WILLIAMS", "MILLER"), ("JOHN", "EMILY", "MICHAEL",
                                                                  "SARAH")),
              "DEU": (("MUELLER", "SCHMIDT", "WEBER"), ("ANNA", "LUKAS", "FELIX", "LEA")),
              "GBR": (("BROWN", "TAYLOR", "WILSON"), ("DAVID", "OLIVIA", "JAMES")),
              "FRA": (("DUBOIS", "MARTIN", "BERNARD"), ("MARIE", "PIERRE", "CAMILLE")),
              "SGP": (("TAN", "LIM", "ONG"), ("WEI MING", "HUI LING", "JUN JIE")),
              "VNM": (("NGUYEN", "TRAN", "LE"), ("VAN AN", "THI HOA", "MINH"))}
ETHNICITIES = (("01", 0.96), ("03", 0.01), ("04", 0.01), ("05", 0.005), ("08", 0.005),
               ("10", 0.01))
ROADS = ("平江路", "干将东路", "干将西路", "人民路", "学士街", "十全街", "凤凰街", "临顿路",
         "景德路", "三香路", "东环路", "西环路", "南环东路", "北环西路", "桐泾北路", "金鸡湖大道",
         "星湖街", "现代大道", "苏州大道东", "长江路", "狮山路", "竹园路", "何山路", "滨河路",
         "宝带西路", "东吴北路", "吴中大道", "越溪路", "石湖西路", "苏虹东路", "星海街", "旺墩路",
         "华池街", "娄门路", "齐门路", "阊胥路", "胥江路", "养育巷", "道前街", "十梓街", "观前街",
         "白塔西路", "相城大道", "澄阳路", "阳澄湖大道", "太湖大道", "中山南路", "鲈乡北路",
         "海虞北路", "虞山南路", "前进西路", "柏庐南路", "杨舍东路", "暨阳湖路", "上海东路",
         "娄江北路", "长安路", "运河路", "塔园路", "玉山路")
ESTATES = ("平江新城", "金枫苑", "桐泾花园", "彩香新村", "三元新村", "沧浪新城", "府前花园",
           "虹桥苑", "湖畔名居", "星港湾", "水岸清华", "锦绣江南", "东港新村", "枫桥人家",
           "阳光水榭", "翠园", "怡景湾", "御花园", "香城花园", "玉兰苑", "新湖花园", "万科城",
           "天域花园", "景城花园", "蠡口新苑", "盛泽新苑", "姑苏人家", "梅花园", "荷韵苑",
           "澜溪苑")
BRANDS = ("恒达", "鑫源", "华盛", "博远", "金桥", "同创", "吴韵", "锦程", "新芯", "瑞丰", "嘉禾",
          "东方", "润泽", "天成", "汇通", "永安", "佳禾", "明德", "正和", "苏新")
INDUSTRIES = (("制造业", "精密机械"), ("批发和零售业", "商贸"), ("住宿和餐饮业", "餐饮管理"),
              ("信息传输、软件和信息技术服务业", "信息科技"), ("建筑业", "建设工程"),
              ("租赁和商务服务业", "企业管理咨询"), ("居民服务业", "家政服务"),
              ("交通运输业", "物流"), ("科学研究和技术服务业", "生物科技"))
SHOPS = ("面馆", "便利店", "理发店", "水果店", "五金店", "干洗店", "小吃店", "药店")
OCCUPATIONS = ("职员", "工人", "个体经营", "教师", "医护人员", "司机", "厨师", "销售", "退休",
               "学生", "务农", "自由职业")
MIGRANT_REASONS = ("务工", "经商", "投靠亲友", "就学", "务工")
GROUPS = ((Group.CORRECTION, 0.15), (Group.RELEASED, 0.20), (Group.MENTAL, 0.30),
          (Group.DRUG, 0.20), (Group.YOUTH, 0.10), (Group.AIDS, 0.05))
LEVELS = ((RiskLevel.LOW, 0.60), (RiskLevel.MEDIUM, 0.28), (RiskLevel.HIGH, 0.12))
FINDINGS = ((Finding.NORMAL, 0.80), (Finding.CONCERN, 0.12), (Finding.ABSENT, 0.06),
            (Finding.ALERT, 0.02))
NOTES = {
    Finding.NORMAL: ("本人在家，情绪稳定，生活正常", "电话联系并上门走访，无异常",
                     "按时报到，思想稳定", "与家属交谈，近期表现良好", "服药规律，家属监护到位"),
    Finding.CONCERN: ("近期失业，情绪低落，需持续关注", "与邻居有口角，已劝导",
                      "家属反映作息不规律", "服药不规律，已提醒家属督促"),
    Finding.ABSENT: ("上门未遇，电话未接通，明日再访", "家中无人，已留联系卡"),
    Finding.ALERT: ("情绪激动，有过激言语，已报告社区并联系派出所",
                    "多日未归，家属无法联系，已上报"),
}
PLACE_NOTES = ("消防通道畅通，灭火器在有效期内", "安全出口标识完好",
               "发现电动车违规充电，已责令整改", "台账齐全，人员登记规范",
               "液化气瓶存放不规范，已督促整改")
PLACES = {
    PlaceKind.FIRE: ("电动车集中充电点", "家庭小作坊", "老旧仓库"),
    PlaceKind.RENTAL: ("群租房", "出租公寓"),
    PlaceKind.CROWD: ("农贸市场", "商场", "幼儿园", "养老院"),
    PlaceKind.CHEMICAL: ("加油站", "液化气供应站"),
    PlaceKind.ENTERTAINMENT: ("KTV", "网吧", "棋牌室"),
    PlaceKind.OTHER: ("建筑工地", "废品收购站"),
}
PLACE_KINDS = ((PlaceKind.FIRE, 0.25), (PlaceKind.RENTAL, 0.25), (PlaceKind.CROWD, 0.2),
               (PlaceKind.CHEMICAL, 0.08), (PlaceKind.ENTERTAINMENT, 0.14),
               (PlaceKind.OTHER, 0.08))


def _pick(rng: random.Random, weighted):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


@dataclass
class RegistryDemo:
    """What ``build_registry`` made."""

    buildings: int = 0
    houses: int = 0
    households: int = 0
    people: int = 0
    organisations: int = 0
    members: int = 0
    places: int = 0
    visits: int = 0
    open_visits: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.people:,} people in {self.households:,} households, "
                f"{self.houses:,} houses in {self.buildings:,} buildings, "
                f"{self.organisations:,} organisations, {self.members:,} special-group members, "
                f"{self.places:,} key places, {self.visits:,} follow-up tasks "
                f"({self.open_visits:,} open) in {self.seconds:.1f} s")


@dataclass
class _Grid:
    id: int
    code: str
    path: str
    community_id: int
    community_code: str
    community_name: str
    district_code: str
    geometry: shapely.Geometry
    rural: bool
    worker_id: int | None = None
    roads: tuple[str, ...] = ()
    buildings: list[Building] = field(default_factory=list)
    houses: list[House] = field(default_factory=list)
    organisations: list[Organisation] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)


_DEFAULTS: dict[type, dict] = {}


def _new(model, **values):
    """A model instance without ``Model.__init__`` (most of the time of
    making 130,000 people): the fields' defaults (a dict or list default
    copied), the values given, relations through their descriptors."""
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        fields = model._meta.concrete_fields
        defaults = _DEFAULTS[model] = {f.attname: f.get_default() for f in fields}
        defaults["__relations"] = frozenset(f.name for f in fields if f.is_relation)
    row = model.__new__(model)
    row._state = ModelState()
    state = row.__dict__
    relations = defaults["__relations"]
    for name, value in defaults.items():
        if name != "__relations":
            state[name] = value.copy() if isinstance(value, dict | list) else value
    for name, value in values.items():
        if name in relations:
            setattr(row, name, value)
        else:
            state[name] = value
    return row


class _Ids:
    """The next id of each table (the rows refer to each other before they are written)."""

    def __init__(self, models) -> None:
        self.next = {m: (m.objects.aggregate(top=Max("id"))["top"] or 0) + 1 for m in models}

    def __call__(self, model) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value


def registry_exists() -> bool:
    return Person.objects.exists()


def _grids(index: SpatialIndex) -> list[_Grid]:
    layer = index.grids
    out = []
    for i, node in enumerate(layer.nodes):
        community_id = int(layer.parent_ids[i])
        community = index.regions.get(community_id)
        if community is None:
            continue
        district = next((n for n in index.chain(community_id) if n.level == Level.DISTRICT),
                        None)
        out.append(_Grid(id=node.id, code=node.code, path=index.path(community_id),
                         community_id=community_id, community_code=community.code,
                         community_name=community.name,
                         district_code=district.code if district else "320500",
                         geometry=layer.geoms[i], rural=community.name.endswith("村")))
    return sorted(out, key=lambda g: g.code)


def _workers(grids: list[_Grid]) -> dict[str, int]:
    """Give each grid its worker (the demo personas where they serve, else the
    full-time one); returns the personas' user ids by username."""
    by_grid: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for grid_id, user_id, kind, username in GridWorker.grids.through.objects.values_list(
            "grid_id", "gridworker__user_id", "gridworker__kind", "gridworker__user__username"):
        by_grid[grid_id].append((user_id, kind, username))
    personas = {}
    for grid in grids:
        workers = by_grid.get(grid.id, [])
        persona = [w for w in workers if w[2] in ("worker_full", "worker_part")]
        full = sorted(w for w in workers if w[1] == GridWorker.Kind.FULL_TIME)
        chosen = (persona or full or sorted(workers) or [None])[0]
        grid.worker_id = chosen[0] if chosen else None
        for user_id, _, username in persona:
            personas[username] = user_id
    return personas


def _points(geometry: shapely.Geometry, n: int, gen: np.random.Generator) -> np.ndarray:
    """``n`` points strictly inside a grid."""
    minx, miny, maxx, maxy = geometry.bounds
    found: list[np.ndarray] = []
    count = 0
    for _ in range(20):
        candidates = gen.uniform((minx, miny), (maxx, maxy), size=(max(4 * n, 16), 2))
        inside = candidates[shapely.contains_xy(geometry, candidates[:, 0], candidates[:, 1])]
        found.append(inside)
        count += len(inside)
        if count >= n:
            break
    points = np.vstack(found)[:n] if count else np.empty((0, 2))
    if len(points) < n:  # a sliver: its representative point
        fill = np.repeat([geometry.representative_point().coords[0]], n - len(points), axis=0)
        points = np.vstack([points, fill])
    return points.round(7)


class _Builder:
    def __init__(self, *, people: int, seed: int, end: dt.datetime) -> None:
        self.rng = random.Random(seed * 101 + 14)
        self.gen = np.random.default_rng(seed * 101 + 14)
        self.end = end
        self.today = timezone.localdate(end)
        self.tz = get_calendar().tz
        self.people = people
        self.ids = _Ids([Building, House, Household, Person, Organisation, Member, KeyPlace,
                         Visit, VisitStage, VisitEntry])
        self.id_numbers: set[str] = set()
        self.credit_codes: set[str] = set()
        self.door: dict[tuple[str, str], int] = defaultdict(int)  # (community, road) → door
        self.household_numbers: dict[int, int] = defaultdict(int)
        self.rows: dict[type, list] = defaultdict(list)
        self.visits = 0
        self.open_visits = 0

    # ------------------------------------------------------------ people

    def name(self, surname: str | None = None) -> str:
        rng = self.rng
        given = "".join(rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.3 else 2))
        return (surname or rng.choice(SURNAMES)) + given

    def id_number(self, area: str, born: dt.date, male: bool) -> str:
        while True:
            number = synthetic_id_number(self.rng, area=area, born=born, male=male)
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number
            born += dt.timedelta(days=1)

    def born(self, age: int) -> dt.date:
        day = self.today - dt.timedelta(days=int(age * 365.25) + self.rng.randrange(365))
        return min(day, self.today)

    def phone(self) -> str:
        return f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"

    def created(self) -> dt.datetime:
        return self.end - dt.timedelta(days=self.rng.randrange(1, 1000),
                                       seconds=self.rng.randrange(86400))

    def household_people(self, kind: str, limit: int) -> list[tuple[str, int, bool]]:
        """(relation, age, male) of a household's members, head first."""
        rng = self.rng
        if kind == PersonKind.OVERSEAS:
            size = 1 if rng.random() < 0.7 else 2
        elif kind == PersonKind.MIGRANT:
            size = rng.choice((1, 1, 2, 2, 3))
        else:
            size = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
        size = max(1, min(size, limit))
        head_age = rng.randint(20, 60) if kind != PersonKind.REGISTERED else rng.randint(24, 85)
        male = rng.random() < 0.55
        members = [("户主", head_age, male)]
        if size >= 2:
            members.append(("配偶", max(18, head_age + rng.randint(-5, 5)), not male))
        for _ in range(size - len(members)):
            if (head_age >= 38 and rng.random() < 0.75) or head_age >= 70:
                members.append(("子女", max(0, head_age - rng.randint(22, 38)),
                                rng.random() < 0.5))
            else:
                members.append(("父母", min(99, head_age + rng.randint(22, 32)),
                                rng.random() < 0.5))
        return members

    # ------------------------------------------------------------ one grid

    def grid(self, grid: _Grid, count: int) -> None:
        rng = self.rng
        households: list[tuple[str, list[tuple[str, int, bool]]]] = []
        left = count
        while left > 0:
            kind = _pick(rng, HOUSEHOLD_KINDS)
            members = self.household_people(kind, left)
            households.append((kind, members))
            left -= len(members)
        empty = max(0, round(len(households) * 0.06 + rng.random() - 0.5))
        self.places_of(grid, len(households) + empty)
        houses = list(grid.houses)
        rng.shuffle(houses)
        self.organisations_of(grid, count)
        for (kind, members), house in zip(households, houses, strict=False):
            self.household(grid, house, kind, members)
        for house in houses[len(households):]:
            house.use = HouseUse.EMPTY

    def places_of(self, grid: _Grid, houses: int) -> None:
        """An estate on one of the community's roads, its buildings inside the
        grid, ``houses`` flats in them."""
        rng = self.rng
        if not grid.roads:
            grid.roads = tuple(rng.sample(ROADS, 3))
        road = rng.choice(grid.roads)
        self.door[(grid.community_code, road)] += rng.randint(1, 4)
        number = str(self.door[(grid.community_code, road)] * 2 - rng.randint(0, 1))
        estate = rng.choice(ESTATES)
        if grid.rural:
            units, floors, flats = 1, rng.randint(2, 3), 1
        else:
            units, floors, flats = rng.randint(1, 3), rng.randint(5, 11), 2
        per_building = units * floors * flats
        count = max(1, math.ceil(max(houses, 1) / per_building))
        points = _points(grid.geometry, count, self.gen)
        community = _community(grid)
        created = self.created()
        made = 0
        for b in range(1, count + 1):
            building_no = str(b)
            key = addresses.building_key(grid.community_code, road, number, building_no)
            lng, lat = (float(v) for v in points[b - 1])
            row = _new(
                Building, id=self.ids(Building), grid_id=grid.id, path=grid.path,
                community_id=grid.community_id, road=road, number=f"{number}号", estate=estate,
                building=f"{building_no}幢", lng=lng, lat=lat,
                address=addresses.standard_address(community, road, number, estate, building_no),
                key=key, created_at=created, updated_at=created)
            grid.buildings.append(row)
            for unit in range(1, units + 1):
                for floor in range(1, floors + 1):
                    for flat in range(1, flats + 1):
                        if made >= houses:
                            break
                        room = f"{floor}{flat:02d}"
                        unit_no = str(unit) if units > 1 else ""
                        grid.houses.append(_new(
                            House, id=self.ids(House), grid_id=grid.id, path=grid.path,
                            building=row, unit=unit_no, room=room, use=HouseUse.OWN,
                            area=round(rng.uniform(45, 140), 1),
                            address=row.address + (f"{unit_no}单元" if unit_no else "")
                            + f"{room}室",
                            key=addresses.house_key(key, unit_no, room),
                            created_at=created, updated_at=created))
                        made += 1

    def organisations_of(self, grid: _Grid, people: int) -> None:
        rng = self.rng
        count = int(people / PEOPLE_PER_ORGANISATION + rng.random())
        for _ in range(count):
            kind = _pick(rng, ((OrganisationKind.COMPANY, 0.68), (OrganisationKind.SOLE, 0.22),
                               (OrganisationKind.SOCIAL, 0.06), (OrganisationKind.PUBLIC, 0.04)))
            building = rng.choice(grid.buildings)
            industry, word = rng.choice(INDUSTRIES)
            brand = rng.choice(BRANDS)
            name, employees = {
                OrganisationKind.COMPANY: (f"苏州{brand}{word}有限公司", rng.randint(5, 500)),
                OrganisationKind.SOLE: (f"{grid.community_name}{brand}{rng.choice(SHOPS)}",
                                        rng.randint(1, 8)),
                OrganisationKind.SOCIAL: (f"{grid.community_name}"
                                          f"{rng.choice(('志愿者协会', '老年协会', '文体协会'))}",
                                          rng.randint(3, 30)),
                OrganisationKind.PUBLIC: (f"{grid.community_name}"
                                          f"{rng.choice(('党群服务中心', '卫生服务站', '幼儿园'))}",
                                          rng.randint(10, 80)),
            }[kind]
            if kind == OrganisationKind.SOLE:
                industry = "居民服务业"
            while True:
                code = synthetic_credit_code(rng, area=grid.district_code)
                if code not in self.credit_codes:
                    self.credit_codes.add(code)
                    break
            created = self.created()
            grid.organisations.append(_new(
                Organisation, id=self.ids(Organisation), grid_id=grid.id, path=grid.path,
                name=name[:200], credit_code=code, kind=kind, legal_representative=self.name(),
                phone=f"0512-6{rng.randrange(10**7):07d}", industry=industry,
                employees=employees, building=building, address=building.address,
                lng=building.lng, lat=building.lat,
                established=self.today - dt.timedelta(days=rng.randrange(100, 9000)),
                created_at=created, updated_at=created))

    def household(self, grid: _Grid, house: House, kind: str,
                  members: list[tuple[str, int, bool]]) -> None:
        rng = self.rng
        created = self.created()
        self.household_numbers[grid.id] += 1
        household = _new(
            Household, id=self.ids(Household),
            number=f"{grid.code}{self.household_numbers[grid.id]:04d}", house=house,
            kind=Household.Kind.COLLECTIVE if kind == PersonKind.MIGRANT and len(members) > 2
            and rng.random() < 0.3 else Household.Kind.FAMILY,
            registered=kind == PersonKind.REGISTERED)
        self.rows[Household].append(household)
        if kind == PersonKind.REGISTERED:
            house.use = HouseUse.OWN if rng.random() < 0.93 else HouseUse.OTHER
            area = grid.district_code if rng.random() < 0.85 else rng.choice(SUZHOU_AREAS)
        else:
            house.use = HouseUse.RENTED
            area = rng.choice(sorted(MIGRANT_AREAS))
        nationality = rng.choice(sorted(FOREIGNERS)) if kind == PersonKind.OVERSEAS else ""
        surname = rng.choice(SURNAMES)
        moved_in = self.today - dt.timedelta(days=rng.randrange(30, 2500))
        for relation, age, male in members:
            born = self.born(age)
            person = _new(Person, id=self.ids(Person), grid_id=grid.id, path=grid.path,
                            gender="1" if male else "2", birth_date=born, kind=kind,
                            house=house, household=household, relation=relation,
                            created_at=created, updated_at=created)
            if kind == PersonKind.OVERSEAS:
                last, first = FOREIGNERS[nationality]
                person.name = f"{rng.choice(first)} {rng.choice(last)}"
                person.id_type = IdType.PASSPORT
                while True:
                    number = f"{rng.choice('EGMPKS')}{rng.randrange(10**8):08d}"
                    if number not in self.id_numbers:
                        self.id_numbers.add(number)
                        break
                person.id_number = number
                person.nationality = nationality
                person.visa_expires = self.today + dt.timedelta(days=rng.randrange(5, 700))
                person.moved_in = moved_in
                person.occupation = "外企职员" if age >= 18 else "学生"
            else:
                person.name = self.name(surname if relation == "子女" else None)
                person.id_number = self.id_number(area, born, male)
                person.native_place = area
                person.ethnicity = _pick(rng, ETHNICITIES)
                if kind == PersonKind.MIGRANT:
                    person.registered_address = MIGRANT_AREAS[area]
                    person.moved_in = moved_in
                    person.reason = rng.choice(MIGRANT_REASONS)
                    if age >= 16:
                        back = (rng.randrange(366, 395) if rng.random() < PERMIT_LAPSED_SHARE
                                else rng.randrange(0, 365))
                        issued = max(moved_in, self.today - dt.timedelta(days=back))
                        person.permit_number = f"3205{rng.randrange(10**12):012d}"
                        person.permit_issued = issued
                        person.permit_expires = issued + dt.timedelta(days=365)
                else:
                    person.registered_address = house.address
                    person.left_behind = self.left_behind(grid, age, male)
            if age >= 14:
                person.phone = self.phone()
            if 18 <= age < 65:
                person.occupation = person.occupation or rng.choice(OCCUPATIONS[:-3])
                if grid.organisations and rng.random() < 0.3:
                    person.employer = rng.choice(grid.organisations)
            elif age >= 65:
                person.occupation = "退休"
            elif age >= 6:
                person.occupation = "学生"
            grid.people.append(person)
            if relation == "户主":
                household.head = person
                if house.use == HouseUse.OWN:
                    house.owner_name, house.owner_phone = person.name, person.phone
        if house.use == HouseUse.RENTED:
            house.owner_name, house.owner_phone = self.name(), self.phone()

    def left_behind(self, grid: _Grid, age: int, male: bool) -> str:
        chance = 1.0 if grid.rural else 0.15
        roll = self.rng.random() / chance
        if age < 16 and roll < 0.12:
            return LeftBehind.CHILD
        if age >= 65 and roll < 0.10:
            return LeftBehind.ELDER
        if not male and 20 <= age < 60 and roll < 0.03:
            return LeftBehind.WOMAN
        return ""

    # ------------------------------------------------------------ follow-up tasks

    def visit(self, *, kind: str, grid: _Grid, worker_id: int | None, interval: int,
              created: dt.datetime, person: Person | None = None, member: Member | None = None,
              place: KeyPlace | None = None, visited: dt.datetime | None = None,
              finding: str = "", note: str = "", point: tuple[float, float] | None = None,
              data: dict | None = None) -> Visit:
        """A task opened at ``created`` with the engine's deadline: done at
        ``visited`` if given, else open (late if its deadline has passed)."""
        due = deadline(float(interval), "working_days", created)
        pk = self.ids(Visit)
        number = f"ZF{timezone.localtime(created, self.tz):%Y%m%d}{pk:08d}"
        row = _new(Visit, id=pk, number=number, kind=kind, grid_id=grid.id, path=grid.path,
                   person=person, member=member, place=place, worker_id=worker_id,
                   interval=interval, created_at=created, stage="visit", warn_at=due.warn_at,
                   due_at=due.due_at)
        self.rows[VisitEntry].append(_new(
            VisitEntry, id=self.ids(VisitEntry), case=row, action="create", actor=None,
            at=created, from_state="", to_state=wf.DUE,
            data={"kind": kind, "interval": interval, "due_at": due.due_at.isoformat(),
                  **(data or {})}))
        stage = _new(VisitStage, id=self.ids(VisitStage), case=row, stage="visit",
                     started_at=created, warn_at=due.warn_at, due_at=due.due_at,
                     amount=due.amount, unit=due.unit, warnings=list(due.warnings))
        if visited is not None:
            row.state, row.version = wf.DONE, 2
            row.updated_at = row.closed_at = row.visited_at = visited
            row.stage, row.warn_at, row.due_at = "", None, None
            row.finding, row.note = finding, note
            if point is not None:
                row.lng = round(point[0] + self.rng.uniform(-2e-4, 2e-4), 7)
                row.lat = round(point[1] + self.rng.uniform(-2e-4, 2e-4), 7)
                row.accuracy = float(self.rng.choice((5, 8, 10, 15, 20)))
            stage.ended_at, stage.overdue = visited, visited > due.due_at
            self.rows[VisitEntry].append(_new(
                VisitEntry, id=self.ids(VisitEntry), case=row, action="record",
                actor_id=worker_id, at=visited, from_state=wf.DUE, to_state=wf.DONE,
                data={"note": note, "finding": finding}))
        else:
            row.state, row.updated_at = wf.DUE, created
            row.overdue = due.due_at < self.end
            row.warned = due.warn_at < self.end
            stage.overdue = row.overdue
            self.open_visits += 1
        self.rows[Visit].append(row)
        self.rows[VisitStage].append(stage)
        self.visits += 1
        return row

    def daytime(self, moment: dt.datetime, after: dt.datetime) -> dt.datetime:
        """``moment`` moved to working hours of its day (never before ``after``)."""
        local = timezone.localtime(moment, self.tz)
        at = dt.datetime.combine(local.date(), dt.time(self.rng.randint(9, 16),
                                                       self.rng.randrange(60)), tzinfo=self.tz)
        return at if at > after else after + dt.timedelta(minutes=self.rng.randint(30, 120))

    def follow_up(self, *, kind: str, grid: _Grid, worker_id: int | None, interval: int,
                  since: dt.datetime, late: bool, notes, point, person=None, member=None,
                  place=None, data=None) -> None:
        """Done visits from ``since`` at the rule's rhythm, then the open one."""
        rng = self.rng
        stop = self.end - dt.timedelta(days=interval * 7 / 5 + 5) if late else self.end
        start = since
        while True:
            due = deadline(float(interval), "working_days", start)
            span = due.due_at - start
            if rng.random() < 0.9:
                at = start + span * rng.uniform(0.4, 1.0)
            else:
                at = due.due_at + dt.timedelta(hours=rng.randint(2, 72))
            at = self.daytime(at, start)
            if at > stop:
                break
            finding = _pick(rng, FINDINGS) if kind == wf.GROUP else Finding.NORMAL
            note = rng.choice(notes[finding] if isinstance(notes, dict) else notes)
            self.visit(kind=kind, grid=grid, worker_id=worker_id, interval=interval,
                       created=start, person=person, member=member, place=place, visited=at,
                       finding=finding, note=note, point=point, data=data)
            start = at
        self.visit(kind=kind, grid=grid, worker_id=worker_id, interval=interval, created=start,
                   person=person, member=member, place=place, data=data)

    # ------------------------------------------------------------ members and places

    def members(self, grids: list[_Grid], persona_grids: set[int]) -> None:
        rng = self.rng
        target = max(1, round(self.people / PEOPLE_PER_MEMBER))
        candidates = [(g, p) for g in grids for p in g.people
                      if p.kind != PersonKind.OVERSEAS and _age(p, self.today) >= 14]
        chosen = rng.sample(candidates, min(target, len(candidates)))
        taken = {p.id for _, p in chosen}
        for grid in grids:  # the demo's grid workers have members to visit
            if grid.id in persona_grids:
                extra = [(grid, p) for p in grid.people
                         if p.id not in taken and p.kind != PersonKind.OVERSEAS
                         and _age(p, self.today) >= 14][:5]
                chosen += extra
                taken.update(p.id for _, p in extra)
        first_of_grid: set[int] = set()
        for grid, person in chosen:
            group = _pick(rng, GROUPS)
            if group == Group.YOUTH and _age(person, self.today) > 25:
                group = Group.RELEASED
            level = _pick(rng, LEVELS)
            since = self.today - dt.timedelta(days=rng.randrange(30, 1100))
            ended = rng.random() < 0.04
            member = _new(
                Member, id=self.ids(Member), grid_id=grid.id, path=grid.path, person=person,
                group=group, level=level, worker_id=grid.worker_id, since=since,
                ended_on=self.today - dt.timedelta(days=rng.randrange(1, 25)) if ended else None,
                details=_details(rng, group), created_at=self.created(), updated_at=self.end)
            self.rows[Member].append(member)
            if ended:
                continue
            persona_first = grid.id in persona_grids and grid.id not in first_of_grid
            first_of_grid.add(grid.id)
            start = max(dt.datetime.combine(since, dt.time(9), tzinfo=self.tz),
                        self.end - dt.timedelta(days=HISTORY_DAYS))
            building = person.house.building
            self.follow_up(kind=wf.GROUP, grid=grid, worker_id=grid.worker_id,
                           interval=wf.DEFAULT_INTERVAL[level], since=start,
                           late=persona_first or rng.random() < LATE_SHARE, notes=NOTES,
                           point=(building.lng, building.lat), person=person, member=member,
                           data={"group": group, "level": level})

    def places(self, grids: list[_Grid], persona_grids: set[int]) -> None:
        rng = self.rng
        target = max(1, round(self.people / PEOPLE_PER_PLACE))
        weights = [len(g.people) for g in grids]
        chosen = rng.choices(grids, weights, k=target)
        chosen += [g for g in grids if g.id in persona_grids]
        for grid in chosen:
            kind = _pick(rng, PLACE_KINDS)
            label = rng.choice(PLACES[kind])
            building = rng.choice(grid.buildings)
            house = None
            if kind == PlaceKind.RENTAL:
                rented = [h for h in grid.houses if h.use == HouseUse.RENTED]
                house = rng.choice(rented) if rented else None
            organisation = rng.choice(grid.organisations) if (
                grid.organisations and kind in (PlaceKind.CROWD, PlaceKind.CHEMICAL,
                                                PlaceKind.ENTERTAINMENT)) else None
            name = (f"{house.address}{label}" if house else
                    f"{organisation.name}{label}" if organisation else
                    f"{building.estate}{label}")
            active = rng.random() < 0.96
            place = _new(
                KeyPlace, id=self.ids(KeyPlace), grid_id=grid.id, path=grid.path, name=name[:200],
                kind=kind, level=_pick(rng, LEVELS), building=house.building if house else
                building, house=house, organisation=organisation,
                address=house.address if house else building.address,
                contact_name=self.name(), contact_phone=self.phone(), worker_id=grid.worker_id,
                is_active=active, created_at=self.created(), updated_at=self.end)
            self.rows[KeyPlace].append(place)
            if active:
                point = (place.building.lng, place.building.lat)
                self.follow_up(kind=wf.PLACE, grid=grid, worker_id=grid.worker_id,
                               interval=wf.PLACE_INTERVAL,
                               since=self.end - dt.timedelta(days=rng.randrange(20, 90)),
                               late=rng.random() < LATE_SHARE, notes=PLACE_NOTES, point=point,
                               place=place)

    def permits(self, grids: list[_Grid]) -> None:
        """The open renewal task of each permit ending within PERMIT_NOTICE_DAYS
        days (or ended as long ago), opened when it came into the window."""
        calendar = get_calendar()
        notice = dt.timedelta(days=wf.PERMIT_NOTICE_DAYS)
        first, last = self.today - notice, self.today + notice
        working: dict[dt.date, bool] = {}

        def interval(expires: dt.date, day: dt.date) -> int:
            count = 0
            for n in range(1, (expires - day).days + 1):
                d = day + dt.timedelta(days=n)
                if d not in working:
                    working[d] = calendar.is_working_day(d)
                count += working[d]
            return max(1, count)

        for grid in grids:
            for person in grid.people:
                expires = person.permit_expires
                if expires is None or not first <= expires <= last:
                    continue
                day = max(expires - notice, person.permit_issued)
                created = min(self.end, dt.datetime.combine(day, dt.time(2), tzinfo=self.tz))
                self.visit(kind=wf.PERMIT, grid=grid, worker_id=grid.worker_id,
                           interval=interval(expires, day), created=created, person=person,
                           data={"permit_expires": expires.isoformat()})

    # ------------------------------------------------------------ writing

    def write(self, grids: list[_Grid]) -> None:
        for model, rows in (
                (Building, [b for g in grids for b in g.buildings]),
                (House, [h for g in grids for h in g.houses]),
                (Organisation, [o for g in grids for o in g.organisations]),
                (Household, self.rows[Household]),
                (Person, [p for g in grids for p in g.people]),
                (PersonChange, [_new(PersonChange, person_id=p.id, at=p.created_at,
                                     action="import") for g in grids for p in g.people]),
                (Member, self.rows[Member]), (KeyPlace, self.rows[KeyPlace]),
                (Visit, self.rows[Visit]), (VisitStage, self.rows[VisitStage]),
                (VisitEntry, self.rows[VisitEntry])):
            _insert(model, rows)
        # the ids were chosen here: move the sequences past them (PostgreSQL)
        models = [Building, House, Household, Person, Organisation, Member, KeyPlace, Visit,
                  VisitStage, VisitEntry]
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)


def _insert(model, rows: list) -> None:
    """``bulk_create`` without its per-value preparation (the most of its
    time on 130,000 people): on PostgreSQL a ``COPY``, elsewhere one
    ``executemany`` per BATCH rows; only the dates, JSON and decimals
    prepared by their fields. Saves and signals are bypassed as with
    ``bulk_create``."""
    if not rows:
        return
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the per-access proxy
    fields = [f for f in model._meta.concrete_fields
              if not (f.primary_key and getattr(rows[0], f.attname) is None)]

    def converter(f):
        kind = f.get_internal_type()
        if kind == "DateTimeField":
            return db.ops.adapt_datetimefield_value
        if kind == "DateField":
            return db.ops.adapt_datefield_value
        if kind in ("JSONField", "DecimalField"):
            return lambda value: f.get_db_prep_save(value, db)
        return None

    prepare = [(f.attname, converter(f)) for f in fields]
    quote = db.ops.quote_name
    sql = (f"INSERT INTO {quote(model._meta.db_table)} "
           f"({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    if db.vendor == "postgresql":  # COPY: the rows streamed, no statement per row
        columns = ", ".join(quote(f.column) for f in fields)
        with db.cursor() as cursor, cursor.cursor.copy(
                f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(getattr(row, name) if convert is None
                                     else convert(getattr(row, name))
                                     for name, convert in prepare))
        return
    with db.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, [
                tuple(getattr(row, name) if convert is None else convert(getattr(row, name))
                      for name, convert in prepare)
                for row in rows[start:start + BATCH]])


def _community(grid: _Grid):
    from shanzhi.geo.models import Region

    return Region(id=grid.community_id, code=grid.community_code, name=grid.community_name)


def _age(person: Person, today: dt.date) -> int:
    born = person.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _details(rng: random.Random, group: str) -> dict:
    if group == Group.CORRECTION:
        return {"category": rng.choice(("缓刑", "假释", "管制", "暂予监外执行"))}
    if group == Group.MENTAL:
        return {"guardian": "家属监护", "medication": rng.choice(("规律服药", "间断服药"))}
    if group == Group.DRUG:
        return {"status": rng.choice(("社区戒毒", "社区康复", "戒断三年未复吸"))}
    return {}


def build_registry(*, people: int = PEOPLE, seed: int = 2026, end: dt.datetime | None = None,
                   progress: Callable[[str], None] = print) -> RegistryDemo:
    """Write the demo's registries; returns what was made (nothing when people exist)."""
    if registry_exists():
        return RegistryDemo()
    clock = time.monotonic()
    end = end or timezone.now()
    builder = _Builder(people=people, seed=seed, end=end)
    grids = _grids(get_index())
    if not grids:
        return RegistryDemo()
    personas = _workers(grids)
    persona_grids = {g.id for g in grids if g.worker_id in personas.values()}
    # people per grid: a village grid holds fewer than a town's
    weights = np.array([builder.rng.uniform(0.3, 0.8) if g.rural else
                        builder.rng.uniform(0.7, 1.6) for g in grids])
    counts = np.floor(weights / weights.sum() * people).astype(int)
    short = people - int(counts.sum())
    counts[np.argsort(-weights, kind="stable")[:short]] += 1
    for grid, count in zip(grids, counts.tolist(), strict=True):
        if count:
            builder.grid(grid, count)
    builder.members(grids, persona_grids)
    builder.places(grids, persona_grids)
    builder.permits(grids)
    with transaction.atomic():
        builder.write(grids)
    made = RegistryDemo(
        buildings=sum(len(g.buildings) for g in grids), houses=sum(len(g.houses) for g in grids),
        households=len(builder.rows[Household]), people=sum(len(g.people) for g in grids),
        organisations=sum(len(g.organisations) for g in grids),
        members=len(builder.rows[Member]), places=len(builder.rows[KeyPlace]),
        visits=builder.visits, open_visits=builder.open_visits,
        seconds=time.monotonic() - clock)
    progress(f"registry: {made.summary()}")
    return made


__all__ = ["PEOPLE", "RegistryDemo", "build_registry", "registry_exists"]
