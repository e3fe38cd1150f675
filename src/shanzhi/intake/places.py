"""Address to place (地址匹配): an address typed in any common form resolved
to a point and a grid, with a confidence, from the city's standard addresses
(registry houses and buildings), its gazetteer (roads, landmarks, areas:
``PlaceName``) and its regions' names. docs/intake.md.

:func:`resolve` tries, in this order, and answers the first that fits:

1. a standard address: the house typed (0.95), the building typed (0.9),
   a building at the typed road and door number (0.8) — by key in the
   community the text starts with (its regions found by name in the
   spatial index), else by ``registry.addresses.match``; 0.5 when the door
   is in several communities and the text names none of them;
2. an intersection of two gazetteer roads (人民路与干将路路口, 人民路/干将路,
   干将路人民路口): where their lines cross, or the middle of their nearest
   points when they pass within ``NEAR_CROSSING_M`` (0.9);
3. a landmark named (观前街北侧近玄妙观): the point of the road named with it
   nearest to the landmark when the road passes within ``NEAR_LANDMARK_M``
   (0.85), else the landmark itself (0.8);
4. an area named (金鸡湖): its representative point (0.4);
5. a road alone: the middle of its line (0.3);
6. a region alone: its representative point (community 0.4, town 0.3,
   district 0.2), with the region.

A district, town or community named in the text narrows names that repeat
(人民路 in two districts); among names still repeated, the one in the
actor's territory is taken, and the confidence is lowered. A whole road,
area or region is never *confident* (``Place.confident``): a report placed
by it is flagged for the operator.

The gazetteer and the regions' names are scanned in memory (a per-process
``Memo`` rebuilt when the gazetteer's revision moves on), so a resolve costs
one or two indexed queries (the registry) and microseconds of geometry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import shapely
from django.db.models import Q
from shapely.geometry import shape
from shapely.ops import nearest_points

from shanzhi.core.memo import Memo, revision_stamp
from shanzhi.geo.index import SpatialIndex, get_index
from shanzhi.geo.models import Level
from shanzhi.registry import addresses

#: The revision moved on by every change of the gazetteer (``changed()``).
REVISION = "intake.places"
#: Two roads meet when their lines pass within this many metres.
NEAR_CROSSING_M = 50.0
#: A road named with a landmark is "at" the landmark within this many metres.
NEAR_LANDMARK_M = 300.0
#: The longest name looked for in a text (characters).
MAX_NAME = 30

CONFIDENCE = {
    "house": 0.95,
    "building": 0.9,
    "door": 0.8,  # a building at the typed road and number, not the one typed
    "ambiguous_door": 0.5,  # the typed door is in several communities: the first taken
    "intersection": 0.9,
    "landmark_road": 0.85,
    "landmark": 0.8,
    "area": 0.4,
    "road": 0.3,
    Level.COMMUNITY: 0.4,
    Level.TOWN: 0.3,
    Level.DISTRICT: 0.2,
    Level.CITY: 0.1,
}
#: The confidence is multiplied by this when a name was ambiguous (it repeats
#: and nothing in the text nor the territory told which one was meant): an
#: ambiguous crossing or landmark is then not confident.
AMBIGUOUS = 0.75
#: Kinds that name something too large to place a report by.
WHOLE_KINDS = frozenset({"road", "area", "region"})
#: What marks two roads as a crossing (after ``addresses.normalize``, which
#: drops 、 and /).
CROSSING_WORDS = ("路口", "交叉口", "交汇处", "交界处", "交口", "十字", "丁字", "和", "与", "交",
                  "口")
#: How deep a level lies (the lowest region named narrows most).
_DEPTH = {Level.CITY: 0, Level.DISTRICT: 1, Level.TOWN: 2, Level.COMMUNITY: 3}
#: A road (a lane: 88弄) and its door number, after ``addresses.normalize``.
_DOOR = re.compile(r"(\D+?)(?:(\d+)弄)?(\d+(?:-\d+)?)号")
#: Metres per degree of latitude (and of longitude at the equator).
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LNG = 111_320.0


@dataclass(frozen=True)
class Place:
    label: str  # how the place reads back to the operator: 人民路与干将路路口
    kind: str  # house | building | intersection | road | landmark | area | region
    lng: float | None
    lat: float | None
    grid_id: int | None  # the grid the point lies in (None outside every grid)
    region_id: int | None  # the lowest region known (the grid's community, or a named region)
    confidence: float  # 0..1; at least settings.INTAKE_PLACE_CONFIDENT places a report

    @property
    def confident(self) -> bool:
        """Whether a report may be placed here without the operator: a point,
        confident enough, and not a whole road, area or region."""
        from django.conf import settings

        return (self.lng is not None and self.kind not in WHOLE_KINDS
                and self.confidence >= settings.INTAKE_PLACE_CONFIDENT)


# ---------------------------------------------------------------- the gazetteer in memory

@dataclass(frozen=True)
class Entry:
    """One gazetteer name as held in memory."""

    id: int
    name: str
    kind: str
    geometry: shapely.Geometry = field(compare=False)
    lng: float
    lat: float
    region_id: int | None


@dataclass
class Gazetteer:
    entries: list[Entry]
    #: normalised name or alias → the entries it names
    names: dict[str, list[Entry]]


def _build() -> Gazetteer:
    from .models import PlaceName

    entries, names = [], {}
    for row in PlaceName.objects.only("id", "name", "kind", "aliases", "geometry", "lng", "lat",
                                      "region_id").order_by("id").iterator(chunk_size=2000):
        entry = Entry(row.id, row.name, row.kind, shape(row.geometry), row.lng, row.lat,
                      row.region_id)
        entries.append(entry)
        for name in {row.name, *(row.aliases or [])}:
            key = addresses.normalize(name)
            if len(key) >= 2:
                names.setdefault(key, []).append(entry)
    return Gazetteer(entries, names)


_gazetteer: Memo[Gazetteer] = Memo(_build, stamp=revision_stamp(REVISION), ttl=5.0,
                                   revision=REVISION)


def gazetteer() -> Gazetteer:
    return _gazetteer.get()


def changed() -> None:
    """The gazetteer changed (in the caller's transaction): every process
    reloads it."""
    from shanzhi.core.memo import bump

    bump(REVISION)


_regions_cache: tuple[SpatialIndex, dict[str, list[int]]] | None = None


def _region_names(index: SpatialIndex) -> dict[str, list[int]]:
    """The current regions by name (one map per spatial index)."""
    global _regions_cache
    if _regions_cache is None or _regions_cache[0] is not index:
        names: dict[str, list[int]] = {}
        for node in index.regions.values():
            names.setdefault(addresses.normalize(node.name), []).append(node.id)
        _regions_cache = (index, names)
    return _regions_cache[1]


# ---------------------------------------------------------------- geometry

def _metres(geom: shapely.Geometry, lat0: float) -> shapely.Geometry:
    """The geometry in local metres (equirectangular about ``lat0``): good to
    a fraction of a percent over a city."""
    kx = M_PER_DEG_LNG * math.cos(math.radians(lat0))
    return shapely.transform(geom, lambda xy: xy * [kx, M_PER_DEG_LAT])


def _degrees(point: shapely.Point, lat0: float) -> tuple[float, float]:
    kx = M_PER_DEG_LNG * math.cos(math.radians(lat0))
    return point.x / kx, point.y / M_PER_DEG_LAT


def _apart(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Metres between two near points (equirectangular)."""
    kx = M_PER_DEG_LNG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lng1 - lng2) * kx, (lat1 - lat2) * M_PER_DEG_LAT)


