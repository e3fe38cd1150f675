"""Dispute mediation for the demo (矛盾纠纷调处化解), made by the real services.

A mediation centre for every district and for the first towns of a few
districts, each with its roster of stationed departments (the region's own,
and the police station, the justice office, labour inspection and the
petition office that the territory's build does not make) and a mediator
(``mediator_<region code>``, the demo's password). Then a few hundred
disputes over the last 90 days: each one registered through
``mediation.services`` (some turned from a dispute incident of the history,
``case_from_incident``, so the link is read from both sides) and moved on
by the action services, every call with ``now=`` a simulated instant in
time order, with the overdue sweep of the mediation cases every two
simulated days. Each dispute draws its content and its fate from its own random
generator: the same seed and ``end`` give the same disputes.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from shanzhi.accounts import staff
from shanzhi.accounts.models import Department, Role, User
from shanzhi.cases import sla
from shanzhi.core.calendar import get_calendar
from shanzhi.core.errors import DomainError
from shanzhi.core.identity import synthetic_credit_code as credit_code
from shanzhi.core.identity import synthetic_id_number as id_number
from shanzhi.geo.models import Grid, Level, Region
from shanzhi.incidents.models import Incident
from shanzhi.mediation import services
from shanzhi.mediation import workflow as mwf
from shanzhi.mediation.case import MEDIATION_CASE
from shanzhi.mediation.models import Centre, MediationCase, RosterEntry

from .load import DEMO_PASSWORD

# ---------------------------------------------------------------- centres and rosters

#: Districts whose first towns get a centre of their own, in this order of
#: preference (the first ``TOWN_CENTRE_DISTRICTS`` present): 姑苏, 吴中, 吴江, 园区.
TOWN_CENTRE_PREFERENCE = ("320508", "320506", "320509", "320576", "320505", "320583")
TOWN_CENTRE_DISTRICTS = 4
TOWN_CENTRES_PER_DISTRICT = 2
CENTRE_SUFFIX = "矛盾纠纷调处化解中心"

#: The departments stationed at a centre besides the region's own, made
#: where missing: (kind, name after the region's name).
EXTRA_DEPARTMENTS = {
    Level.DISTRICT: [("GAFJ", "公安分局"), ("RSJ", "人社局劳动监察大队"), ("XFJ", "信访局")],
    Level.TOWN: [("PCS", "派出所"), ("SFS", "司法所"), ("LDJC", "劳动保障监察中队"),
                 ("XFB", "信访办")],
}
#: The roster: (department kind, mode, weekdays (Monday 0), note).
ROSTER = {
    Level.DISTRICT: [
        ("SFJ", "permanent", [], "人民调解员、法律援助律师常驻"),
        ("GAFJ", "permanent", [], "民警常驻，治安调解"),
        ("RSJ", "rotating", [0, 2, 4], "劳动争议调解"),
        ("ZJJ", "rotating", [1, 3], "物业、房屋质量纠纷"),
        ("XFJ", "permanent", [], "信访接待"),
        ("SCJGJ", "on_call", [], "消费纠纷，邀请入驻"),
        ("CGJ", "on_call", [], "相邻环境、违建纠纷，邀请入驻"),
    ],
    Level.TOWN: [
        ("SFS", "permanent", [], "司法所调解员常驻"),
        ("PCS", "permanent", [], "社区民警"),
        ("LDJC", "rotating", [1, 3], "劳资纠纷"),
        ("XFB", "rotating", [0, 4], "信访接待"),
        ("ZHZF", "on_call", [], "综合执法，邀请入驻"),
        ("SHSY", "on_call", [], "社会事业局：婚姻家庭、养老"),
    ],
}
ADDRESSES = ["人民路{n}号", "干将西路{n}号", "东环路{n}号", "长江路{n}号", "中山北路{n}号",
             "松陵大道{n}号", "星湖街{n}号", "苏州大道东{n}号"]

# ---------------------------------------------------------------- the disputes

#: How many disputes of each type, relatively (人民调解 statistics: neighbours,
#: families, labour and property lead).
TYPE_WEIGHTS = {"neighbour": 24, "family": 14, "labour": 14, "property": 12, "consumer": 8,
                "traffic": 7, "construction": 6, "land": 5, "environment": 4, "medical": 3,
                "other": 3}
#: Incident subcategory → dispute type (ZZ01xx: 矛盾纠纷).
INCIDENT_TYPES = {"ZZ0101": "neighbour", "ZZ0102": "labour", "ZZ0103": "property"}
INCIDENT_SHARE = 0.15
#: How often the simulated sweep marks late disputes (the platform's runs every
#: minute; a dispute's limits are days).
SWEEP_EVERY = dt.timedelta(days=2)

#: Per dispute type: who the respondent is (an organisation's name pattern,
#: or None: a person), the amount at stake when a variant names one (yuan:
#: low, high), the people involved (low, high), the share of vulnerable
#: applicants, and its variants: (title, facts and claims, the clauses an
#: agreement draws from) with {a} applicant, {b} respondent, {place},
#: {people}, {amount}, {monthly}.
DISPUTES: dict[str, dict] = {
    "neighbour": {"org": None, "amount": (800, 30_000), "people": (2, 4), "variants": [
        ("楼上漏水致楼下房屋受损纠纷",
         "{a}反映，其居住的{place}楼上住户{b}家卫生间长期渗水，致其家中天花板霉变、墙皮脱落，"
         "双方多次协商未果。{a}要求{b}修复防水并赔偿损失{amount}元。",
         ["{b}于协议签订之日起十日内请专业人员完成卫生间防水维修，费用由{b}承担",
          "{b}赔偿{a}房屋修复费用{amount}元，于协议签订之日起十五日内一次性付清",
          "双方今后互谅互让、和睦相处，不再因此事发生争执"]),
        ("邻里噪声纠纷",
         "{a}反映，邻居{b}家夜间经常发出较大噪声，影响其家人休息，双方曾发生口角。"
         "{a}要求{b}晚上十点后控制音量并当面道歉。",
         ["{b}承诺每日22时至次日7时不再发出影响邻居休息的噪声", "{b}就此前的言语冲突向{a}当面道歉",
          "双方今后互谅互让、和睦相处，不再因此事发生争执"]),
        ("楼道堆物引发邻里纠纷",
         "{a}反映，{b}长期在{place}楼道内堆放杂物并停放电动车，占用公共通道，存在消防隐患，"
         "劝说无果，双方发生争吵。{a}要求{b}清理楼道。",
         ["{b}于三日内清理楼道内堆放的物品，今后不在公共部位堆物", "电动车停放至小区集中充电车棚",
          "双方今后互谅互让、和睦相处"]),
        ("空调外机噪声及滴水纠纷",
         "{a}反映，{b}家空调外机安装在其卧室窗下，运行噪声大且冷凝水滴落在其阳台，"
         "多次协商未果。{a}要求{b}移机。",
         ["{b}于十五日内将空调外机移至双方认可的位置，费用由{b}承担", "{b}加装冷凝水导流管",
          "双方不再因此事发生争执"]),
    ]},
    "family": {"org": None, "amount": (5_000, 600_000), "people": (2, 5), "vulnerable": 0.45,
               "variants": [
        ("子女赡养老人纠纷",
         "{a}年逾七旬，反映其子{b}近两年未支付赡养费，也很少探望，其生活困难。"
         "{a}要求{b}每月支付赡养费并承担医疗费用。",
         ["{b}自本月起每月10日前支付赡养费{monthly}元", "老人医疗费用凭票据由子女平均分担",
          "{b}每月至少探望老人一次"]),
        ("离婚后子女抚养费纠纷",
         "{a}反映，与{b}离婚后，{b}未按约定支付孩子抚养费，已拖欠{amount}元。"
         "{a}要求{b}补足欠款并按月支付。",
         ["{b}于协议签订之日起一个月内补付抚养费{amount}元",
          "{b}自下月起每月5日前支付抚养费{monthly}元",
          "{a}保障{b}每月两次的探视权"]),
        ("家庭遗产继承纠纷",
         "{a}与{b}系兄妹，父母去世后就{place}一套房屋的继承分配发生争议，矛盾激化。"
         "{a}主张房屋归其所有，愿给付{b}折价款。",
         ["房屋由{a}继承，{a}于三个月内给付{b}房屋折价款{amount}元", "房屋过户手续双方共同配合办理",
          "双方互相尊重，不再因家庭琐事争吵"]),
    ]},
    "labour": {"org": "苏州{word}建筑劳务有限公司", "amount": (8_000, 900_000),
               "people": (1, 45), "variants": [
        ("拖欠农民工工资纠纷",
         "{a}等{people}名工人反映，在{b}承包的{place}项目务工，工程结束后被拖欠工资共计{amount}元，"
         "多次讨要无果。工人要求{b}立即结清工资。",
         ["{b}于协议签订之日起七日内支付拖欠工资{amount}元",
          "工资通过银行转账直接发放至工人本人账户",
          "工人收到工资后不再就此事采取过激行为"]),
        ("解除劳动合同经济补偿纠纷",
         "{a}反映，其在{b}工作三年，公司以经营困难为由解除劳动合同，未支付经济补偿。"
         "{a}要求支付经济补偿金{amount}元。",
         ["{b}一次性支付经济补偿金{amount}元，于十日内付清", "{b}为{a}出具解除劳动合同证明",
          "双方劳动关系解除，再无其他争议"]),
        ("工伤待遇纠纷",
         "{a}在{b}工作期间受伤，已认定工伤，双方就一次性伤残就业补助金等待遇无法达成一致，"
         "{a}主张{amount}元。",
         ["{b}一次性支付{a}工伤待遇共计{amount}元", "款项于协议签订之日起十五日内付清",
          "双方就本次工伤再无其他争议"]),
    ]},
    "property": {"org": "苏州{word}物业管理有限公司", "amount": (2_000, 200_000),
                 "people": (1, 60), "variants": [
        ("电梯长期故障维修纠纷",
         "{a}等{people}户业主反映，{b}服务的{place}小区电梯频繁故障，物业长期不维修，"
         "业主因此拒交物业费，双方矛盾激化。业主要求{b}限期修复电梯。",
         ["{b}于三十日内完成电梯维修并通过特种设备检验", "业主于电梯修复后十五日内补交物业费",
          "{b}每月公示电梯维保记录"]),
        ("小区停车费纠纷",
         "{a}反映，{b}上调小区停车费未经业主大会同意，要求恢复原收费标准并退还多收的{amount}元。",
         ["{b}停车费恢复原收费标准", "{b}退还多收的停车费{amount}元",
          "今后调整收费标准须经业主大会表决"]),
        ("小区公共收益分配纠纷",
         "{a}等业主反映，小区公共部位广告收益{amount}元去向不明，要求{b}公开账目。",
         ["{b}于十五日内公开近三年公共收益收支明细", "公共收益{amount}元转入业主共有资金账户",
          "{b}每季度在小区公告栏公示公共收益收支"]),
    ]},
    "consumer": {"org": "苏州{word}商贸有限公司", "amount": (3_000, 150_000),
                 "people": (1, 35), "variants": [
        ("健身房预付卡退费纠纷",
         "{a}反映，其在{b}办理预付卡{amount}元，门店停业后无法使用，要求退还余额。",
         ["{b}于十五日内退还{a}预付卡余额{amount}元", "{a}收款后交回会员卡"]),
        ("家庭装修质量纠纷",
         "{a}反映，{b}为其装修的{place}房屋出现墙面开裂、地砖空鼓，要求返工并赔偿{amount}元。",
         ["{b}于二十日内对开裂、空鼓部位免费返工", "{b}赔偿{a}损失{amount}元",
          "返工完成后双方共同验收"]),
        ("二手车买卖纠纷",
         "{a}从{b}购买二手车，发现车辆系事故车，要求退车退款{amount}元。",
         ["{b}退还车款{amount}元，{a}将车辆返还{b}", "车辆过户手续由{b}负责办理"]),
    ]},
    "traffic": {"org": None, "amount": (1_500, 180_000), "people": (2, 3), "vulnerable": 0.2,
                "variants": [
        ("电动自行车与行人碰撞赔偿纠纷",
         "{a}在{place}被{b}驾驶的电动自行车撞倒，致左腿骨折，花去医疗费{amount}元，"
         "双方就赔偿数额协商不成。",
         ["{b}赔偿{a}医疗费、误工费、护理费等共计{amount}元",
          "赔偿款于协议签订之日起十日内一次性付清",
          "本次事故就此了结，双方再无其他争议"]),
        ("机动车剐蹭赔偿纠纷",
         "{a}驾驶的小型轿车在{place}被{b}驾驶的车辆剐蹭，交警认定{b}负主要责任，"
         "双方就维修费{amount}元发生争议。",
         ["{b}承担车辆维修费{amount}元", "维修费于车辆修复后三日内付清",
          "双方就本次事故再无其他争议"]),
    ]},
    "construction": {"org": "苏州{word}建设工程有限公司", "amount": (20_000, 2_000_000),
                     "people": (1, 40), "variants": [
        ("施工致相邻房屋开裂纠纷",
         "{a}等{people}户居民反映，{b}在{place}附近基坑施工后，居民房屋出现墙体开裂，"
         "要求{b}鉴定并赔偿。",
         ["由双方共同委托的鉴定机构对受损房屋进行鉴定", "{b}按鉴定结论承担修复费用",
          "施工期间{b}每周对周边房屋进行沉降监测"]),
        ("工地夜间施工噪声扰民纠纷",
         "{a}等{people}户居民反映，{b}承建的{place}项目长期夜间施工，噪声严重扰民。",
         ["{b}22时至次日6时不进行产生噪声的施工",
          "确需连续施工的，{b}提前三日公告并办理夜间施工许可"]),
        ("工程款结算纠纷",
         "{a}反映，{b}拖欠其工程款{amount}元，已逾期一年未付。",
         ["{b}于两个月内分两期支付工程款{amount}元", "{a}收到全部款项后出具收款凭证"]),
    ]},
    "land": {"org": None, "amount": (5_000, 1_200_000), "people": (2, 50), "variants": [
        ("宅基地界址纠纷",
         "{a}与{b}系邻居，因翻建房屋就宅基地界址发生争议，双方各执一词，多次发生争吵。",
         ["以自然资源所现场勘测的界址为准，双方按界址建房", "双方不再因界址问题发生争执"]),
        ("土地承包经营权流转纠纷",
         "{a}反映，其承包地流转给{b}后，{b}未按约定支付流转费{amount}元。",
         ["{b}于一个月内支付流转费{amount}元", "流转合同继续履行至约定期满"]),
        ("征地补偿款分配纠纷",
         "{a}等{people}户村民对征地补偿款{amount}元的分配方案有异议，要求村委会公开。",
         ["村委会公开补偿款分配方案", "分配方案经村民代表会议表决后执行"]),
    ]},
    "environment": {"org": "苏州{word}餐饮管理有限公司", "amount": None, "people": (1, 30),
                    "variants": [
        ("餐饮油烟扰民纠纷",
         "{a}等{people}户居民反映，楼下{b}排放油烟直冲住宅窗户，影响居民生活。",
         ["{b}于十五日内加装油烟净化设备并将排烟口改至屋顶", "整改完成后由生态环境部门检测达标"]),
        ("商铺外放音乐噪声纠纷",
         "{a}反映，{b}门店每天用音箱外放音乐招揽顾客，声音很大，影响周边居民。",
         ["{b}即日起停止使用室外音箱", "{b}营业期间关闭临街门窗"]),
    ]},
    "medical": {"org": "苏州{word}医院", "amount": (20_000, 800_000), "people": (2, 8),
                "vulnerable": 0.3, "variants": [
        ("医疗损害赔偿纠纷",
         "{a}家属反映，{a}在{b}手术后出现并发症，认为医院存在过错，要求赔偿{amount}元。",
         ["{b}一次性补偿{a}{amount}元", "本纠纷就此了结，{a}及家属不再以任何方式主张权利"]),
    ]},
    "other": {"org": None, "amount": (1_000, 400_000), "people": (2, 3), "variants": [
        ("民间借贷纠纷",
         "{a}反映，{b}向其借款{amount}元，约定一年归还，现已逾期拒不归还。",
         ["{b}于三个月内分三期归还借款{amount}元", "逾期未还的，{a}可就全部余款申请强制执行"]),
        ("宠物伤人赔偿纠纷",
         "{a}在{place}被{b}饲养的犬只咬伤，花去医疗费{amount}元。",
         ["{b}赔偿{a}医疗费等{amount}元", "{b}出门遛犬时牵绳并加强管理"]),
    ]},
}
WORDS = ["恒达", "金鑫", "华盛", "宏远", "新苏", "吴越", "东吴", "姑苏", "平江", "金鸡湖", "阳澄",
         "太湖", "润泽", "鑫源", "瑞丰", "嘉禾", "锦程", "中恒", "永泰", "盛世"]
PLACES = ["{road}{n}号", "{road}{n}号{b}幢", "{road}附近", "{road}与{road2}交叉口"]
ROADS = ["干将路", "人民路", "平江路", "十全街", "凤凰街", "石路", "金鸡湖大道", "星湖街",
         "现代大道", "竹辉路", "东环路", "长江路", "狮山路", "宝带路", "吴中大道", "松陵大道",
         "中山路", "虞山路", "前进路", "娄江路", "太湖大道", "相城大道", "阳澄湖大道", "临顿路"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾顾陆沈钱"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌慧"
SESSION_NOTES = ["召集双方当事人面对面调解，双方陈述事实，调解员释法明理，分歧仍较大",
                 "背对背分别做工作，申请人同意适当降低诉求",
                 "邀请社区民警、律师参与调解，释明法律后果",
                 "实地查看现场，核实损失情况", "双方基本达成一致意见，约定下次签署协议"]
REFER_REASONS = {"arbitration": "双方分歧较大，告知申请人向劳动人事争议仲裁委员会申请仲裁",
                 "litigation": "经多次调解未能达成一致，引导当事人通过诉讼解决",
                 "petition": "涉及政策问题，超出调解范围，转信访部门依法处理"}
FOLLOW_UP_NOTES = ["电话回访，协议已履行完毕，双方无异议", "上门回访，款项已付清，当事人表示满意",
                   "回访了解，整改已完成，邻里关系恢复正常"]
FOLLOW_UP_FAILED = ["回访发现被申请人未按期履行协议", "申请人反映对方反悔，问题再次出现"]

# ---------------------------------------------------------------- what was made

@dataclass
class MediationDemo:
    """What ``build_mediation`` made."""

    centres: int = 0
    cases: int = 0
    from_incidents: int = 0
    states: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    #: Service calls the platform refused (a bug in the simulation if not empty).
    errors: Counter = field(default_factory=Counter)
    mediators: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in self.states.most_common())
        return (f"{self.cases} disputes ({self.from_incidents} from incidents) at "
                f"{self.centres} centres in {self.seconds:.1f} s; states: {states}")


@dataclass
class _Desk:
    """A centre and who works there."""

    centre: Centre
    level: str
    district_code: str
    operator: User
    mediator: User
    #: department kind → the stationed department.
    stationed: dict[str, Department]
    #: (grid code, community code) of the centre's territory.
    places: list[tuple[str, str]]
    above: _Desk | None = None


# ---------------------------------------------------------------- centres

def _centre_regions() -> list[Region]:
    """Every district, and the first towns of the preferred districts."""
    districts = list(Region.objects.current().filter(level=Level.DISTRICT).defer("geometry")
                     .order_by("code"))
    present = {d.code: d for d in districts}
    chosen = [present[c] for c in TOWN_CENTRE_PREFERENCE if c in present]
    chosen += [d for d in districts if d not in chosen]
    towns = []
    for district in chosen[:TOWN_CENTRE_DISTRICTS]:
        towns += list(Region.objects.current().filter(parent=district, level=Level.TOWN)
                      .defer("geometry").order_by("code")[:TOWN_CENTRES_PER_DISTRICT])
    return districts + towns


def _ensure_departments(regions: list[Region]) -> dict[int, dict[str, Department]]:
    """The departments of each centre's region by kind, the missing stationed ones made."""
    existing = {(d.region_id, d.kind): d for d in Department.objects.filter(
        region__in=regions)}
    missing = [Department(code=f"{r.code}-{kind}", name=f"{r.name}{name}", region=r, kind=kind)
               for r in regions for kind, name in EXTRA_DEPARTMENTS[r.level]
               if (r.pk, kind) not in existing]
    Department.objects.bulk_create(missing)
    out: dict[int, dict[str, Department]] = {r.pk: {} for r in regions}
    for d in Department.objects.filter(region__in=regions):
        out[d.region_id][d.kind] = d
    return out


