"""Possible duplicates and repeats at intake (incidents.duplicates): the rule
(distance, time, category, text), the scope, the caller's repeats and the
phone forms, on incidents reported through the real service at injected times."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shanzhi.accounts.scope import Scope
from shanzhi.incidents import duplicates as dup
from shanzhi.incidents.duplicates import (
    box,
    distance_m,
    normalize_phone,
    possible_duplicates,
    repeats,
    similarity,
)
from shanzhi.incidents.models import Incident

from .conftest import WEST_POINT, at, drive, report

NOW = at(2026, 9, 14, 10)
LNG, LAT = WEST_POINT["lng"], WEST_POINT["lat"]
#: Metres per degree of latitude on the mean sphere.
M_PER_DEG = math.radians(1) * dup.EARTH_RADIUS_M
GARBAGE = "人民路口有暴露垃圾，堆了好几天"


def north(metres: float) -> dict:
    return {"lng": LNG, "lat": LAT + metres / M_PER_DEG}


def north_east(metres: float) -> dict:
    """A point ``metres`` away at 45°: inside the lng/lat box of the same radius
    even a little beyond the circle, so only the distance can leave it out."""
    step = metres / math.sqrt(2) / M_PER_DEG
    return {"lng": LNG + step / math.cos(math.radians(LAT)), "lat": LAT + step}


def earlier(cast, *, ago: dt.timedelta = dt.timedelta(hours=1), **fields) -> Incident:
    """A report made ``ago`` before NOW, at WEST_POINT unless told, of 暴露垃圾 (SJ0102)."""
    return report(cast, now=NOW - ago, **{"description": GARBAGE, **fields})


def check(**kw) -> list[dup.Duplicate]:
    fields = {"category": "SJ0102", "lng": LNG, "lat": LAT, "text": "人民路口暴露垃圾",
              "now": NOW, **kw}
    return possible_duplicates(**fields)


def numbers(found) -> list[str]:
    return [d.incident.number for d in found]


# ---------------------------------------------------------------- distance

def test_it_shows_an_open_incident_of_the_category_just_inside_the_radius(cast):
    near = earlier(cast, **north(245))
    (found,) = check()
    assert found.incident == near
    assert found.distance_m == pytest.approx(245, abs=0.5)
    assert 0 < found.similarity <= 1


def test_it_leaves_out_one_just_outside_the_radius(cast):
    earlier(cast, **north(255))
    assert check() == []


def test_it_measures_the_circle_not_the_box_around_it(cast):
    inside, outside = earlier(cast, **north_east(240)), earlier(cast, **north_east(260))
    lng, lat = north_east(260)["lng"], north_east(260)["lat"]
    min_lng, min_lat, max_lng, max_lat = box(LNG, LAT, 250)
    assert min_lng <= lng <= max_lng and min_lat <= lat <= max_lat  # the query reads it
    assert numbers(check()) == [inside.number]
    assert outside.number in numbers(check(radius_m=300))


def test_the_radius_comes_from_the_settings(cast, settings):
    earlier(cast, **north(400))
    assert check() == []
    settings.INTAKE_DUPLICATE_RADIUS_M = 500
    assert len(check()) == 1


# ---------------------------------------------------------------- time

def test_it_shows_a_report_of_six_point_nine_days_ago_not_one_of_seven_point_one(cast):
    recent = earlier(cast, ago=dt.timedelta(days=6.9))
    earlier(cast, ago=dt.timedelta(days=7.1))
    assert numbers(check()) == [recent.number]


def test_the_window_is_open_at_its_start_and_closed_at_now(cast):
    at_start = earlier(cast, ago=dt.timedelta(days=7))
    at_now = earlier(cast, ago=dt.timedelta(0))
    assert numbers(check()) == [at_now.number]
    assert at_start.number in numbers(check(days=7.01))


def test_a_report_after_now_is_not_a_candidate(cast):
    earlier(cast, ago=dt.timedelta(hours=1))
    assert check(now=NOW - dt.timedelta(hours=2)) == []


def test_the_window_comes_from_the_settings(cast, settings):
    earlier(cast, ago=dt.timedelta(days=10))
    assert check() == []
    settings.INTAKE_DUPLICATE_DAYS = 14
    assert len(check()) == 1


# ---------------------------------------------------------------- category and state

def test_another_category_is_not_a_duplicate(cast):
    earlier(cast, category="SJ0101")
    assert check() == []


def test_without_a_category_or_a_point_there_is_nothing_to_compare(cast):
    earlier(cast)
    assert check(category=None) == []
    assert check(lng=None) == []
    assert check(lat=None) == []


@pytest.mark.parametrize("state", ["registered", "dispatched", "in_progress", "handled"])
def test_every_open_state_is_a_candidate(cast, state):
    incident = drive(cast, earlier(cast), state)
    assert numbers(check()) == [incident.number]


@pytest.mark.parametrize("state", ["closed", "rejected"])
def test_a_closed_or_rejected_incident_is_not_a_candidate(cast, state):
    drive(cast, earlier(cast), state)
    assert check() == []


def test_a_merged_duplicate_is_not_a_candidate_but_its_original_is(cast):
    from shanzhi.incidents.services import incident_merge

    original = earlier(cast, ago=dt.timedelta(hours=2))
    copy = earlier(cast, ago=dt.timedelta(hours=1))
    incident_merge(actor=cast.town_operator, incident=copy, original=original.number)
    assert numbers(check()) == [original.number]


def test_the_incident_itself_can_be_left_out(cast):
    incident = earlier(cast)
    assert check(exclude=incident.pk) == []


# ---------------------------------------------------------------- text and ranking

def test_the_more_similar_text_comes_first_at_the_same_distance(cast):
    other = earlier(cast, description="绿化带旁边有建筑垃圾", ago=dt.timedelta(hours=1))
    same = earlier(cast, description="人民路口有暴露垃圾", ago=dt.timedelta(hours=2))
    found = check(text="人民路口有暴露垃圾没人清理")
    assert numbers(found) == [same.number, other.number]
    assert found[0].similarity > found[1].similarity


def test_similar_text_a_little_farther_beats_other_text_right_here(cast):
    here = earlier(cast, description="小区门口花坛里有废纸")
    farther = earlier(cast, description="人民路口有暴露垃圾", **north(120))
    assert numbers(check(text="人民路口有暴露垃圾")) == [farther.number, here.number]


def test_at_the_same_text_the_nearer_comes_first(cast):
    far = earlier(cast, **north(200))
    near = earlier(cast, **north(20))
    assert numbers(check()) == [near.number, far.number]


def test_it_shows_at_most_limit_candidates(cast):
    for minutes in range(1, 5):
        earlier(cast, ago=dt.timedelta(minutes=minutes))
    assert len(check(limit=3)) == 3
    assert len(check()) == 4


def test_it_asks_the_database_once(cast, django_assert_num_queries):
    earlier(cast)
    scope = Scope.for_user(cast.west_operator)
    with django_assert_num_queries(1):
        found = check(scope=scope)
        assert found[0].incident.category.code == "SJ0102"  # no query more for the category


# ---------------------------------------------------------------- the scope

def test_an_operator_out_of_the_territory_gets_nothing(cast):
    earlier(cast)
    assert check(scope=Scope.for_user(cast.east_operator)) == []
    assert check(scope=Scope.for_user(cast.nobody)) == []
    assert len(check(scope=Scope.for_user(cast.west_operator))) == 1


def test_a_grid_worker_sees_only_the_candidates_of_their_own_grids(cast):
    earlier(cast)  # in grid 001, the worker's
    assert len(check(scope=Scope.for_user(cast.worker))) == 1
    assert check(scope=Scope.for_user(cast.neighbour_worker)) == []


# ---------------------------------------------------------------- repeats

PHONE = "13800138000"


def test_the_same_caller_within_thirty_days_is_a_repeat(cast):
    old = earlier(cast, ago=dt.timedelta(days=29.9), contact_phone=PHONE)
    new = earlier(cast, ago=dt.timedelta(days=1), contact_phone=PHONE)
    earlier(cast, ago=dt.timedelta(days=30.1), contact_phone=PHONE)
    earlier(cast, ago=dt.timedelta(days=1), contact_phone="13900139000")
    assert repeats(phone=PHONE, now=NOW) == [new, old]


def test_a_repeat_counts_in_any_state(cast):
    closed = drive(cast, earlier(cast, contact_phone=PHONE), "closed")
    assert repeats(phone=PHONE, now=NOW) == [closed]


def test_the_repeat_window_comes_from_the_settings_or_the_call(cast, settings):
    earlier(cast, ago=dt.timedelta(days=40), contact_phone=PHONE)
    assert repeats(phone=PHONE, now=NOW) == []
    assert len(repeats(phone=PHONE, now=NOW, days=45)) == 1
    settings.INTAKE_REPEAT_DAYS = 60
    assert len(repeats(phone=PHONE, now=NOW)) == 1


@pytest.mark.parametrize("typed", ["+86 138-0013-8000", "0086 13800138000", "8613800138000",
                                   "138 0013 8000", "１３８００１３８０００"])
def test_a_repeat_is_found_whichever_way_the_phone_is_typed(cast, typed):
    incident = earlier(cast, contact_phone=PHONE)
    assert repeats(phone=typed, now=NOW) == [incident]


@pytest.mark.parametrize("stored", ["+86 138-0013-8000", "138-0013-8000", "+8613800138000"])
def test_older_rows_holding_the_raw_phone_are_found_too(cast, stored):
    incident = earlier(cast)
    # as rows were stored before intake normalised the phone
    Incident.objects.filter(pk=incident.pk).update(contact_phone=stored)
    assert repeats(phone="13800138000", now=NOW) == [incident]


def test_repeats_leave_out_the_incident_itself_and_respect_the_scope(cast):
    incident = earlier(cast, contact_phone=PHONE)
    assert repeats(phone=PHONE, now=NOW, exclude=incident.pk) == []
    assert repeats(phone=PHONE, now=NOW, scope=Scope.for_user(cast.east_operator)) == []
    assert repeats(phone=PHONE, now=NOW, scope=Scope.for_user(cast.west_operator)) == [incident]


def test_no_phone_means_no_repeats(cast):
    earlier(cast)  # no contact phone
    assert repeats(phone="", now=NOW) == []
    assert repeats(phone="无", now=NOW) == []


# ---------------------------------------------------------------- phone numbers

@pytest.mark.parametrize(("typed", "stored"), [
    ("13800138000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("+86-138-0013-8000", "13800138000"),
    ("0086 138 0013 8000", "13800138000"),
    ("86 13800138000", "13800138000"),
    ("(0512) 6522-1234", "051265221234"),
    ("+86 512 6522 1234", "051265221234"),
    ("0086-512-65221234", "051265221234"),
    ("12345", "12345"),
    ("８６１３８００１３８０００", "13800138000"),
    ("手机：138 0013 8000", "13800138000"),
    ("", ""),
    ("无", ""),
])
def test_normalize_phone(typed, stored):
    assert normalize_phone(typed) == stored


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
separators = st.lists(st.sampled_from([" ", "-", ".", "(", ")", "\u3000", "－"]), max_size=11)


@given(mobiles, separators, st.sampled_from(["", "+86", "+86 ", "0086", "86", "+86-"]))
def test_a_mobile_number_normalises_the_same_whatever_the_prefix_and_separators(
        number, seps, prefix):
    typed = list(number)
    for i, sep in enumerate(seps):
        typed.insert(1 + (i * 3) % len(typed), sep)
    assert normalize_phone(prefix + "".join(typed)) == number


@given(st.text(max_size=40))
def test_normalize_phone_is_idempotent_and_digits_only(text):
    once = normalize_phone(text)
    assert once == normalize_phone(once)
    assert once == "" or (once.isascii() and once.isdigit())


# ---------------------------------------------------------------- the pure rule

def test_distance_of_known_points():
    assert distance_m(120.0, 31.0, 120.0, 32.0) == pytest.approx(M_PER_DEG, rel=1e-9)
    assert distance_m(120.0, 0.0, 121.0, 0.0) == pytest.approx(M_PER_DEG, rel=1e-9)
    # 1° of longitude at 60° N is half a degree of the equator
    assert distance_m(10.0, 60.0, 11.0, 60.0) == pytest.approx(M_PER_DEG / 2, rel=2e-3)
    assert distance_m(120.6, 31.3, 120.6, 31.3) == 0


@given(st.floats(-179, 179), st.floats(-80, 80), st.floats(1, 5000),
       st.floats(0, 2 * math.pi), st.floats(0, 1))
def test_the_box_holds_every_point_of_the_circle(lng, lat, radius, bearing, fraction):
    d = radius * fraction / dup.EARTH_RADIUS_M  # angular distance along the bearing
    phi1, lmb1 = math.radians(lat), math.radians(lng)
    phi2 = math.asin(math.sin(phi1) * math.cos(d)
                     + math.cos(phi1) * math.sin(d) * math.cos(bearing))
    lmb2 = lmb1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(phi1),
                             math.cos(d) - math.sin(phi1) * math.sin(phi2))
    p_lng, p_lat = math.degrees(lmb2), math.degrees(phi2)
    assert distance_m(lng, lat, p_lng, p_lat) <= radius * 1.000001
    min_lng, min_lat, max_lng, max_lat = box(lng, lat, radius)
    assert min_lng <= p_lng <= max_lng
    assert min_lat <= p_lat <= max_lat


def test_similarity_of_texts():
    assert similarity("人民路口有暴露垃圾", "人民路口有暴露垃圾") == pytest.approx(1)
    assert similarity("人民路口有暴露垃圾", "  人民路口，有暴露垃圾！") == pytest.approx(1)
    assert similarity("ＡＢＣ路灯不亮", "abc路灯不亮") == pytest.approx(1)  # full width
    assert similarity("人民路口有暴露垃圾", "井盖丢失") == 0
    assert similarity("", "井盖丢失") == 0
    near = similarity("人民路口有暴露垃圾", "人民路口暴露垃圾没人管")
    far = similarity("人民路口有暴露垃圾", "人民路上路灯不亮")
    assert 1 > near > far > 0


@given(st.text(max_size=30), st.text(max_size=30))
def test_similarity_is_symmetric_and_between_zero_and_one(a, b):
    s = similarity(a, b)
    assert 0 <= s <= 1
    assert s == pytest.approx(similarity(b, a))


def test_rank_keeps_the_circle_and_orders_by_likelihood():
    candidates = [("far-same", LNG, LAT + 200 / M_PER_DEG, "井盖丢失"),
                  ("near-other", LNG, LAT + 10 / M_PER_DEG, "路灯不亮"),
                  ("near-same", LNG, LAT + 10 / M_PER_DEG, "井盖丢失了"),
                  ("outside", LNG, LAT + 300 / M_PER_DEG, "井盖丢失")]
    ranked = dup.rank(lng=LNG, lat=LAT, text="井盖丢失", candidates=candidates, radius_m=250)
    assert [item for item, _d, _s in ranked] == ["near-same", "far-same", "near-other"]
    assert dup.rank(lng=LNG, lat=LAT, text="井盖丢失", candidates=candidates, radius_m=250,
                    limit=1)[0][0] == "near-same"
