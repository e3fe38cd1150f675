"""The seed taxonomy: city-management events and components in the GB/T 30428
style, and the social-governance classes. Loaded by a data migration; admins
edit it afterwards (every edit of rules makes a new version).

Limits name stage → (amount, unit). Where the public examples of the
standard give a figure (暴露垃圾 4 working hours, 道路保洁 2 working hours,
路面积水 4 working hours, 绿地养护 5 working days, 渣土 2 working days,
私搭乱建 20 working days) it is used; the rest are plausible defaults.
"""

from __future__ import annotations

WH, WD, NH = "working_hours", "working_days", "natural_hours"

#: Every category's first stages unless it says otherwise.
BASE_LIMITS = {"accept": (1, WH), "dispatch": (1, WH), "sign": (1, WH), "verify": (1, WD)}
URGENCIES = [
    {"code": "normal", "name": "一般", "factor": 1.0},
    {"code": "urgent", "name": "紧急", "factor": 0.5},
    {"code": "critical", "name": "特急", "factor": 0.25},
]

# (code, name, kind, default department kind per level, on_overdue, subclasses)
# subclass: (code, name, handle limit, extra fields)
LOCATION_DESC = {"code": "location_desc", "name": "位置描述", "datatype": "string",
                 "required": False, "values": [], "description": "门牌、路口或参照物"}
COMPONENT_STATE = {"code": "component_state", "name": "部件状态", "datatype": "singlevaluelist",
                   "required": True, "description": "GB/T 30428 部件状态",
                   "values": [{"key": "damaged", "name": "破损"}, {"key": "lost", "name": "丢失"},
                              {"key": "abandoned", "name": "废弃"}]}
PEOPLE_INVOLVED = {"code": "people_involved", "name": "涉及人数", "datatype": "number",
                   "required": False, "values": [], "description": ""}
DISPUTE_TYPE = {"code": "dispute_type", "name": "纠纷类型", "datatype": "singlevaluelist",
                "required": True, "description": "",
                "values": [{"key": k, "name": n} for k, n in (
                    ("family", "婚姻家庭"), ("neighbour", "相邻关系"), ("property", "物业管理"),
                    ("labour", "劳动争议"), ("consumer", "消费维权"), ("land", "土地征用补偿"),
                    ("other", "其他"))]}

CITY_FIRST = {"city": "CGJ", "district": "CGJ", "town": "ZHZF"}
HOUSING = {"city": "ZJJ", "district": "ZJJ", "town": "ZHZF"}
ENVIRONMENT = {"city": "STHJJ", "district": "STHJJ", "town": "ZHZF"}
MARKET = {"city": "SCJGJ", "district": "SCJGJ", "town": "ZHZF"}
SAFETY = {"city": "YJGLJ", "district": "YJGLJ", "town": "ZHZF"}
WATER = {"city": "SWJ", "district": "ZJJ", "town": "ZHZF"}
SOCIAL = {"city": "MZJ", "district": "SFJ", "town": "SHSY"}
POLICE = {"city": "GAJ", "district": "SFJ", "town": "ZHZF"}

