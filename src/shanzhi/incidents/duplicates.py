"""Possible duplicates and repeats at intake (重复件): the open incidents of
the same category near the new report in space and time with similar text,
and the same caller's earlier reports. docs/intake.md.

The rule is in two halves. The pure half (no ORM: ``distance_m``, ``box``,
``similarity``, ``rank``) says what "near" and "similar" mean and how the
candidates are ordered; ``benchmarks/duplicates.py`` runs the same functions
over the NYC 311 records. The database half asks one query for the open
incidents of the category reported in the window inside the lng/lat box
around the point (the partial index ``incident_open_category`` serves it),
then keeps those within the radius by great-circle distance."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from . import workflow as wf
from .case import visible
from .models import Incident

#: The mean radius of the earth (IUGG), in metres.
EARTH_RADIUS_M = 6_371_008.8
#: At most this many rows of the box are read (the newest first): a bound on
#: the work of one check however dense a corner of the city gets.
MAX_CANDIDATES = 200
#: Weights of the ranking: text similarity and nearness (1 at the point, 0 at the radius).
SIMILARITY_WEIGHT = 0.6
NEARNESS_WEIGHT = 0.4

T = TypeVar("T")


@dataclass(frozen=True)
class Duplicate:
    incident: Incident
    distance_m: float
    similarity: float  # 0..1 text similarity of the descriptions


# ---------------------------------------------------------------- the pure rule

def distance_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS-84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lng2 - lng1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def box(lng: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lng, min_lat, max_lng, max_lat) of a box holding every point within
    ``radius_m`` of the point: a little wider than the circle, never narrower
    (the longitude span is taken at the box's edge nearer the pole)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.001
    far_lat = min(89.9, abs(lat) + dlat)
    dlng = min(180.0, dlat / max(math.cos(math.radians(far_lat)), 1e-9))
    return lng - dlng, lat - dlat, lng + dlng, lat + dlat


_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_text(text: str) -> str:
    """The text as compared: NFKC (full-width forms to ASCII), lower case,
    without spaces and punctuation."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text or "").lower())


def bigrams(text: str) -> Counter[str]:
    """The character bigrams of the normalised text (a one-character text: itself)."""
    norm = normalize_text(text)
    if len(norm) < 2:
        return Counter([norm] if norm else [])
    return Counter(norm[i:i + 2] for i in range(len(norm) - 1))


def cosine(a: Counter[str], b: Counter[str]) -> float:
    """Cosine of two bag-of-bigram vectors, 0..1 (0 when either is empty)."""
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(n * b[g] for g, n in a.items() if g in b)
    if not dot:
        return 0.0
    norms = math.sqrt(sum(n * n for n in a.values())) * math.sqrt(sum(n * n for n in b.values()))
    return min(1.0, dot / norms)


def similarity(a: str, b: str) -> float:
    """Text similarity 0..1 of two descriptions: the cosine of their character
    bigrams (word order and a few extra words matter little; no segmentation,
    so it works the same for Chinese and for English)."""
    return cosine(bigrams(a), bigrams(b))


def score(distance: float, sim: float, radius_m: float) -> float:
    """How likely a candidate is the same case: similarity and nearness, 0..1."""
    nearness = max(0.0, 1.0 - distance / radius_m) if radius_m > 0 else 1.0
    return SIMILARITY_WEIGHT * sim + NEARNESS_WEIGHT * nearness


def rank(*, lng: float, lat: float, text: str, candidates: Iterable[tuple[T, float, float, str]],
         radius_m: float, limit: int | None = None) -> list[tuple[T, float, float]]:
    """The candidates ``(item, lng, lat, text)`` within ``radius_m`` of the
    point, as ``(item, distance_m, similarity)``, most likely first (by
    ``score``; ties: nearer first, then the order given, which is newest first)."""
    mine = bigrams(text)
    kept = []
    for order, (item, c_lng, c_lat, c_text) in enumerate(candidates):
        d = distance_m(lng, lat, c_lng, c_lat)
        if d > radius_m:
            continue
        sim = cosine(mine, bigrams(c_text))
        kept.append((-score(d, sim, radius_m), d, order, item, sim))
    kept.sort(key=lambda row: row[:3])
    found = [(item, d, sim) for _s, d, _o, item, sim in kept]
    return found if limit is None else found[:limit]


_NON_DIGIT = re.compile(r"\D+")


def normalize_phone(text: str) -> str:
    """A phone number as stored and compared: digits only, the country code
    (+86, 0086, or 86 before a mobile number) removed, a landline's leading 0
    put back when the international form dropped it ("+86 512 6522 1234" →
    "051265221234"). "" when there is no digit."""
    s = unicodedata.normalize("NFKC", text or "").strip()
    plus = s.startswith("+")
    digits = _NON_DIGIT.sub("", s)
    international = False
    if plus and digits.startswith("86"):
        digits, international = digits[2:], True
    elif digits.startswith("0086"):
        digits, international = digits[4:], True
    elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        digits, international = digits[2:], True
    if international and digits and not digits.startswith(("0", "1")):
        digits = "0" + digits
    return digits