def _ensure_users(users: list[User]) -> dict[str, User]:
    names = [u.username for u in users]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create([u for u in users if u.username not in existing])
    return {u.username: u for u in User.objects.select_related("region", "department")
            .filter(username__in=names)}


def _build_centres(rng: random.Random, regions: list[Region], start: dt.date) -> list[_Desk]:
    departments = _ensure_departments(regions)
    centres = []
    for region in regions:
        centre = Centre(code=f"TJZX{region.code}", name=f"{region.name}{CENTRE_SUFFIX}",
                        region=region, address=rng.choice(ADDRESSES).format(
                            n=rng.randint(1, 300)),
                        phone=f"0512-{rng.randint(6000, 6999)}{rng.randint(0, 9999):04d}")
        centre.path = region.path
        centres.append(centre)
    Centre.objects.bulk_create(centres)
    centres = list(Centre.objects.filter(code__in=[c.code for c in centres])
                   .select_related("region"))
    roster = []
    for centre in centres:
        own = departments[centre.region_id]
        for kind, mode, weekdays, note in ROSTER[centre.region.level]:
            if kind in own:
                roster.append(RosterEntry(centre=centre, department=own[kind], mode=mode,
                                          weekdays=weekdays, starts_on=start, note=note))
    RosterEntry.objects.bulk_create(roster)

    # who works there: the centre's operator (as the history names them), its
    # mediator (a demo log-in), the handlers of the stationed departments
    password = make_password(DEMO_PASSWORD)
    unusable = make_password(None)
    users = _ensure_users(
        [User(username=f"op{c.region.code}", role=Role.OPERATOR, region=c.region,
              password=unusable, display_name=f"{c.region.name}联动中心坐席") for c in centres]
        + [User(username=f"mediator_{c.region.code}", role=Role.MEDIATOR, region=c.region,
                password=password,
                display_name=f"{c.region.name}人民调解员{rng.choice(SURNAMES)}"
                             f"{rng.choice(GIVEN)}{rng.choice(GIVEN)}") for c in centres]
        + [User(username=f"hd{e.department.code}", role=Role.HANDLER, department=e.department,
                password=unusable, display_name=f"{e.department.name}办理人") for e in roster])
    staff.changed()  # written in bulk: no signal told the memo
    stationed: dict[int, dict[str, Department]] = {c.pk: {} for c in centres}
    for e in roster:
        stationed[e.centre_id][e.department.kind] = e.department
    grids = list(Grid.objects.current().values_list("code", "community__code", "path"))
    desks: dict[str, _Desk] = {}
    for centre in sorted(centres, key=lambda c: c.path):
        region = centre.region
        district = region if region.level == Level.DISTRICT else \
            next(d for d in regions if d.pk == region.parent_id)
        desks[region.code] = _Desk(
            centre=centre, level=region.level, district_code=district.code,
            operator=users[f"op{region.code}"], mediator=users[f"mediator_{region.code}"],
            stationed=stationed[centre.pk],
            places=[(g, c) for g, c, path in grids if path.startswith(region.path)],
            above=desks.get(district.code) if region.level == Level.TOWN else None)
    return list(desks.values())


