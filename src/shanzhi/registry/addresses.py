"""Standard addresses (标准地址) and the matching of what people type.

A building's standard address reads district, town, community, road, door
number, estate and building (姑苏区平江街道平江社区平江路88号(平江花园)3幢);
a house adds its unit and room (…3幢2单元302室). What is stored for
matching is the *key*: ``community code|road|number|building`` for a
building and ``building key|unit|room`` for a house, every part in one
spelling (half-width digits, no 号/幢/单元/室, no leading zeros), so that a
house key starts with its building's key.

Whatever way an address is typed — 苏州市姑苏区平江路88号3幢2单元302室,
平江路88号3-2-302, 姑苏区 平江路 88 号 3 栋 2 单元 302, full-width digits,
三幢, 3号楼 — :func:`normalize` brings it to one spelling, :func:`parse`
takes it apart and :func:`key` gives the prefix of the keys it names.
:func:`match` finds the house or building (docs/registry-addresses.md).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db.models import Q

# ---------------------------------------------------------------- normalize

#: Dropped wherever they stand: spaces, punctuation, brackets (an estate's
#: name is told by where it stands, not by its brackets).
_NOISE = re.compile(r"[\s\u3000,，.。、·:：;；'\"“”‘’()（）\[\]【】<>《》!！?？/\\|_~`@*&^$%+=]+")
_DASHES = re.compile(r"[‐‑‒–—―－~〜]")
_PREFIXES = ("中华人民共和国", "江苏省", "苏州市")
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN = "〇零一二两三四五六七八九十百千"
#: A Chinese number where a number is meant: before a marker of a number.
_CN_NUMBER = re.compile(rf"(第?)([{_CN}]+)(?=号|幢|栋|座|单元|室|层|楼|弄|户|房|组|#)")
_FIRST = re.compile(r"第(?=[0-9A-Z])")
#: The building's marker, in its spellings: 3号楼, 3栋, 3座, 3#楼, 3# → 3幢.
_BUILDING = re.compile(r"(?<=[0-9A-Z])(?:号楼|#楼|栋|座|#|幢楼)")
#: The room's: 302号房, 302房, 302户, 302号室 → 302室.
_ROOM = re.compile(r"(?<=[0-9A-Z])(?:号房|号室|房间|房|户)")
_UNIT = re.compile(r"(?<=\d)(?:单元号|单元|单)(?!位)")


def _cn_to_int(text: str) -> int:
    """一二三 → 123 (digit by digit), 十二 → 12, 三十 → 30, 一百零八 → 108."""
    if not any(c in _CN_UNITS for c in text):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, digit = 0, 0
    for c in text:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            total += (digit or 1) * _CN_UNITS[c]
            digit = 0
    return total + digit


def normalize(text: str) -> str:
    """One spelling of a typed address: half-width, upper-case letters, no
    spaces or punctuation, Chinese numbers as digits where a number is meant,
    the markers unified (幢, 单元, 室), the province's and the city's names
    dropped from its start. Idempotent (applied until nothing changes)."""
    value = str(text or "")
    for _ in range(8):
        before, value = value, _normalize_once(value)
        if value == before:
            break
    return value


def _normalize_once(value: str) -> str:
    value = unicodedata.normalize("NFKC", value).upper()
    value = _DASHES.sub("-", value)
    value = _NOISE.sub("", value)
    value = re.sub(r"-{2,}", "-", value).strip("-")
    for prefix in _PREFIXES:
        if value.startswith(prefix) and len(value) > len(prefix):
            value = value[len(prefix):]
    value = _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(2))), value)
    value = _FIRST.sub("", value)
    value = _BUILDING.sub("幢", value)
    value = _ROOM.sub("室", value)
    value = _UNIT.sub("单元", value)
    return re.sub(r"-{2,}", "-", value).strip("-")


# ---------------------------------------------------------------- parse

@dataclass(frozen=True)
class Parsed:
    """The parts of a typed address, each "" when not given (numbers without
    their markers: number 88, building 3, unit 2, room 302)."""

    district: str = ""
    town: str = ""
    community: str = ""
    road: str = ""
    number: str = ""
    estate: str = ""
    building: str = ""
    unit: str = ""
    room: str = ""


_ROAD_ENDS = "路街巷弄道桥"
_DISTRICT = re.compile(rf"\D{{1,8}}?(?:(?<![社小])区|县|市)(?![{_ROAD_ENDS}区])")
_TOWN = re.compile(rf"\D{{1,10}}?(?:街道|镇|乡)(?![{_ROAD_ENDS}])")
_COMMUNITY = re.compile(rf"\D{{1,12}}?(?:社区|居委会|村委会|(?<!新)村)(?![{_ROAD_ENDS}])")
#: road, a lane (88弄), the door number (88号, 88-1号).
_ROAD_NUMBER = re.compile(r"(\D+?)(?:(\d+)弄)?(\d+(?:-\d+)?)号")
_ROAD_BARE = re.compile(r"(\D*?[路街巷弄道])(\d+)(?=-|\Z)")
_ESTATE = re.compile(r"(?![0-9A-Z]+幢)(?:[^\d\-]+?(?=[0-9A-Z]+幢|\d+-|\d+单元|\Z)|[^\d\-]+)")
_BLD = re.compile(r"-?([0-9A-Z]+(?:-[0-9A-Z]+)?)幢")
_DASH3 = re.compile(r"-?(\d+)-(\d+)-([0-9A-Z]+)(?:室|\Z)")
_DASH2 = re.compile(r"-?(\d+)-([0-9A-Z]+)(?:室|\Z)")
_UNIT_P = re.compile(r"-?(\d+)单元")
_ROOM_P = re.compile(r"-?([0-9A-Z]+)(?:室|\Z)")


def _canon(part: str) -> str:
    """A number's one spelling: no leading zeros (0302 → 302)."""
    return re.sub(r"(?<![0-9])0+(?=\d)", "", part)