TAXONOMY = [
    ("SJ01", "市容环境", "event", CITY_FIRST, "notify", [
        ("SJ0101", "私搭乱建", (20, WD), [LOCATION_DESC]),
        ("SJ0102", "暴露垃圾", (4, WH), [LOCATION_DESC]),
        ("SJ0103", "积存垃圾渣土", (2, WD), [LOCATION_DESC]),
        ("SJ0104", "道路不洁", (2, WH), [LOCATION_DESC]),
        ("SJ0105", "水域不洁", (1, WD), []),
        ("SJ0106", "绿地脏乱", (5, WD), []),
    ]),
    ("SJ02", "宣传广告", "event", CITY_FIRST, "notify", [
        ("SJ0201", "非法小广告", (1, WD), []),
        ("SJ0202", "违规户外广告", (5, WD), []),
    ]),
    ("SJ03", "施工管理", "event", HOUSING, "supervise", [
        ("SJ0301", "施工扰民", (1, WD), [PEOPLE_INVOLVED]),
        ("SJ0302", "工地扬尘", (1, WD), []),
        ("SJ0303", "道路破损", (3, WD), [LOCATION_DESC]),
    ]),
    ("SJ04", "街面秩序", "event", CITY_FIRST, "notify", [
        ("SJ0401", "无照经营游商", (4, WH), []),
        ("SJ0402", "占道经营", (4, WH), []),
        ("SJ0403", "店外经营", (1, WD), []),
        ("SJ0404", "机动车乱停放", (4, WH), []),
        ("SJ0405", "非机动车乱停放", (4, WH), []),
    ]),
    ("SJ05", "突发事件", "event", SAFETY, "escalate", [
        ("SJ0501", "路面积水", (4, WH), [LOCATION_DESC]),
        ("SJ0502", "道路塌陷", (4, NH), [LOCATION_DESC]),
        ("SJ0503", "管道破裂", (4, NH), []),
    ]),
    ("BJ01", "公用设施", "component", WATER, "notify", [
        ("BJ0101", "上水井盖", (1, WD), [COMPONENT_STATE]),
        ("BJ0102", "污水井盖", (1, WD), [COMPONENT_STATE]),
        ("BJ0103", "雨水篦子", (1, WD), [COMPONENT_STATE]),
        ("BJ0104", "路灯", (2, WD), [COMPONENT_STATE]),
    ]),
    ("BJ02", "道路交通", "component", CITY_FIRST, "notify", [
        ("BJ0201", "交通信号灯", (1, WD), [COMPONENT_STATE]),
        ("BJ0202", "交通护栏", (3, WD), [COMPONENT_STATE]),
        ("BJ0203", "公交站亭", (3, WD), [COMPONENT_STATE]),
    ]),
    ("BJ04", "园林绿化", "component", CITY_FIRST, "notify", [
        ("BJ0401", "行道树", (5, WD), [COMPONENT_STATE]),
        ("BJ0402", "绿地养护", (5, WD), []),
    ]),
    ("ZZ01", "矛盾纠纷", "governance", SOCIAL, "supervise", [
        ("ZZ0101", "邻里纠纷", (10, WD), [DISPUTE_TYPE, PEOPLE_INVOLVED]),
        ("ZZ0102", "劳资纠纷", (10, WD), [DISPUTE_TYPE, PEOPLE_INVOLVED]),
        ("ZZ0103", "物业纠纷", (10, WD), [DISPUTE_TYPE, PEOPLE_INVOLVED]),
    ]),
    ("ZZ02", "治安隐患", "governance", POLICE, "escalate", [
        ("ZZ0201", "治安隐患", (1, WD), []),
        ("ZZ0202", "可疑人员物品", (4, NH), []),
    ]),
    ("ZZ03", "安全生产", "governance", SAFETY, "escalate", [
        ("ZZ0301", "企业安全隐患", (3, WD), []),
        ("ZZ0302", "危化品隐患", (1, WD), []),
    ]),
    ("ZZ04", "消防隐患", "governance", SAFETY, "escalate", [
        ("ZZ0401", "消防通道堵塞", (1, WD), [LOCATION_DESC]),
        ("ZZ0402", "电动车违规充电", (1, WD), [LOCATION_DESC]),
    ]),
    ("ZZ05", "环境污染", "governance", ENVIRONMENT, "supervise", [
        ("ZZ0501", "噪声污染", (3, WD), []),
        ("ZZ0502", "水体污染", (3, WD), []),
        ("ZZ0503", "大气污染", (3, WD), []),
    ]),
    ("ZZ06", "市容环境", "governance", CITY_FIRST, "notify", [
        ("ZZ0601", "环境卫生", (2, WD), []),
    ]),
    ("ZZ07", "特殊人群", "governance", SOCIAL, "supervise", [
        ("ZZ0701", "特殊人群异常", (1, WD), []),
    ]),
    ("ZZ08", "民生服务", "governance", MARKET, "notify", [
        ("ZZ0801", "市场价格投诉", (5, WD), []),
        ("ZZ0802", "食品安全", (3, WD), []),
        ("ZZ0803", "公共服务诉求", (5, WD), []),
    ]),
]

