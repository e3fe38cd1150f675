"""The command centre's figures for a scope and a region drilled into.

Every read goes through the actor's ``Scope``. For a territory of whole
regions (city admins, operators, viewers) the figures come from the rollups
(``models.py``); for a grid worker's grids or a department's cases — which
the rollups do not key on — from the incidents themselves (``naive.py``),
a small set. Red and yellow lights are those the overdue sweep has marked
(in ``OpenTally``) plus the few that came on since, counted live from the
indexed deadlines (``open_now``): always equal to counting every open
incident against ``now``.

Windows are in days of Asia/Shanghai; "the last 30 days" include today.
Cohort figures count the incidents *reported* in the window by what they
are now (a case reported on the 3rd and closed on the 9th counts as closed
on the 3rd's line).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.models import Role
from shanzhi.accounts.scope import Scope
from shanzhi.cases.lights import light_of
from shanzhi.core.errors import PermissionDenied
from shanzhi.geo.models import Level, Region
from shanzhi.incidents import selectors as incident_selectors
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.assist import model_summary
from shanzhi.incidents.models import Category, Channel, Incident
from shanzhi.registry.visits import visit_counts

from . import naive
from .models import DayTally, MixTally, OpenTally
from .rollups import AREA_DEPTHS, DAY_COUNTERS, local_day

WINDOW_DAYS = 30
TOP_CATEGORIES = 10
LONGEST_OVERDUE = 10
#: The most open incidents the map gets as points (the most urgent first).
POINTS_CAP = 2000


@dataclass(frozen=True)
class Focus:
    """What the command centre shows: one region of the territory, or (for a
    territory of several roots) all of them."""

    region: Region | None
    paths: tuple[str, ...]
    roots: tuple[Region, ...] = ()

    @property
    def level(self) -> str | None:
        return self.region.level if self.region else None


def focus_for(*, scope: Scope, region: str | None = None) -> Focus:
    if scope.is_empty:
        raise PermissionDenied(gettext("your account has no territory"))
    if region:
        found = scope.region(region)
        return Focus(found, (found.path,))
    roots = tuple(scope.roots().defer("geometry").order_by("path"))
    if len(roots) == 1:
        return Focus(roots[0], (roots[0].path,))
    return Focus(None, tuple(r.path for r in roots), roots)


def uses_rollups(scope: Scope) -> bool:
    """Whether the scope is whole region subtrees (what the rollups key on)."""
    return scope.unrestricted or (scope.grid_ids is None and scope.role != Role.HANDLER)


def mix_depth(scope: Scope, focus: Focus) -> int | None:
    """The depth of the MixTally rows that answer for the focus (the deepest
    of its regions, a district at least), or None when they cannot."""
    depth = max(p.count("/") - 1 for p in focus.paths)
    if not uses_rollups(scope) or depth > max(AREA_DEPTHS):
        return None
    return max(depth, min(AREA_DEPTHS))


def _under(focus: Focus) -> Q:
    return reduce(or_, (Q(path__startswith=p) for p in focus.paths))


def incidents(scope: Scope, focus: Focus) -> QuerySet[Incident]:
    return incident_selectors.incidents_visible(scope).filter(_under(focus))


def _tallies(model, scope: Scope, focus: Focus) -> QuerySet:
    return scope.filter(model.objects.all()).filter(_under(focus))


def _window(now: dt.datetime | None, days: int = WINDOW_DAYS) -> tuple[dt.date, dt.date]:
    today = local_day(now or timezone.now())
    return today - dt.timedelta(days=days - 1), today


def kpi_window(now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """The first and last day (today) of the window the KPI rates count."""
    return _window(now)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---------------------------------------------------------------- counters

def window_counts(*, scope: Scope, focus: Focus, first: dt.date, last: dt.date) -> dict:
    """The DayTally counters summed over the days [first, last]."""
    if uses_rollups(scope):
        sums = (_tallies(DayTally, scope, focus).filter(day__gte=first, day__lte=last)
                .aggregate(**{c: Sum(c) for c in DAY_COUNTERS}))
    else:
        qs = naive.with_late(naive.reported_between(incidents(scope, focus), first, last))
        sums = qs.aggregate(**naive.day_counters())
    return {c: int(sums[c] or 0) for c in DAY_COUNTERS}


def kpis(*, scope: Scope, focus: Focus, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    first, today = _window(now)
    window = window_counts(scope=scope, focus=focus, first=first, last=today)
    today_counts = window_counts(scope=scope, focus=focus, first=today, last=today)
    valid = window["reported"] - window["rejected"]
    live = [0, 0, 0]  # open, red, yellow
    for _key, *counts in open_now(scope=scope, focus=focus, now=now):
        live = [a + b for a, b in zip(live, counts, strict=True)]
    return {
        "today_reported": today_counts["reported"],
        "open": live[0],
        "overdue": live[1],
        "near_due": live[2],
        "closure_rate": _ratio(window["closed"], valid),
        "on_time_rate": _ratio(window["closed_on_time"], window["closed"]),
        "self_resolved_share": _ratio(window["self_resolved"], valid),
        "satisfaction": _ratio(window["satisfied"], window["callbacks"]),
        "window": {"first": first.isoformat(), "last": today.isoformat(), **window},
    }


def trend(*, scope: Scope, focus: Focus, now: dt.datetime | None = None,
          days: int = WINDOW_DAYS) -> list[dict]:
    """Per day of the window: reported, and of those closed (now)."""
    first, today = _window(now, days)
    if uses_rollups(scope):
        rows = (_tallies(DayTally, scope, focus).filter(day__gte=first, day__lte=today)
                .order_by().values("day").annotate(reported=Sum("reported"),
                                                   closed=Sum("closed")))
    else:
        rows = naive.days(incidents(scope, focus), first, today)
    by_day = {r["day"]: r for r in rows}
    out = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        row = by_day.get(day, {})
        out.append({"day": day.isoformat(), "reported": int(row.get("reported") or 0),
                    "closed": int(row.get("closed") or 0)})
    return out


def open_now(*, scope: Scope, focus: Focus, now: dt.datetime,
             by: tuple[str, ...] = ()) -> list[tuple]:
    """Open incidents and of those red and yellow at ``now``, as rows (key,
    open, red, yellow) to add up; the key holds the values of ``by``
    (``path``, ``grid``).

    From the rollups: OpenTally's open and what the sweep marked, plus the
    incidents past their deadline but not yet marked overdue (red, and no
    longer yellow if marked so), plus those past their warning but not yet
    marked (yellow). The sweep sets the flags only after the deadlines and
    every new deadline resets them, so these few are found on the indexes
    the sweep uses itself."""
    live = incidents(scope, focus)
    fields = tuple("grid_id" if b == "grid" else b for b in by)
    out: list[tuple] = []

    def add(qs: QuerySet, counts) -> None:
        for r in qs.order_by().values(*fields, "warned").annotate(n=Count("id")):
            out.append((tuple(r[f] for f in fields), *counts(r["n"], r["warned"])))

    if not uses_rollups(scope):
        add(live.filter(state__in=wf.OPEN_STATES), lambda n, w: (n, 0, 0))
        add(naive.red(live, now), lambda n, w: (0, n, 0))
        add(naive.yellow(live, now), lambda n, w: (0, 0, n))
        return out
    tallies = _tallies(OpenTally, scope, focus).order_by()
    sums = {"o": Sum("open"), "r": Sum("red"), "y": Sum("yellow")}
    if by:
        keys = tuple("grid_key" if b == "grid" else b for b in by)
        out += [(tuple(r[k] for k in keys), r["o"], r["r"], r["y"])
                for r in tallies.values(*keys).annotate(**sums)]
    else:
        total = tallies.aggregate(**sums)
        out.append(((), *(int(total[k] or 0) for k in "ory")))
    unmarked = live.filter(state__in=wf.OPEN_STATES)
    add(unmarked.filter(overdue=False, due_at__lte=now), lambda n, w: (0, n, -n if w else 0))
    add(unmarked.filter(warned=False, warn_at__lte=now, due_at__gt=now), lambda n, w: (0, 0, n))
    return out


def _mix(scope: Scope, focus: Focus, now, by: str) -> dict:
    first, today = _window(now)
    depth = mix_depth(scope, focus)
    if depth is not None:
        rows = (_tallies(MixTally, scope, focus)
                .filter(depth=depth, day__gte=first, day__lte=today)
                .order_by().values(by).annotate(n=Sum("reported")))
        return {r[by]: int(r["n"]) for r in rows if r["n"]}
    field = "category_id" if by == "category_key" else by
    rows = naive.mix(incidents(scope, focus), first, today, by=(field,))
    return {(r[field] or 0) if field == "category_id" else r[field]: r["reported"]
            for r in rows}


def top_categories(*, scope: Scope, focus: Focus, now: dt.datetime | None = None,
                   top: int = TOP_CATEGORIES) -> list[dict]:
    counts = _mix(scope, focus, now, "category_key")
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    known = {pk: (code, name) for pk, code, name in Category.objects.filter(
        pk__in=[k for k, _ in best if k]).values_list("pk", "code", "name")}
    return [{"code": known.get(k, ("", ""))[0], "name": known.get(k, ("", ""))[1],
             "reported": n} for k, n in best]


def channels(*, scope: Scope, focus: Focus, now: dt.datetime | None = None) -> list[dict]:
    counts = _mix(scope, focus, now, "channel")
    labels = dict(Channel.choices)
    return [{"channel": c, "label": str(labels.get(c, c)), "reported": n}
            for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def longest_overdue(*, scope: Scope, focus: Focus, now: dt.datetime | None = None,
                    limit: int = LONGEST_OVERDUE) -> list[dict]:
    """The red incidents longest past their deadline: those the sweep marked
    overdue, then those past due since. Two plain ordered scans of the index
    ``incident_open_urgent``: one query with ``overdue OR due_at <= now``
    is misjudged by the planner and sorts every red incident (1 s at 10 M)."""
    now = now or timezone.now()
    live = incidents(scope, focus).filter(state__in=wf.OPEN_STATES)
    fields = ("number", "state", "due_at", "category__name", "region__name",
              "department__name", "holder__name")
    rows = list(live.filter(overdue=True).order_by("due_at", "id").values(*fields)[:limit])
    if len(rows) < limit:
        rows += live.filter(overdue=False, due_at__lte=now).order_by("due_at", "id").values(
            *fields)[:limit - len(rows)]
    states = dict(Incident._meta.get_field("state").choices)
    return [{"number": r["number"], "state": r["state"], "state_label": str(states[r["state"]]),
             "due_at": r["due_at"].isoformat(),
             "overdue_hours": round((now - r["due_at"]).total_seconds() / 3600, 1),
             "category": r["category__name"] or "", "region": r["region__name"],
             "with": r["department__name"] or r["holder__name"]} for r in rows]


# ---------------------------------------------------------------- the map

def _children(scope: Scope, focus: Focus) -> tuple[str, list[dict]]:
    """('grid' or 'region', the focus's children in the territory)."""
    if focus.region is not None and focus.region.level == Level.COMMUNITY:
        grids = scope.grids().filter(community=focus.region).order_by("code")
        return "grid", [{"id": g["id"], "code": g["code"], "name": g["name"]}
                        for g in grids.values("id", "code", "name")]
    if focus.region is not None:
        regions = scope.regions().filter(parent=focus.region)
    else:
        regions = Region.objects.filter(pk__in=[r.pk for r in focus.roots])
    return "region", [{"id": r["id"], "code": r["code"], "name": r["name"], "path": r["path"],
                       "level": r["level"]}
                      for r in regions.order_by("code").values("id", "code", "name", "path",
                                                                "level")]


def _child_of(focus: Focus, kind: str, path: str, grid_id: int | None) -> int | None:
    if kind == "grid":
        return grid_id or None
    if focus.region is None:
        for root in focus.roots:
            if path.startswith(root.path):
                return root.pk
        return None
    rest = path[len(focus.region.path):].split("/", 1)[0]
    return int(rest) if rest else None


def areas(*, scope: Scope, focus: Focus, now: dt.datetime | None = None) -> dict:
    """Per child of the focus (per grid below a community): open, red and
    yellow now, and reported in the window — joined to the map's GeoJSON by code."""
    now = now or timezone.now()
    kind, children = _children(scope, focus)
    stats = {c["id"]: {"open": 0, "overdue": 0, "near_due": 0, "reported": 0} for c in children}

    def add(key: str, path: str, grid_id: int | None, n: int) -> None:
        child = _child_of(focus, kind, path, grid_id)
        if child in stats:
            stats[child][key] += int(n or 0)

    first, today = _window(now)
    if kind == "region" and uses_rollups(scope):
        rows = (_tallies(DayTally, scope, focus).filter(day__gte=first, day__lte=today)
                .order_by().values("path").annotate(n=Sum("reported")))
        for r in rows:
            add("reported", r["path"], None, r["n"])
    else:
        rows = (naive.reported_between(incidents(scope, focus), first, today).order_by()
                .values("path", "grid_id").annotate(n=Count("id")))
        for r in rows:
            add("reported", r["path"], r["grid_id"], r["n"])
    by = ("path", "grid") if kind == "grid" else ("path",)
    for key, *counts in open_now(scope=scope, focus=focus, now=now, by=by):
        path, grid = key if kind == "grid" else (key[0], None)
        for name, n in zip(("open", "overdue", "near_due"), counts, strict=True):
            add(name, path, grid, n)
    return {"kind": kind,
            "items": [{"code": c["code"], "name": c["name"], **stats[c["id"]]}
                      for c in children]}


def points(*, scope: Scope, focus: Focus, now: dt.datetime | None = None,
           cap: int = POINTS_CAP) -> dict:
    """Open incidents with a place, the most urgent first (marked overdue,
    then by deadline), at most ``cap``."""
    now = now or timezone.now()
    live = incidents(scope, focus).filter(state__in=wf.OPEN_STATES, lng__isnull=False)
    rows = list(live.order_by("-overdue", "due_at", "id").values(
        "number", "lng", "lat", "state", "due_at", "warn_at", "overdue", "category__name")[:cap])
    states = dict(Incident._meta.get_field("state").choices)
    out = []
    for r in rows:
        light = light_of(is_open=True, due_at=r["due_at"], warn_at=r["warn_at"],
                         overdue=r["overdue"], now=now)
        out.append({"number": r["number"], "lng": round(r["lng"], 6), "lat": round(r["lat"], 6),
                    "state": str(states[r["state"]]), "light": light,
                    "category": r["category__name"] or ""})
    return {"shown": len(out), "capped": len(out) == cap, "items": out}


def intake_match(*, scope: Scope, focus: Focus, now: dt.datetime | None = None,
                 days: int = WINDOW_DAYS) -> dict:
    """How often the city's model's first suggestion was the category the
    operators confirmed (docs/intake.md, "The match rate"): of the incidents
    reported in the window that had a suggestion and whose category is final
    (registered or later; not rejected, not still waiting), how many ended in
    the suggested subclass. With the current model's own cross-validated
    figures beside it, for comparison."""
    first, today = _window(now, days)
    final = (naive.reported_between(incidents(scope, focus), first, today)
             .filter(suggested__isnull=False, category__isnull=False)
             .exclude(state__in=(wf.REPORTED, wf.REJECTED)))
    counts = final.aggregate(suggested=Count("id"),
                             matched=Count("id", filter=Q(category_id=F("suggested_id"))))
    suggested, matched = int(counts["suggested"] or 0), int(counts["matched"] or 0)
    return {"suggested": suggested, "matched": matched, "rate": _ratio(matched, suggested),
            "window": {"first": first.isoformat(), "last": today.isoformat()},
            "model": model_summary()}


def followups(*, scope: Scope, focus: Focus, now: dt.datetime | None = None) -> dict:
    """The follow-up visits (走访/随访) of the focus: open, overdue (red) and
    near due (yellow) now, counted live by the registry's one scoping rule."""
    return visit_counts(scope=scope, now=now, paths=focus.paths)