def _middle(geom: shapely.Geometry) -> tuple[float, float]:
    """The middle of a line (half its length along it); a point on a polygon."""
    if geom.geom_type in ("LineString", "MultiLineString"):
        line = geom if geom.geom_type == "LineString" else max(geom.geoms, key=lambda g: g.length)
        point = line.interpolate(0.5, normalized=True)
    else:
        point = shapely.point_on_surface(geom)
    return point.x, point.y


def meeting_point(a: shapely.Geometry, b: shapely.Geometry) -> tuple[float, float, float]:
    """(lng, lat, metres apart) where two geometries meet or come nearest:
    the crossing nearest to the middle of both when they cross."""
    lat0 = (a.centroid.y + b.centroid.y) / 2
    am, bm = _metres(a, lat0), _metres(b, lat0)
    crossing = am.intersection(bm)
    if not crossing.is_empty:
        points = [g for g in getattr(crossing, "geoms", [crossing])]
        centre = shapely.Point((am.centroid.x + bm.centroid.x) / 2,
                               (am.centroid.y + bm.centroid.y) / 2)
        best = min(points, key=centre.distance)
        point = best if best.geom_type == "Point" else shapely.point_on_surface(best)
        lng, lat = _degrees(point, lat0)
        return lng, lat, 0.0
    pa, pb = nearest_points(am, bm)
    lng, lat = _degrees(shapely.Point((pa.x + pb.x) / 2, (pa.y + pb.y) / 2), lat0)
    return lng, lat, pa.distance(pb)