def parse(text: str) -> Parsed:
    """The parts of a typed address (never raises: what it cannot read is left out)."""
    value = normalize(text)
    parts: dict[str, str] = {}
    for name, pattern in (("district", _DISTRICT), ("town", _TOWN), ("community", _COMMUNITY)):
        m = pattern.match(value)
        if m:
            parts[name], value = m.group(0), value[m.end():]
    m = _ROAD_NUMBER.match(value)
    if m:
        road, lane, number = m.groups()
        parts["road"] = road + (f"{_canon(lane)}弄" if lane else "")
        parts["number"] = _canon(number)
        value = value[m.end():]
    else:
        m = _ROAD_BARE.match(value)
        if m:
            parts["road"], parts["number"] = m.group(1), _canon(m.group(2))
            value = value[m.end():]
    m = _ESTATE.match(value)
    if m and m.group(0):
        name, value = m.group(0), value[m.end():]
        if "road" not in parts and not value and name.endswith(tuple(_ROAD_ENDS)):
            parts["road"] = name  # a road alone
        else:
            parts["estate"] = name
    m = _BLD.match(value)
    if m:
        parts["building"], value = _canon(m.group(1)), value[m.end():]
        m = _DASH2.match(value)
        if m:
            parts["unit"], parts["room"] = _canon(m.group(1)), _canon(m.group(2))
            value = ""
    else:
        m = _DASH3.match(value)
        if m:
            parts["building"], parts["unit"], parts["room"] = map(_canon, m.groups())
            value = ""
        else:
            m = _DASH2.match(value)
            if m:
                parts["building"], parts["room"] = map(_canon, m.groups())
                value = ""
    m = _UNIT_P.match(value)
    if m:
        parts["unit"], value = _canon(m.group(1)), value[m.end():]
    m = _ROOM_P.match(value)
    if m and m.group(1):
        parts["room"] = _canon(m.group(1))
    return Parsed(**parts)


# ---------------------------------------------------------------- keys

def number_part(value: str) -> str:
    """A stored number's key part: 88号 → 88, 3幢 → 3, 2单元 → 2, 0302室 → 302."""
    value = normalize(value)
    value = re.sub(r"(?:号|幢|单元|室)\Z", "", value)
    return _canon(value)


def building_key(community_code: str, road: str, number: str, building: str) -> str:
    """The key stored in ``Building.key``: ``320508001001|平江路|88|3``."""
    return "|".join((community_code, normalize(road), number_part(number),
                     number_part(building)))


def house_key(building_key: str, unit: str, room: str) -> str:
    """The key stored in ``House.key``: the building's, ``|unit|room``."""
    return f"{building_key}|{number_part(unit)}|{number_part(room)}"


def _prefix(code: str, parsed: Parsed) -> str:
    """The key of a house when a room is given (a building or unit not
    given is none: 3幢302 is room 302 of building 3 without units, as its
    standard address reads); else the key prefix of the parts given, up to
    the first one missing, closed by "|" (so 88 does not reach 880)."""
    if parsed.room:
        return "|".join((code, parsed.road, parsed.number, parsed.building, parsed.unit,
                         parsed.room))
    parts = [code]
    for value in (parsed.road, parsed.number, parsed.building, parsed.unit):
        if not value:
            return "|".join(parts) + "|"
        parts.append(value)
    return "|".join(parts) + "|"