# ---------------------------------------------------------------- one dispute

#: Which stationed department takes a dispute of a type (district, town).
DEPARTMENT_FOR = {"labour": ("RSJ", "LDJC"), "property": ("ZJJ", "ZHZF"),
                  "neighbour": ("GAFJ", "PCS"), "consumer": ("SCJGJ", "ZHZF"),
                  "family": ("SFJ", "SHSY"), "environment": ("CGJ", "ZHZF"),
                  "construction": ("ZJJ", "ZHZF"), "traffic": ("GAFJ", "PCS"),
                  "land": ("SFJ", "SFS")}


@dataclass
class _Dispute:
    index: int
    rng: random.Random
    desk: _Desk
    at: dt.datetime
    dispute_type: str
    incident: dict | None = None
    #: Set when registered (a step comes only after it).
    case: MediationCase = field(init=False, repr=False)
    vars: dict = field(default_factory=dict)
    #: The clauses an agreement of this dispute draws from.
    clauses: list[str] = field(default_factory=list)
    sessions: int = 0
    reopened: bool = False
    extended: bool = False


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", rng.choice(GIVEN)])


def _amount(rng: random.Random, spec) -> Decimal:
    lo, hi = spec
    value = lo * (hi / lo) ** (rng.random() ** 1.6)  # log-uniform, leaning small
    return Decimal(int(round(value, -2) or 100))