def phone_forms(text: str) -> list[str]:
    """The forms a phone may have been stored in by rows older than the
    normalisation at intake: the normalised number, the raw text, and the
    usual ways of writing a mobile (138-0013-8000, 138 0013 8000, each with
    or without +86/0086/86 before it) or a landline (0512-65221234)."""
    number = normalize_phone(text)
    if not number:
        return []
    forms = {number, (text or "").strip()}
    if len(number) == 11 and number.startswith("1"):
        bodies = (number, f"{number[:3]}-{number[3:7]}-{number[7:]}",
                  f"{number[:3]} {number[3:7]} {number[7:]}")
        forms |= {prefix + body for prefix in ("", "+86", "+86 ", "+86-", "0086", "86")
                  for body in bodies}
    elif number.startswith("0") and len(number) >= 10:
        area = 3 if number[1] in "12" else 4  # 010, 02x; else 0xxx
        forms |= {f"{number[:area]}-{number[area:]}", f"{number[:area]} {number[area:]}"}
    return sorted(f for f in forms if f)


# ---------------------------------------------------------------- the queries

def candidates_query(*, category: str, lng: float, lat: float, now=None, scope=None,
                     radius_m: float, days: float | None = None,
                     exclude: int | None = None) -> QuerySet[Incident]:
    """The one query of ``possible_duplicates``: the open, unmerged incidents
    of the category reported in (now - days, now] inside the lng/lat box of
    the radius, in the scope, the newest ``MAX_CANDIDATES``."""
    window = float(settings.INTAKE_DUPLICATE_DAYS if days is None else days)
    now = now or timezone.now()
    min_lng, min_lat, max_lng, max_lat = box(lng, lat, radius_m)
    qs = Incident.objects.all() if scope is None else visible(scope)
    qs = qs.filter(category__code=category, state__in=sorted(wf.OPEN_STATES),
                   merged_into__isnull=True,
                   reported_at__gt=now - dt.timedelta(days=window), reported_at__lte=now,
                   lng__gte=min_lng, lng__lte=max_lng, lat__gte=min_lat, lat__lte=max_lat)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.select_related("category").order_by("-reported_at", "-pk")[:MAX_CANDIDATES]


def possible_duplicates(*, category: str | None, lng: float | None, lat: float | None,
                        text: str, now=None, scope=None, radius_m: float | None = None,
                        days: float | None = None, exclude: int | None = None,
                        limit: int = 5) -> list[Duplicate]:
    """Open incidents of ``category`` (a subclass code) within ``radius_m``
    (default settings.INTAKE_DUPLICATE_RADIUS_M) of the point, reported in the
    last ``days`` (INTAKE_DUPLICATE_DAYS) before ``now``, in ``scope`` (an
    ``accounts.scope.Scope``; None = the city), most likely first; [] without
    a category or a point."""
    if not category or lng is None or lat is None or limit <= 0:
        return []
    lng, lat = float(lng), float(lat)
    radius = float(settings.INTAKE_DUPLICATE_RADIUS_M if radius_m is None else radius_m)
    qs = candidates_query(category=category, lng=lng, lat=lat, now=now, scope=scope,
                          radius_m=radius, days=days, exclude=exclude)
    rows = list(qs)
    ranked = rank(lng=lng, lat=lat, text=text, radius_m=radius, limit=limit,
                  candidates=((row, row.lng, row.lat, row.description) for row in rows))
    return [Duplicate(incident, round(d, 1), round(sim, 3)) for incident, d, sim in ranked]


def repeats(*, phone: str, now=None, days: float | None = None, scope=None,
            exclude: int | None = None, limit: int = 5) -> list[Incident]:
    """The same caller's reports (by phone number, normalised) in the last
    ``days`` (INTAKE_REPEAT_DAYS), newest first."""
    forms = phone_forms(phone)
    if not forms or limit <= 0:
        return []
    window = float(settings.INTAKE_REPEAT_DAYS if days is None else days)
    now = now or timezone.now()
    qs = Incident.objects.all() if scope is None else visible(scope)
    qs = qs.filter(contact_phone__in=forms, reported_at__gt=now - dt.timedelta(days=window),
                   reported_at__lte=now)
    # the partial index's own condition, written out: SQLite uses a partial index only
    # for a query that repeats its WHERE (without it: the 30 days by reported_at, scanned)
    qs = qs.exclude(contact_phone="")
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return list(qs.select_related("category").order_by("-reported_at", "-pk")[:limit])