def _communities(parsed: Parsed, scope=None) -> list[str]:
    """The codes of the communities a typed address may lie in: the one it
    names (and, when it names none, those with buildings on its road and
    number), narrowed by the district and town it names and by ``scope``."""
    from shanzhi.geo.index import get_index
    from shanzhi.geo.models import Level

    from .models import Building

    index = get_index()

    def fits(region_id: int) -> bool:
        chain = index.chain(region_id)
        names = {n.level: n.name for n in chain}
        if parsed.district and names.get(Level.DISTRICT, parsed.district) != parsed.district:
            return False
        if parsed.town and names.get(Level.TOWN, parsed.town) != parsed.town:
            return False
        return scope is None or scope.covers(index.path(region_id))

    if parsed.community:
        found = sorted(n.code for n in index.regions.values()
                       if n.level == Level.COMMUNITY and n.name == parsed.community and fits(n.id))
        if found:
            return found
    if not parsed.road:
        return []
    buildings = Building.objects.filter(road=parsed.road)
    if parsed.number:
        buildings = buildings.filter(number__in=[parsed.number, f"{parsed.number}号"])
    ids = set(buildings.values_list("community_id", flat=True).distinct()[:50])
    return sorted(index.regions[i].code for i in ids if i in index.regions and fits(i))


def keys(text: str, *, scope=None) -> list[str]:
    """The key prefixes of a typed address, one per community it may lie in."""
    parsed = parse(text)
    return [_prefix(code, parsed) for code in _communities(parsed, scope)]


def key(text: str, *, community_code: str | None = None, scope=None) -> str:
    """The key prefix of a typed address, for ``House.key__startswith``: in
    ``community_code`` if given, else in the community it names or the one
    (the first by code) with buildings on its road and number. Without any,
    a prefix of no community (it matches nothing)."""
    parsed = parse(text)
    if community_code is None:
        found = _communities(parsed, scope)
        community_code = found[0] if found else ""
    return _prefix(community_code, parsed)


def house_filter(text: str, *, scope=None, field: str = "key") -> Q:
    """A ``Q`` on houses (or, with ``field="building__key"``, on what
    points to a house) whose key starts with one of the address's prefixes;
    matches nothing when the address names no known place."""
    prefixes = keys(text, scope=scope)
    if not prefixes:
        return Q(pk__in=[])
    q = Q()
    for prefix in prefixes:
        q |= Q(**{f"{field}__startswith": prefix})
    return q


# ---------------------------------------------------------------- match

@dataclass(frozen=True)
class Match:
    house: object | None
    building: object
    grid_id: int
    lng: float
    lat: float
    #: True when the house (or, with no room typed, the building) is the one typed.
    exact: bool


def _visible(scope, model):
    if scope is None:
        return model.objects.all()
    from .selectors import visible  # (selectors reads the keys made here)

    return visible(scope, model)


def match(text: str, *, scope=None) -> Match | None:
    """The house or building a typed address names: the house with its key
    (exact), else the building with its key, else the best building on the
    same road and door number (the lowest building number; within ``scope``
    when given). The point and grid are the building's."""
    from .models import Building, House

    parsed = parse(text)
    if not parsed.road or not parsed.number:
        return None
    communities = _communities(parsed, scope)
    for code in communities:
        bkey = building_key(code, parsed.road, parsed.number, parsed.building)
        if parsed.room:
            house = (_visible(scope, House).select_related("building")
                     .filter(key=house_key(bkey, parsed.unit, parsed.room)).first())
            if house is not None:
                b = house.building
                return Match(house, b, b.grid_id, b.lng, b.lat, True)
        building = _visible(scope, Building).filter(key=bkey).first()
        if building is not None and parsed.room and not parsed.unit:
            # 3幢302 of a building with units: the room, if only one unit has it
            rooms = list(_visible(scope, House).filter(building=building,
                                                       room=parsed.room)[:2])
            if len(rooms) == 1:
                return Match(rooms[0], building, building.grid_id, building.lng, building.lat,
                             False)
        if building is not None:
            return Match(None, building, building.grid_id, building.lng, building.lat,
                         not parsed.room)
    if not communities:
        return None
    prefixes = Q()
    for code in communities:
        prefixes |= Q(key__startswith=f"{code}|{parsed.road}|{parsed.number}|")
    building = _visible(scope, Building).filter(prefixes).order_by("key").first()
    if building is None:
        return None
    return Match(None, building, building.grid_id, building.lng, building.lat, False)


# ---------------------------------------------------------------- the standard form

def standard_address(community, road: str, number: str, estate: str, building: str,
                     unit: str = "", room: str = "") -> str:
    """The standard address as a citizen reads it:
    姑苏区平江街道平江社区平江路88号(平江花园)3幢2单元302室. ``community`` is
    the community (a ``Region``): its district and town come from the index."""
    from shanzhi.geo.index import get_index
    from shanzhi.geo.models import Level

    chain = get_index().chain(community.pk)
    names = {n.level: n.name for n in chain}
    place = "".join(names.get(level, "") for level in (Level.DISTRICT, Level.TOWN))
    text = f"{place}{community.name}{normalize(road)}{number_part(number)}号"
    if estate:
        text += f"({estate.strip()})"
    if building:
        text += f"{number_part(building)}幢"
    if unit:
        text += f"{number_part(unit)}单元"
    if room:
        text += f"{number_part(room)}室"
    return text


__all__ = ["Match", "Parsed", "building_key", "house_filter", "house_key", "key", "keys",
           "match", "normalize", "number_part", "parse", "standard_address"]