def nearest_on(line: shapely.Geometry, lng: float, lat: float) -> tuple[float, float, float]:
    """(lng, lat, metres) of the point of ``line`` nearest to a point."""
    lm = _metres(line, lat)
    pm = _metres(shapely.Point(lng, lat), lat)
    near, _ = nearest_points(lm, pm)
    x, y = _degrees(near, lat)
    return x, y, near.distance(pm)


# ---------------------------------------------------------------- reading the text

@dataclass(frozen=True)
class Found:
    start: int
    end: int
    text: str
    places: tuple[Entry, ...] = ()
    regions: tuple[int, ...] = ()


def scan(text: str, *, gaz: Gazetteer, regions: dict[str, list[int]]) -> list[Found]:
    """The gazetteer's and the regions' names in a normalised text, longest
    first without overlaps, in the order they stand."""
    hits: list[Found] = []
    n = len(text)
    for i in range(n):
        for j in range(min(n, i + MAX_NAME), i + 1, -1):
            piece = text[i:j]
            places, ids = gaz.names.get(piece), regions.get(piece)
            if places or ids:
                hits.append(Found(i, j, piece, tuple(places or ()), tuple(ids or ())))
    hits.sort(key=lambda f: (-(f.end - f.start), f.start))
    taken: list[Found] = []
    for hit in hits:
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    return sorted(taken, key=lambda f: f.start)


class _Context:
    """What narrows a name that repeats: the regions named, the territory."""

    def __init__(self, index: SpatialIndex, named: Iterable[int], scope) -> None:
        self.index, self.named, self.scope = index, set(named), scope

    def fits(self, region_id: int | None) -> bool:
        if not self.named or region_id is None:
            return True
        chain = {n.id for n in self.index.chain(region_id)}
        return all(r in chain or region_id in {n.id for n in self.index.chain(r)}
                   for r in self.named)

    def covered(self, region_id: int | None) -> bool:
        if self.scope is None or region_id is None:
            return False
        return self.scope.covers(self.index.path(region_id))

    def narrow(self, entries: Iterable[Entry]) -> tuple[list[Entry], bool]:
        """The entries the text may mean, the likeliest first, and whether
        more than one remained (ambiguous)."""
        entries = list(entries)
        fitting = [e for e in entries if self.fits(e.region_id)] or entries
        fitting.sort(key=lambda e: (not self.covered(e.region_id), e.id))
        inside = sum(self.covered(e.region_id) for e in fitting)
        return fitting, len(fitting) > 1 and inside != 1


def _located(index: SpatialIndex, label: str, kind: str, lng: float, lat: float,
             confidence: float, region_id: int | None = None) -> Place:
    location = index.locate(lng, lat)
    lowest = location.regions[0].id if location.regions else None
    return Place(label=label, kind=kind, lng=float(lng), lat=float(lat),
                 grid_id=location.grid.id if location.grid else None,
                 region_id=region_id or lowest, confidence=round(confidence, 3))


# ---------------------------------------------------------------- resolve