def _content(d: _Dispute) -> dict:
    """The register call's content: title, facts and claims, parties, risk inputs."""
    rng, spec = d.rng, DISPUTES[d.dispute_type]
    area = d.desk.district_code
    applicant = (d.incident or {}).get("contact_name") or _name(rng)
    title, facts, clauses = rng.choice(spec["variants"])
    named = "{amount}" in facts + "".join(clauses)
    amount = _amount(rng, spec["amount"]) if named and spec["amount"] else None
    lo, hi = spec["people"]
    people = lo if rng.random() < 0.6 else rng.randint(lo, hi)
    if "{people}" in facts:  # "… and 11 other workers": a group
        people = max(people, rng.randint(3, 12))
    # an elderly applicant (a parent asking for support always is one)
    elderly = "年逾七旬" in facts or rng.random() < spec.get("vulnerable", 0.05)
    born = dt.date(rng.randint(1942, 1956) if elderly else rng.randint(1958, 2003),
                   rng.randint(1, 12), rng.randint(1, 28))
    place = rng.choice(PLACES).format(road=rng.choice(ROADS), road2=rng.choice(ROADS),
                                      n=rng.randint(1, 399), b=rng.randint(1, 30))
    parties = [{"role": "applicant", "kind": "person", "name": applicant,
                "id_number": id_number(rng, area=area, born=born, male=rng.random() < 0.5),
                "phone": (d.incident or {}).get("contact_phone")
                or f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                "address": place, "vulnerable": elderly}]
    if people > 2 and rng.random() < 0.7:  # a few of the many, named
        for _ in range(min(people - 1, rng.randint(1, 3))):
            parties.append({"role": "applicant", "kind": "person", "name": _name(rng),
                            "id_number": id_number(rng, area=area, male=rng.random() < 0.6,
                                                   born=dt.date(rng.randint(1960, 2002),
                                                                rng.randint(1, 12),
                                                                rng.randint(1, 28)))})
    if spec["org"] and rng.random() < 0.8:
        respondent = spec["org"].format(word=rng.choice(WORDS))
        parties.append({"role": "respondent", "kind": "organisation", "name": respondent,
                        "id_number": credit_code(rng, area=area),
                        "phone": f"0512-{rng.randint(5000, 6999)}{rng.randint(0, 9999):04d}",
                        "address": rng.choice(ROADS) + f"{rng.randint(1, 500)}号"})
    else:
        respondent = _name(rng)
        parties.append({"role": "respondent", "kind": "person", "name": respondent,
                        "id_number": id_number(rng, area=area, male=rng.random() < 0.5,
                                               born=dt.date(rng.randint(1962, 1985)
                                                            if elderly else
                                                            rng.randint(1950, 2003),
                                                            rng.randint(1, 12),
                                                            rng.randint(1, 28))),
                        "phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"})
    d.vars = {"a": applicant, "b": respondent, "place": place, "people": people,
              "amount": f"{amount:,.0f}" if amount else "",
              "monthly": rng.choice([500, 800, 1000, 1500, 2000])}
    d.clauses = clauses
    facts = facts.format(**d.vars)
    visits = 1 if rng.random() < 0.75 else rng.randint(2, 6)
    return {"title": title, "description": facts, "parties": parties,
            "amount": amount, "people": people, "visits": visits,
            "threat": d.dispute_type in ("labour", "land", "construction", "family")
            and rng.random() < 0.04,
            "vulnerable": elderly}