# What Open311 reads publish of each category's incidents (docs/open311.md,
# "Publication policy"; an administrator changes it per category in the admin).
# The rule: a thing or a public place — roads, sanitation, greenery, facilities,
# advertising, building sites, order in the street, infrastructure emergencies,
# pollution — is public. What usually lies at one home or points at one person or
# firm, while the public may know that it happens in an area, is coarse (the place
# to about 1 km, the street address reduced to the region names). People,
# security, disputes, special groups and complaints or petitions (诉求) are private.
PUBLIC, COARSE, PRIVATE = "public", "coarse", "private"
CLASS_PUBLICATION = {
    "SJ01": PUBLIC, "SJ02": PUBLIC, "SJ03": PUBLIC, "SJ04": PUBLIC, "SJ05": PUBLIC,
    "BJ01": PUBLIC, "BJ02": PUBLIC, "BJ04": PUBLIC,
    "ZZ01": PRIVATE,  # 矛盾纠纷: disputes between people
    "ZZ02": PRIVATE,  # 治安隐患: security
    "ZZ03": COARSE,   # 安全生产: one firm's hazards
    "ZZ04": COARSE,   # 消防隐患: mostly at one residential building
    "ZZ05": PUBLIC, "ZZ06": PUBLIC,
    "ZZ07": PRIVATE,  # 特殊人群: special groups
    "ZZ08": PRIVATE,  # 民生服务: complaints and petitions of one citizen
}
SUBCLASS_PUBLICATION = {
    "SJ0101": COARSE,   # 私搭乱建: usually one household's structure
    "SJ0401": COARSE,   # 无照经营游商: points at one vendor
    "ZZ0302": PRIVATE,  # 危化品隐患: where hazardous chemicals are is a security matter
    "ZZ0501": COARSE,   # 噪声污染: mostly a neighbour
}


def publication_of(code: str) -> str:
    """The seed's publication of a category: its own, else its class's, else private."""
    if code in SUBCLASS_PUBLICATION:
        return SUBCLASS_PUBLICATION[code]
    return CLASS_PUBLICATION.get(code, CLASS_PUBLICATION.get(code[:4], PRIVATE))


def mark_publication(Category) -> int:
    """Give every category of the seed its publication (the others keep theirs)."""
    marked = 0
    for code, _name, _kind, _departments, _on_overdue, subclasses in TAXONOMY:
        for each in (code, *(sub[0] for sub in subclasses)):
            marked += Category.objects.filter(code=each).update(publication=publication_of(each))
    return marked


def limits_for(handle: tuple[float, str]) -> dict[str, dict]:
    stages = {**BASE_LIMITS, "handle": handle}
    return {stage: {"amount": amount, "unit": unit} for stage, (amount, unit) in stages.items()}


def seed(Category, CategoryRules) -> int:
    """Create the taxonomy with version 1 of every subcategory's rules."""
    created = 0
    # the model of migration 0002 has no publication yet: 0004 marks those rows
    published = any(f.name == "publication" for f in Category._meta.get_fields())

    def marked(code: str) -> dict:
        return {"publication": publication_of(code)} if published else {}

    for code, name, kind, departments, on_overdue, subclasses in TAXONOMY:
        parent, _ = Category.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, **marked(code)})
        for sub_code, sub_name, handle, extra_fields in subclasses:
            category, new = Category.objects.get_or_create(
                code=sub_code, defaults={"name": sub_name, "kind": kind, "parent": parent,
                                         **marked(sub_code)})
            if new:
                CategoryRules.objects.create(
                    category=category, number=1, limits=limits_for(handle),
                    departments=departments, urgencies=URGENCIES, extra_fields=extra_fields,
                    on_overdue=on_overdue)
                created += 1
    return created