def resolve(text: str, *, scope=None) -> Place | None:
    """The best place for an address as typed, or None when nothing in it is
    known. ``scope`` (an ``accounts.scope.Scope``) limits houses to a territory
    and, among names that repeat, prefers the one inside it."""
    typed = addresses.normalize(text)[:200]
    if not typed:
        return None
    index = get_index()
    hits = scan(typed, gaz=gazetteer(), regions=_region_names(index))
    named, end = _leading_regions(typed, hits, index)
    code = _community(named, index, scope)
    found = _in_community(code, typed[end:], scope) if code else None
    if found is None:
        found = _standard(_canonical(typed, named, end), scope)
    if found is not None:
        return found
    region_hits = [hit for hit in hits if not hit.places and hit.regions]
    # the regions named narrow the names that repeat (a region's own namesakes do not)
    context = _Context(index, [h.regions[0] for h in region_hits if len(h.regions) == 1], scope)
    roads = [h for h in hits if any(e.kind == "road" for e in h.places)]
    landmarks = [h for h in hits if any(e.kind == "landmark" for e in h.places)]
    areas = [h for h in hits if any(e.kind == "area" for e in h.places)]
    if len(roads) >= 2 and not landmarks:
        place = _intersection(index, context, roads[0], roads[1], typed)
        if place is not None:
            return place
    if landmarks:
        return _landmark(index, context, landmarks[0], roads)
    if areas:
        entries, ambiguous = context.narrow(e for e in areas[0].places if e.kind == "area")
        area = entries[0]
        return _located(index, area.name, "area", *_middle(area.geometry),
                        CONFIDENCE["area"] * (AMBIGUOUS if ambiguous else 1))
    if roads:
        entries, ambiguous = context.narrow(e for e in roads[0].places if e.kind == "road")
        road = entries[0]
        return _located(index, road.name, "road", *_middle(road.geometry),
                        CONFIDENCE["road"] * (AMBIGUOUS if ambiguous else 1))
    return _region(index, context, [r for h in region_hits for r in h.regions])


def _leading_regions(typed: str, hits: list[Found], index: SpatialIndex) -> tuple[dict, int]:
    """The regions the address starts with ({level: hit}) and where they end.
    Text between them that is no known name is passed over (a town's name
    that ``normalize`` shortened: 江苏省太湖采石公司)."""
    end, named = 0, {}
    for hit in hits:
        if not hit.regions or hit.places or any(c.isdigit() for c in typed[end:hit.start]):
            break
        named.setdefault(index.regions[hit.regions[0]].level, hit)
        end = hit.end
    return named, end


def _canonical(typed: str, named: dict, end: int) -> str:
    """The typed address with the regions it starts with spelled as
    ``registry.addresses.parse`` reads them: the district and the community
    by their names, a town only when its name ends as parse expects (a town
    named 科教新城 or …度假区 would otherwise swallow the community)."""
    if not end:
        return typed
    town = named[Level.TOWN].text if Level.TOWN in named else ""
    if not town.endswith(("街道", "镇", "乡")):
        town = ""
    return "".join((named[Level.DISTRICT].text if Level.DISTRICT in named else "", town,
                    named[Level.COMMUNITY].text if Level.COMMUNITY in named else "",
                    typed[end:]))


def _community(named: dict, index: SpatialIndex, scope) -> str | None:
    """The code of the one community the address names (inside the district
    and town it names; of namesakes, the one in the territory), or None."""
    hit = named.get(Level.COMMUNITY)
    if hit is None:
        return None
    context = _Context(index, [h.regions[0] for level, h in named.items()
                               if level != Level.COMMUNITY and len(h.regions) == 1], scope)
    ids = [r for r in hit.regions if context.fits(r)]
    if len(ids) > 1:
        ids = [r for r in ids if context.covered(r)]
    return index.regions[ids[0]].code if len(ids) == 1 else None


def _in_community(code: str, rest: str, scope) -> Place | None:
    """The house or building at the rest of the address in one community,
    by key (``registry.addresses``: the keys hold the community's code):
    the house typed, the building typed, else the first at the door."""
    from shanzhi.registry.models import Building, House

    road, number, parsed = _door(rest)
    if not road or not number:
        return None
    bkey = addresses.building_key(code, road, number, parsed.building)
    if parsed.room:
        house = (_visible(scope, House).select_related("building")
                 .filter(key=addresses.house_key(bkey, parsed.unit, parsed.room)).first())
        if house is not None:
            return _registry_place(house, house.building, CONFIDENCE["house"])
    building = _visible(scope, Building).filter(key=bkey).first()
    if building is not None:
        exact = not parsed.room
        return _registry_place(None, building, CONFIDENCE["building" if exact else "door"])
    building = (_visible(scope, Building)
                .filter(key__startswith=f"{code}|{road}|{number}|")
                .order_by("key").first())
    if building is not None:
        return _registry_place(None, building, CONFIDENCE["door"])
    return None