def _terms(d: _Dispute) -> list[str]:
    """The clauses of the variant, its first always, in their order."""
    first, *rest = d.clauses
    more = d.rng.sample(rest, k=d.rng.randint(min(1, len(rest)), len(rest)))
    return [c.format(**d.vars) for c in [first, *sorted(more, key=d.clauses.index)]]


# ---------------------------------------------------------------- the simulation

class _Simulation:
    def __init__(self, *, desks: list[_Desk], seed: int, end: dt.datetime,
                 stats: MediationDemo) -> None:
        self.desks = desks
        self.by_centre = {k.centre.pk: k for k in desks}
        self.mediators = {k.mediator.pk: k.mediator for k in desks}
        self.handlers: dict[int, User] = {u.department_id: u for u in User.objects.filter(
            role=Role.HANDLER, username__in=[f"hd{dep.code}" for k in desks
                                             for dep in k.stationed.values()])}
        self.seed = seed
        self.end = end
        self.stats = stats
        self.calendar = get_calendar()
        self.queue: list[tuple[dt.datetime, int, int, str, dict]] = []
        self.order = 0
        self.disputes: list[_Dispute] = []

    def push(self, at: dt.datetime, d: _Dispute | None, action: str, **fields) -> None:
        if at >= self.end and action != "sweep":
            return  # still to come: the dispute stays where it is
        self.order += 1
        heapq.heappush(self.queue, (at, self.order, d.index if d else -1, action, fields))

    def after(self, at: dt.datetime, days: float, rng: random.Random) -> dt.datetime:
        """``days`` working days after ``at``, and a few minutes."""
        return self.calendar.add(at, round(days, 3), "working_days").at + dt.timedelta(
            minutes=rng.randint(1, 40))

    def run(self) -> None:
        while self.queue:
            at, _order, index, action, fields = heapq.heappop(self.queue)
            if action == "sweep":
                sla.sweep_type(MEDIATION_CASE, now=at)
                continue
            d = self.disputes[index]
            try:
                if action == "register":
                    self.register(d, at)
                else:
                    self.act(d, at, action, fields)
            except DomainError as exc:
                self.stats.errors[f"{action}: {exc.message}"] += 1

    # --- steps

    def register(self, d: _Dispute, at: dt.datetime) -> None:
        content = _content(d)
        desk = d.desk
        grid, community = d.rng.choice(desk.places) if desk.places else (None, None)
        if d.incident:
            d.case, _ = services.case_from_incident(
                actor=desk.operator, incident=d.incident, centre=desk.centre.code,
                dispute_type=d.dispute_type, now=at,
                **{k: v for k, v in content.items() if k != "description"})
            self.stats.from_incidents += 1
        else:
            d.case, _ = services.case_register(
                actor=desk.mediator, source="walk_in" if d.rng.random() < 0.7 else "hotline",
                centre=desk.centre.code, dispute_type=d.dispute_type, region=community,
                grid=grid, now=at, **content)
        self.stats.cases += 1
        self.stats.actions["register"] += 1
        rng = d.rng
        if desk.above is not None and d.case.risk_level == "high" and rng.random() < 0.5:
            self.push(self.after(at, rng.uniform(0.1, 0.8), rng), d, "refer_up",
                      reason="重大矛盾纠纷，超出镇街调处能力，提请区中心调处")
        else:
            self.push(self.after(at, rng.lognormvariate(-0.7, 0.8), rng), d, "assign")

    def act(self, d: _Dispute, at: dt.datetime, action: str, fields: dict) -> None:
        case, rng = d.case, d.rng
        desk = self._desk_of(case)
        if action == "assign":
            kind = DEPARTMENT_FOR.get(d.dispute_type, ("", ""))[desk.level == Level.TOWN]
            department = desk.stationed.get(kind)
            if department is not None and rng.random() < 0.35:
                fields = {"assignee": department.code, "note": "请驻中心部门牵头调处"}
            else:
                fields = {"assignee": desk.mediator.username, "note": "请及时组织调解"}
        actor = self.actor(d, action, desk)
        d.case = services.ACTIONS[action](actor=actor, case=case, now=at, **fields)
        self.stats.actions[action] += 1
        self.next(d, at, action, fields)

    def _desk_of(self, case: MediationCase) -> _Desk:
        return self.by_centre[case.centre_id]

    def actor(self, d: _Dispute, action: str, desk: _Desk) -> User:
        case = d.case
        if action in ("assign", "approve_extension", "refuse_extension", "withdraw"):
            return desk.operator
        if action == "supervise":
            return (desk.above or desk).operator
        if case.department_id:
            return self.handlers[case.department_id]
        return self.mediators.get(case.mediator_id, desk.mediator)

    def next(self, d: _Dispute, at: dt.datetime, action: str, fields: dict) -> None:
        """Plan the dispute's next step after ``action`` at ``at``."""
        case, rng = d.case, d.rng
        state = case.state
        if action == "refer_up":
            self.push(self.after(at, rng.uniform(0.1, 1.0), rng), d, "assign")
        elif action in ("assign", "reopen") or (
                action in ("approve_extension", "refuse_extension", "supervise")
                and state == mwf.MEDIATING):
            if action == "assign" and rng.random() < 0.04:
                self.push(self.after(at, rng.uniform(0.5, 3), rng), d, "withdraw",
                          reason="申请人表示双方已自行和解，撤回调解申请")
                return
            self.session(d, at, first=action != "reopen")
        elif action == "record_session":
            d.sessions += 1
            u = rng.random()
            if d.sessions < 3 and u < 0.35:
                self.session(d, at, first=False)
            elif not d.extended and u < 0.40:
                d.extended = True
                self.push(self.after(at, rng.uniform(0.2, 1), rng), d, "request_extension",
                          reason="当事人分歧较大，需进一步协调", amount=rng.choice([5, 10]))
            elif not d.extended and u < 0.43:
                d.extended = True
                self.push(self.after(at, rng.uniform(0.2, 1), rng), d, "supervise",
                          note="请加快调处进度，防止矛盾激化", level="yellow")
            elif u < (0.86 if not d.reopened else 0.7):
                outcome = "partial" if rng.random() < 0.12 else "agreement"
                self.push(self.after(at, rng.uniform(0.1, 2), rng), d, "agree",
                          terms=_terms(d), outcome=outcome,
                          judicial_confirmation=rng.random() < 0.25,
                          performance="协议签订后即时履行" if rng.random() < 0.3 else "",
                          note="经调解，双方自愿达成如下协议")
            else:
                route = ("arbitration" if d.dispute_type == "labour" and rng.random() < 0.7
                         else "petition" if rng.random() < 0.15 else "litigation")
                self.push(self.after(at, rng.uniform(0.1, 2), rng), d, "refer_out",
                          route=route, reason=REFER_REASONS[route])
        elif action == "request_extension":
            decision = "approve_extension" if rng.random() < 0.85 else "refuse_extension"
            fields = {"note": "同意延期"} if decision == "approve_extension" else {
                "reason": "请按原时限办结"}
            self.push(self.after(at, rng.uniform(0.1, 0.6), rng), d, decision, **fields)
        elif action == "agree":
            holds = d.reopened or rng.random() > 0.06
            self.push(self.after(at, rng.uniform(3, 9), rng), d, "follow_up",
                      note=rng.choice(FOLLOW_UP_NOTES if holds else FOLLOW_UP_FAILED),
                      holds=holds)
        elif action == "follow_up":
            if fields.get("holds"):
                self.push(self.after(at, rng.uniform(0.1, 2), rng), d, "close",
                          note="协议履行完毕，结案")
            else:
                d.reopened = True
                self.push(self.after(at, rng.uniform(0.1, 1), rng), d, "reopen",
                          reason="协议未履行，重新组织调解")
        elif action == "close" and d.reopened is False and rng.random() < 0.01:
            self.push(self.after(at, rng.uniform(2, 10), rng), d, "reopen",
                      reason="当事人反映协议履行后问题再次出现")

    def session(self, d: _Dispute, at: dt.datetime, *, first: bool) -> None:
        rng = d.rng
        when = self.after(at, rng.uniform(0.5, 4) if first else rng.uniform(2, 6), rng)
        self.push(when, d, "record_session", note=rng.choice(SESSION_NOTES),
                  held_at=when - dt.timedelta(hours=1), place=f"{d.case.centre.name}调解室",
                  participants=f"申请人{d.vars['a']}，被申请人{d.vars['b']}，调解员"[:300])