def _door(rest: str) -> tuple[str, str, addresses.Parsed]:
    """(road, door number, the parts after them) of an address whose
    regions are known and cut off: the road is all before the number, so a
    road such as 鲈乡北路 is not read as a town 鲈乡 (``parse`` reads a town
    first)."""
    m = _DOOR.match(rest)
    if m is None:
        parsed = addresses.parse(rest)
        return parsed.road, parsed.number, parsed
    road = m.group(1) + (f"{addresses.number_part(m.group(2))}弄" if m.group(2) else "")
    tail = addresses.parse("甲路1号" + rest[m.end():])  # the building, unit and room
    return road, addresses.number_part(m.group(3)), tail


def _registry_place(house, building, confidence: float) -> Place:
    return Place(label=house.address if house is not None else building.address,
                 kind="house" if house is not None else "building", lng=float(building.lng),
                 lat=float(building.lat), grid_id=building.grid_id,
                 region_id=building.community_id, confidence=confidence)


def _standard(typed: str, scope) -> Place | None:
    """A registry house or building, by ``registry.addresses.match``; less
    confident when the door it names is in several communities and the text
    does not say which (人民路8号 in two communities: the first is taken)."""
    match = addresses.match(typed, scope=scope)
    if match is None:
        return None
    building = match.building
    if match.house is not None:
        kind, label = "house", match.house.address
        confidence = CONFIDENCE["house"] if match.exact else CONFIDENCE["building"]
    else:
        kind, label = "building", building.address
        confidence = CONFIDENCE["building"] if match.exact else CONFIDENCE["door"]
    if len(addresses.keys(typed, scope=scope)) > 1:
        confidence = CONFIDENCE["ambiguous_door"]
    return Place(label=label, kind=kind, lng=float(match.lng), lat=float(match.lat),
                 grid_id=match.grid_id, region_id=building.community_id, confidence=confidence)


def _intersection(index, context: _Context, first: Found, second: Found,
                  typed: str) -> Place | None:
    """Where two named roads meet, when they do (within NEAR_CROSSING_M)."""
    a_roads, _ = context.narrow(e for e in first.places if e.kind == "road")
    b_roads, _ = context.narrow(e for e in second.places if e.kind == "road")
    meeting = []
    for a in a_roads:
        for b in b_roads:
            if a.id != b.id:
                lng, lat, apart = meeting_point(a.geometry, b.geometry)
                if apart <= NEAR_CROSSING_M:
                    meeting.append((a, b, apart, lng, lat))
    if not meeting:
        return None
    meeting.sort(key=lambda m: m[2])
    distinct = []  # one crossing of 干将东路 and 干将西路 (both 干将路) with 人民路 is one
    for m in meeting:
        if all(_apart(m[3], m[4], d[3], d[4]) > NEAR_CROSSING_M for d in distinct):
            distinct.append(m)
    meeting = distinct
    # a crossing tells which of several namesakes were meant; of several
    # crossings, the territory's
    if len(meeting) > 1 and context.scope is not None:
        inside = [m for m in meeting if context.covered(_region_at(index, m[3], m[4]))]
        meeting = inside or meeting
    a, b, apart, lng, lat = min(meeting, key=lambda m: m[2])
    confidence = CONFIDENCE["intersection"]
    if apart > NEAR_CROSSING_M / 2:
        confidence -= 0.05
    if not any(word in typed[first.end:] for word in CROSSING_WORDS):
        confidence -= 0.05  # two road names, nothing saying they cross
    if len(meeting) > 1:
        confidence *= AMBIGUOUS
    return _located(index, f"{a.name}与{b.name}路口", "intersection", lng, lat, confidence)


def _region_at(index: SpatialIndex, lng: float, lat: float) -> int | None:
    location = index.locate(lng, lat)
    return location.regions[0].id if location.regions else None


def _landmark(index, context: _Context, hit: Found, roads: list[Found]) -> Place:
    """A landmark; on the road named with it when that road passes near."""
    entries, ambiguous = context.narrow(e for e in hit.places if e.kind == "landmark")
    mark = entries[0]
    factor = AMBIGUOUS if ambiguous else 1.0
    best = None
    for road_hit in roads:
        for road in (e for e in road_hit.places if e.kind == "road"):
            lng, lat, apart = nearest_on(road.geometry, mark.lng, mark.lat)
            if apart <= NEAR_LANDMARK_M and (best is None or apart < best[3]):
                best = (road, lng, lat, apart)
    if best is not None:
        road, lng, lat, _ = best
        return _located(index, f"{road.name}（近{mark.name}）", "landmark", lng, lat,
                        CONFIDENCE["landmark_road"] * factor)
    return _located(index, mark.name, "landmark", mark.lng, mark.lat,
                    CONFIDENCE["landmark"] * factor)


def _region(index: SpatialIndex, context: _Context, named: list[int]) -> Place | None:
    """The lowest region named (the first of its namesakes in the territory,
    and inside the other regions named)."""
    if not named:
        return None
    order = {Level.COMMUNITY: 0, Level.TOWN: 1, Level.DISTRICT: 2, Level.CITY: 3}
    nodes = [index.regions[r] for r in named if r in index.regions]
    if not nodes:
        return None
    lowest = min(order.get(n.level, 9) for n in nodes)
    candidates = [n for n in nodes if order.get(n.level, 9) == lowest]
    others = _Context(index, [n.id for n in nodes if order.get(n.level, 9) != lowest],
                      context.scope)
    fitting = [n for n in candidates if others.fits(n.id)] or candidates
    fitting.sort(key=lambda n: (not others.covered(n.id), n.code))
    node = fitting[0]
    ambiguous = len(fitting) > 1
    label = "".join(n.name for n in index.place(node.id))
    confidence = CONFIDENCE.get(node.level, 0.1) * (AMBIGUOUS if ambiguous else 1)
    lng, lat = _region_point(index, node.id)
    if lng is None or lat is None:  # a region without a boundary
        return Place(label=label, kind="region", lng=None, lat=None, grid_id=None,
                     region_id=node.id, confidence=round(confidence, 3))
    return _located(index, label, "region", lng, lat, confidence, region_id=node.id)


# ---------------------------------------------------------------- complete

def complete(prefix: str, *, scope=None, limit: int = 10) -> list[dict]:
    """Type-ahead: known addresses and names starting with (or containing)
    ``prefix``, each {"label", "kind", "lng", "lat"}; at most ``limit``.

    With a road and a door number typed, the standard addresses of the
    buildings there (and, with a unit or room, of the houses), within
    ``scope``; then gazetteer names and aliases and regions' names (in
    memory: those that start with the text first, then those that contain
    it). The regions the text starts with (姑苏区平江街道…) narrow what
    follows them; typed alone, they offer the regions below them."""
    typed = addresses.normalize(prefix)[:100]
    limit = max(0, min(int(limit), 50))
    if not typed or not limit:
        return []
    out: list[dict] = []
    seen: set[str] = set()

    def add(label: str, kind: str, lng, lat) -> bool:
        if label not in seen:
            seen.add(label)
            out.append({"label": label, "kind": kind,
                        "lng": None if lng is None else round(float(lng), 6),
                        "lat": None if lat is None else round(float(lat), 6)})
        return len(out) >= limit

    index = get_index()
    named, end = _leading_regions(typed, scan(typed, gaz=gazetteer(),
                                              regions=_region_names(index)), index)
    within = _Context(index, [h.regions[0] for h in named.values() if len(h.regions) == 1],
                      scope)
    rest = typed[end:]
    for row in _addresses(rest, named, within, scope, limit):
        if add(*row):
            return out
    if end and not rest:
        for row in _below(named, within):
            if add(*row):
                return out
        return out
    for rank in (0, 1):  # names starting with the text, then containing it
        for label, kind, lng, lat in _names(rest or typed, index, rank, within if end else None):
            if add(label, kind, lng, lat):
                return out
    return out