# ---------------------------------------------------------------- the entry point

def mediation_exists() -> bool:
    return Centre.objects.exists()


def _dispute_incidents(desks: list[_Desk], start: dt.datetime, end: dt.datetime,
                       rng: random.Random, wanted: int) -> list[tuple[_Desk, dict, str]]:
    """Dispute incidents (ZZ01xx) of the window in the centres' regions, with
    the centre that takes each (its town's, else its district's) and the type."""
    by_path = sorted(desks, key=lambda k: -len(k.centre.path))
    rows = list(Incident.objects.filter(category__code__in=list(INCIDENT_TYPES),
                                        reported_at__gte=start, reported_at__lt=end)
                .order_by("reported_at", "id")
                .values("id", "number", "description", "lng", "lat", "contact_name",
                        "contact_phone", "reported_at", "path", "extra", "category__code"))
    rng.shuffle(rows)
    out: list[tuple[_Desk, dict, str]] = []
    for row in rows:
        desk = next((k for k in by_path if row["path"].startswith(k.centre.path)), None)
        if desk is None or row["lng"] is None:
            continue
        kind = (row["extra"] or {}).get("dispute_type")
        kind = kind if kind in DISPUTES else INCIDENT_TYPES[row["category__code"]]
        out.append((desk, dict(row), kind))
        if len(out) >= wanted:
            break
    return out


def build_mediation(*, cases: int = 300, days: int = 90, seed: int = 2026,
                    end: dt.datetime | None = None,
                    progress: Callable[[str], None] = print) -> MediationDemo:
    """Centres, rosters, mediators and ``cases`` disputes over ``days`` up to
    ``end`` (default: now), all in one transaction; nothing when centres exist."""
    started = time.monotonic()
    stats = MediationDemo()
    if mediation_exists():
        return stats
    end = (end or timezone.now()).replace(microsecond=0)
    if timezone.is_naive(end):
        raise DomainError("end needs a time zone")
    start = end - dt.timedelta(days=days)
    rng = random.Random(seed * 7 + 1)
    with transaction.atomic():
        desks = _build_centres(rng, _centre_regions(), timezone.localdate(start))
        stats.centres = len(desks)
        stats.mediators = [k.mediator.username for k in desks]
        if not desks:
            return stats
        simulation = _Simulation(desks=desks, seed=seed, end=end, stats=stats)
        from_incidents = _dispute_incidents(desks, start, end - dt.timedelta(hours=2), rng,
                                            int(cases * INCIDENT_SHARE))
        weights = [3.0 if k.level == Level.DISTRICT else 2.0 for k in desks]
        types, type_weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
        for i in range(cases):
            own = random.Random(seed * 1_000_003 + 77_777 + i)
            if i < len(from_incidents):
                desk, incident, kind = from_incidents[i]
                at = incident["reported_at"] + dt.timedelta(hours=own.uniform(1, 30))
                incident = {**incident, "number": incident["number"]}
            else:
                desk = own.choices(desks, weights=weights)[0]
                kind = own.choices(types, weights=type_weights)[0]
                at = _working_moment(start, end, own)
                incident = None
            d = _Dispute(index=i, rng=own, desk=desk, at=min(at, end - dt.timedelta(minutes=5)),
                         dispute_type=kind, incident=incident)
            simulation.disputes.append(d)
            simulation.push(d.at, d, "register")
        day = start.replace(hour=9, minute=0, second=0)
        while day < end:
            simulation.push(day, None, "sweep")
            day += SWEEP_EVERY
        simulation.push(end, None, "sweep")
        simulation.run()
    stats.states = Counter(MediationCase.objects.values_list("state", flat=True))
    stats.seconds = time.monotonic() - started
    progress(f"mediation: {stats.summary()}")
    if stats.errors:
        progress(f"mediation: {sum(stats.errors.values())} steps refused: "
                 + "; ".join(f"{k} ×{v}" for k, v in stats.errors.most_common(5)))
    return stats


def _working_moment(start: dt.datetime, end: dt.datetime, rng: random.Random) -> dt.datetime:
    """A moment of office hours (Asia/Shanghai) on a working day in [start, end)."""
    calendar = get_calendar()
    span = (end - start).total_seconds()
    for _ in range(50):
        at = start + dt.timedelta(seconds=rng.uniform(0, span))
        local = timezone.localtime(at, calendar.tz)
        if calendar.is_working_day(local.date()):
            at = local.replace(hour=rng.randint(8, 16), minute=rng.randint(0, 59),
                               second=rng.randint(0, 59))
            if start <= at < end:
                return at
    return end - dt.timedelta(hours=1)


__all__ = ["MediationDemo", "build_mediation", "credit_code", "id_number", "mediation_exists"]