def _names(typed: str, index: SpatialIndex, rank: int, within: _Context | None):
    """Gazetteer and region names starting with (rank 0) or containing, not
    starting with (rank 1) the text, shortest first, the gazetteer's first,
    inside the regions named before them (``within``). A region's label and
    point are worked out only for the names given out."""
    def fits(name: str) -> bool:
        return name.startswith(typed) if rank == 0 else (typed in name
                                                          and not name.startswith(typed))

    def inside(region_id: int | None, strict: bool) -> bool:
        if within is None:
            return True
        if region_id is None:
            return not strict
        return within.fits(region_id) and not (strict and region_id in within.named)

    rows: list[tuple] = []
    for name, entries in gazetteer().names.items():
        if fits(name):
            rows += [(len(name), 0, name, e.id, e) for e in entries
                     if inside(e.region_id, strict=False)]
    for name, ids in _region_names(index).items():
        if fits(name):
            rows += [(len(name), 1, name, r, None) for r in ids if inside(r, strict=True)]
    rows.sort(key=lambda r: r[:4])  # shortest, the gazetteer's before regions', by name
    for _n, _r, name, region_id, entry in rows:
        if entry is not None:
            label = entry.name if name == addresses.normalize(entry.name) else (
                f"{name}（{entry.name}）")
            district = next((n.name for n in index.chain(entry.region_id)
                             if n.level == Level.DISTRICT), "")
            yield (f"{label} · {district}" if district else label, entry.kind, entry.lng,
                   entry.lat)
        else:
            lng, lat = _region_point(index, region_id)
            yield "".join(n.name for n in index.place(region_id)), "region", lng, lat


def _deepest(named: dict, within: _Context) -> list[int]:
    """The regions of the lowest level named that fit the others named."""
    hit = named[max(named, key=lambda level: _DEPTH.get(level, 0))]
    return [r for r in hit.regions if within.fits(r)] or list(hit.regions)


def _below(named: dict, within: _Context):
    """The regions named (the lowest level's) and those right below them."""
    index = within.index
    ids = _deepest(named, within)
    children = sorted((index.regions[r] for r, parent in index.region_parent.items()
                       if parent in ids and r in index.regions), key=lambda n: n.code)
    for node in [*(index.regions[r] for r in ids), *children]:
        lng, lat = _region_point(index, node.id)
        yield "".join(n.name for n in index.place(node.id)), "region", lng, lat


def _region_point(index: SpatialIndex, region_id: int) -> tuple[float | None, float | None]:
    node = index.regions[region_id]
    layer = index.layers.get(node.level)
    position = layer.position.get(region_id) if layer is not None else None
    if position is None:
        return None, None
    point = shapely.point_on_surface(layer.geoms[position])
    return point.x, point.y


def _addresses(rest: str, named: dict, within: _Context, scope, limit: int) -> list[tuple]:
    """Buildings (or houses) at the typed road and door number (its digits
    so far, or the whole number once 号 is typed), inside the regions named
    before them and within scope: (label, kind, lng, lat)."""
    from shanzhi.registry.models import Building, House

    if "号" in rest:
        road, number, parsed = _door(rest)
        closed = True
    else:
        parsed = addresses.parse(rest)
        road, number, closed = parsed.road, parsed.number, False
    if not road or not number:
        return []
    buildings = _visible(scope, Building).filter(road=road)
    buildings = buildings.filter(number=f"{number}号") if closed else buildings.filter(
        number__startswith=number)
    if named:
        paths = Q()
        for region_id in _deepest(named, within):
            paths |= Q(path__startswith=within.index.path(region_id))
        buildings = buildings.filter(paths)
    if parsed.room or parsed.unit:
        houses = (_visible(scope, House).filter(building__in=buildings.values("pk"))
                  .select_related("building"))
        if parsed.building:
            houses = houses.filter(building__building=f"{parsed.building}幢")
        if parsed.unit:
            houses = houses.filter(unit=parsed.unit)
        if parsed.room:
            houses = houses.filter(room__startswith=parsed.room)
        return [(h.address, "house", h.building.lng, h.building.lat)
                for h in houses.order_by("key")[:limit]]
    if parsed.building:
        buildings = buildings.filter(building__startswith=parsed.building)
    return [(address, "building", lng, lat) for address, lng, lat in
            buildings.order_by("key").values_list("address", "lng", "lat")[:limit]]


def _visible(scope, model):
    if scope is None:
        return model.objects.all()
    from shanzhi.registry.selectors import visible

    return visible(scope, model)


__all__ = ["CONFIDENCE", "Place", "changed", "complete", "gazetteer", "meeting_point",
           "nearest_on", "resolve", "scan"]
