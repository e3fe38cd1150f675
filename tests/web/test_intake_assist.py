"""The intake form's assistant (智能受理), through the page's own endpoints:
``/incidents/new/assist/`` answers the HTML fragment the form shows while a
call is typed (or, for the phone, ``incidents.assist``'s JSON), and
``/incidents/new/places/`` the address type-ahead. The category chips come
from a small model trained here on hand-written texts; duplicates, repeats
and places from the real services over the square territory. A report
merged into a possible duplicate in one step, the incident page's "address
not placed" flag and the timeline's record of what intake assistance saw
are checked on the pages. The east's operator sees nothing of the west."""

from __future__ import annotations

import re
from html import unescape

import pytest
import time_machine
from django.utils.translation import gettext, ngettext

from shanzhi.incidents import services
from shanzhi.incidents.models import Incident
from shanzhi.intake import textclass
from shanzhi.intake.gazetteer import import_features
from tests.incidents.conftest import WEST_POINT, at, report

from .pages import forms

ASSIST = "/incidents/new/assist/"
PLACES = "/incidents/new/places/"
INTAKE = "/incidents/new/"
NOW = at(2026, 12, 1, 10)

#: Hand-written calls of four subclasses, ten each: enough for the small
#: model to tell them apart (and for 5-fold cross-validation).
TRAINING = {
    "SJ0102": ["路边有暴露垃圾没人清理", "小区门口垃圾堆满了发臭", "垃圾桶旁边散落很多垃圾",
               "路口有一堆生活垃圾", "河边有人乱倒垃圾", "菜场门口垃圾成堆",
               "楼下垃圾好几天没人收", "绿化带里扔满了垃圾袋", "人行道上有暴露垃圾",
               "桥下堆放垃圾很臭"],
    "SJ0201": ["电线杆上贴满小广告", "楼道里到处是小广告", "墙上被人喷涂办证小广告",
               "公交站牌贴了很多小广告", "小区门口有人发小广告", "路灯杆上有非法小广告",
               "单元门上贴满开锁小广告", "地面被喷了小广告电话", "护栏上挂着小广告",
               "配电箱上贴着小广告"],
    "SJ0301": ["工地晚上施工噪音太吵", "夜里工地打桩扰民", "施工机器半夜还在响",
               "凌晨工地浇筑混凝土很吵", "隔壁工地噪音影响休息", "工地夜间施工不停",
               "深夜施工噪声扰民严重", "工地早上五点就开工很吵", "建筑工地夜里切割钢筋噪音",
               "夜间施工车辆进出很吵"],
    "BJ0104": ["路灯不亮了一片漆黑", "小区路灯坏了好几天", "路灯一直闪烁",
               "这条路的路灯全灭了", "路灯杆倒了很危险", "路灯白天还亮着",
               "桥上的路灯不亮", "路灯灯罩掉下来了", "晚上路灯没有开",
               "路口路灯损坏"],
}


def train_small_model() -> dict:
    """The city's incident model, trained on ``TRAINING`` (the report)."""
    texts = [t for rows in TRAINING.values() for t in rows]
    labels = [code for code, rows in TRAINING.items() for _ in rows]
    return textclass.train(texts, labels, model=textclass.DEFAULT_MODEL, source="test")


@pytest.fixture
def model(db):
    return train_small_model()


def line(*points):
    return {"type": "LineString", "coordinates": [list(p) for p in points]}


#: 西园路 west–east and 中心路 south–north cross at (120.005, 31.015), in west grid 001.
GAZETTEER = [
    {"type": "Feature", "geometry": line((120.001, 31.015), (120.019, 31.015)),
     "properties": {"name": "西园路"}},
    {"type": "Feature", "geometry": line((120.005, 31.001), (120.005, 31.019)),
     "properties": {"name": "中心路"}},
]


@pytest.fixture
def gazetteer(territory):
    import_features(GAZETTEER, source="test")


def t(msgid: str, **values) -> str:
    """The page's words in the page's language (English until translated)."""
    return gettext(msgid) % values if values else gettext(msgid)


def assist(client, user, expect: int = 200, json: bool = False, **fields) -> str | dict:
    """Post the form as typed so far; the fragment (or the JSON)."""
    client.force_login(user)
    headers = {"Accept": "application/json"} if json else {"Accept": "text/html"}
    response = client.post(ASSIST, fields, headers=headers)
    assert response.status_code == expect, response.content.decode()[:500]
    return response.json() if json else response.content.decode()


def part(html: str, name: str) -> str:
    """The text of one part of the fragment, tags dropped, spaces squeezed."""
    found = re.search(rf'<div data-assist-part="{name}"[^>]*>(.*?)\n</div>', html, re.S)
    assert found, f"no part {name}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def chips(html: str) -> list[tuple[str, int, bool]]:
    """(code, percent, chosen) of each category chip, in order."""
    return [(code, int(percent), pressed == "true") for code, pressed, percent in re.findall(
        r'data-assist-category="(\w+)" aria-pressed="(\w+)".*?<span class="chip-conf">(\d+)%',
        html, re.S)]


# ---------------------------------------------------------------- category chips

def test_the_chips_offer_the_three_likeliest_categories_best_first(client, cast, model):
    html = assist(client, cast.town_operator, description="楼下垃圾堆了好几天发臭了")
    found = chips(html)
    assert len(found) == 3
    assert found[0][0] == "SJ0102"
    percents = [p for _code, p, _chosen in found]
    assert percents == sorted(percents, reverse=True) and 0 < percents[0] <= 100
    assert not any(chosen for *_rest, chosen in found)
    assert "暴露垃圾" in part(html, "suggest")


def test_the_chosen_category_is_marked_among_the_chips(client, cast, model):
    html = assist(client, cast.town_operator, description="电线杆上又贴了小广告",
                  category="SJ0201")
    assert ("SJ0201", chips(html)[0][1], True) in chips(html)
    assert sum(chosen for *_rest, chosen in chips(html)) == 1


def test_the_model_says_how_good_it_is(client, cast, model):
    html = assist(client, cast.town_operator, description="路灯不亮了")
    text = part(html, "suggest")
    trained = model["trained_at"][:10]
    assert t("Cross-validated accuracy %(accuracy)s %%, version %(version)s, trained "
             "%(trained)s on %(rows)s incidents.", accuracy=round(model["accuracy"] * 100),
             version=model["version"], trained=trained, rows=40) in text


def test_without_a_model_there_are_no_chips_and_the_form_says_so(client, cast):
    html = assist(client, cast.town_operator, description="路边有暴露垃圾")
    assert chips(html) == []
    assert part(html, "suggest") == t(
        "No category model has been trained yet: choose the category yourself.")


def test_the_phone_gets_the_suggestions_as_json(client, cast, model):
    data = assist(client, cast.worker, json=True, description="工地半夜施工太吵了")
    assert data["suggestions"][0]["code"] == "SJ0301"
    assert set(data["suggestions"][0]) == {"code", "name", "class_name", "confidence"}
    assert data["model"]["version"] == model["version"]


def test_the_phone_page_asks_the_assistant(client, cast):
    client.force_login(cast.worker)
    html = client.get("/m/report/").content.decode()
    assert 'data-r="suggest"' in html
    assert '"assist": "/incidents/new/assist/"' in html


def test_a_handler_is_not_assisted(client, cast):
    assist(client, cast.handler, expect=403, description="路边有暴露垃圾")
    client.force_login(cast.handler)
    assert client.get(PLACES, {"q": "西园"}).status_code == 403


def test_the_assistant_only_answers_a_post(client, cast):
    client.force_login(cast.town_operator)
    assert client.get(ASSIST, {"description": "垃圾"}).status_code == 405


# ---------------------------------------------------------------- duplicates and repeats

def open_rubbish(cast, **fields) -> Incident:
    """An open 暴露垃圾 report at WEST_POINT (the grid worker's)."""
    return report(cast, **{"description": "路边有暴露垃圾没人清理", **fields})


def test_an_open_incident_nearby_is_offered_as_a_possible_duplicate(client, cast):
    earlier = open_rubbish(cast)
    html = assist(client, cast.town_operator, description="路边暴露垃圾没有人清理",
                  category="SJ0102", lng="120.0052", lat="31.0150")
    text = part(html, "duplicates")
    assert earlier.number in text
    assert t("%(m)s m away", m=19) in text  # 0.0002° of longitude at 31° N
    similar = re.search(r'<span class="dup-similarity">([^<]*)</span>', html).group(1)
    assert re.fullmatch(re.escape(t("text %(percent)s %% alike", percent=0)).replace("0", r"\d+"),
                        similar)
    assert f'name="duplicate_of" value="{earlier.number}"' in html
    assert t("Merge into %(number)s", number=earlier.number) in text


def test_the_top_suggestion_finds_duplicates_before_a_category_is_chosen(client, cast, model):
    earlier = open_rubbish(cast)
    html = assist(client, cast.town_operator, description="路边有暴露垃圾没人清理发臭",
                  **{k: str(v) for k, v in WEST_POINT.items()})
    assert chips(html)[0][0] == "SJ0102"
    assert earlier.number in part(html, "duplicates")


def test_another_category_or_a_far_point_is_no_duplicate(client, cast):
    open_rubbish(cast)
    other = assist(client, cast.town_operator, description="路边有暴露垃圾没人清理",
                   category="SJ0201", **{k: str(v) for k, v in WEST_POINT.items()})
    far = assist(client, cast.town_operator, description="路边有暴露垃圾没人清理",
                 category="SJ0102", lng="120.0150", lat="31.0150")  # 950 m east
    assert part(other, "duplicates") == "" and part(far, "duplicates") == ""


def test_an_incident_older_than_the_window_is_no_duplicate(client, cast):
    with time_machine.travel(at(2026, 11, 1, 9), tick=False):
        open_rubbish(cast)
    with time_machine.travel(at(2026, 11, 8, 10), tick=False):  # 7 days and 1 hour later
        html = assist(client, cast.town_operator, description="路边有暴露垃圾没人清理",
                      category="SJ0102", **{k: str(v) for k, v in WEST_POINT.items()})
    assert part(html, "duplicates") == ""


def test_the_east_operator_is_offered_nothing_of_the_west(client, cast):
    open_rubbish(cast, contact_phone="13812345678")
    html = assist(client, cast.east_operator, description="路边有暴露垃圾没人清理",
                  category="SJ0102", contact_phone="13812345678",
                  **{k: str(v) for k, v in WEST_POINT.items()})
    assert part(html, "duplicates") == "" and part(html, "repeats") == ""


def test_a_half_typed_point_does_not_silence_the_other_hints(client, cast):
    earlier = open_rubbish(cast, contact_phone="13812345678")
    html = assist(client, cast.town_operator, description="路边有暴露垃圾",
                  category="SJ0102", lng="120.", lat="", contact_phone="138 1234 5678")
    assert part(html, "duplicates") == ""  # no point yet: nothing to compare
    assert earlier.number in part(html, "repeats")


def test_the_same_caller_within_30_days_is_flagged_as_a_repeat(client, cast):
    with time_machine.travel(at(2026, 11, 5, 9), tick=False):
        earlier = open_rubbish(cast, contact_phone="13812345678")
    with time_machine.travel(NOW, tick=False):
        html = assist(client, cast.town_operator, description="又来反映垃圾的问题",
                      contact_phone="+86 138-1234-5678")
    text = part(html, "repeats")
    assert text.startswith(ngettext(
        "Repeat caller: one earlier report in the last %(days)s days",
        "Repeat caller: %(n)s earlier reports in the last %(days)s days", 1) % {"days": 30, "n": 1})
    assert earlier.number in text


def test_a_call_after_30_days_is_no_repeat(client, cast):
    with time_machine.travel(at(2026, 10, 31, 9), tick=False):
        open_rubbish(cast, contact_phone="13812345678")
    with time_machine.travel(NOW, tick=False):
        html = assist(client, cast.town_operator, description="又来反映垃圾的问题",
                      contact_phone="13812345678")
    assert part(html, "repeats") == ""


# ---------------------------------------------------------------- merge in one step

def intake_form(client, user) -> dict:
    client.force_login(user)
    return forms(client.get(INTAKE).content.decode())["intake-form"].values


def test_merging_into_a_possible_duplicate_registers_and_merges_in_one_step(client, cast):
    earlier = open_rubbish(cast)
    key = intake_form(client, cast.town_operator)["idempotency_key"]
    data = {"idempotency_key": key, "channel": "hotline_12345", "category": "SJ0102",
            "urgency": "normal", "locate": "point", "lng": "120.0052", "lat": "31.015",
            "description": "市民来电：路边暴露垃圾没人清理", "duplicate_of": earlier.number}
    response = client.post(INTAKE, data)
    assert response.status_code == 302
    assert response.url == f"/incidents/{earlier.number}/"
    new = Incident.objects.exclude(pk=earlier.pk).get()
    assert new.merged_into_id == earlier.pk and new.state == "rejected"
    page = client.get(response.url).content.decode()
    assert t("Incident %(number)s registered and merged into %(original)s as its duplicate.",
             number=new.number, original=earlier.number) in unescape(page)
    again = client.post(INTAKE, data)  # a double submit stays one incident
    assert again.status_code == 302 and Incident.objects.count() == 2


def test_a_merge_into_an_incident_out_of_reach_is_refused_and_shown(client, cast):
    earlier = open_rubbish(cast)
    key = intake_form(client, cast.east_operator)["idempotency_key"]
    response = client.post(INTAKE, {
        "idempotency_key": key, "channel": "hotline_12345", "category": "SJ0102",
        "urgency": "normal", "locate": "point", "lng": "120.035", "lat": "31.005",
        "description": "东边的暴露垃圾", "duplicate_of": earlier.number})
    assert response.status_code in (400, 404)
    assert 'class="outcome outcome-error intake-error"' in response.content.decode()
    assert Incident.objects.count() == 1


# ---------------------------------------------------------------- address to place

def test_a_crossing_is_placed_in_its_grid(client, cast, gazetteer):
    html = assist(client, cast.town_operator, description="路口井盖缺失", locate="address",
                  address="西园路与中心路路口")
    assert 'data-place-confident="true"' in html
    assert 'data-place-lng="120.005000" data-place-lat="31.015000"' in html
    assert t("Located in grid %(grid)s.", grid="西第1网格") in part(html, "place")


def test_a_road_alone_is_not_placed_and_will_be_flagged(client, cast, gazetteer):
    html = assist(client, cast.town_operator, description="路面破损", locate="address",
                  address="西园路")
    text = part(html, "place")
    assert 'data-place-confident="false"' in html
    assert "西园路" in text
    assert t("Not certain enough: a report by this address will be flagged for the operator "
             "to place.") in text


def test_an_unknown_address_will_be_flagged(client, cast, gazetteer):
    html = assist(client, cast.town_operator, description="路面破损", locate="address",
                  address="火星基地")
    assert part(html, "place") == t(
        "This address is not known: a report by it will be flagged for the operator to place.")


def test_the_type_ahead_offers_known_names(client, cast, gazetteer):
    client.force_login(cast.town_operator)
    answer = client.get(PLACES, {"q": "西园"}).json()
    assert answer["items"][0]["label"].startswith("西园路")  # with its district
    assert answer["items"][0]["kind"] == "road"
    assert answer["items"][0]["kind_label"] == t("Road")
    assert client.get(PLACES, {"q": " "}).json()["items"] == []


def test_the_form_has_the_slots_and_the_type_ahead(client, cast):
    client.force_login(cast.town_operator)
    html = client.get(INTAKE).content.decode()
    for slot in ("suggest", "duplicates", "place", "repeats"):
        assert f'data-assist-slot="{slot}"' in html
    assert 'list="i-address-options"' in html and '<datalist id="i-address-options">' in html
    assert 'data-assist-url="/incidents/new/assist/"' in html


# ---------------------------------------------------------------- the incident page

def address_report(cast, address: str) -> Incident:
    incident, _created = services.incident_report(
        actor=cast.town_operator, channel="hotline_12345", description="路面破损",
        category="SJ0303", address=address, region="320505001001")
    return incident


def incident_page(client, user, incident) -> str:
    client.force_login(user)
    response = client.get(f"/incidents/{incident.number}/")
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_an_address_not_placed_is_flagged_with_the_best_guess(client, cast, gazetteer):
    incident = address_report(cast, "西园路")
    assert incident.lng is None
    html = incident_page(client, cast.town_operator, incident)
    flag = t("Address not placed")
    assert f'<span class="chip chip-unplaced" data-unplaced>{flag}</span>' in html
    assert t("Not placed: the best guess is %(label)s (confidence %(percent)s %%). Check the "
             "place and set it.", label="西园路", percent=30) in html
    assert (f"<dt>{t('Address not placed')}</dt><dd>"  # the timeline
            + t("best guess %(label)s (confidence %(percent)s %%); place it by hand",
                label="西园路", percent=30)) in html


def test_a_confidently_placed_address_is_not_flagged(client, cast, gazetteer):
    incident = address_report(cast, "西园路和中心路交叉口")
    assert (incident.lng, incident.lat) == pytest.approx((120.005, 31.015))
    html = incident_page(client, cast.town_operator, incident)
    assert "data-unplaced" not in html
    assert f"<dt>{t('Placed by address')}</dt>" in html


def test_the_timeline_names_the_suggestions_and_whether_they_were_followed(
        client, cast, model):
    incident, _created = services.incident_report(
        actor=cast.town_operator, channel="hotline_12345", description="小区门口垃圾堆满了",
        category="SJ0201", **WEST_POINT)
    html = incident_page(client, cast.town_operator, incident)
    found = re.search(rf"<dt>{t('Suggested categories')}</dt><dd>([^<]*)</dd>", html)
    assert found and found.group(1).startswith("暴露垃圾 ")
    assert f"（incidents v{model['version']}）" in found.group(1)
    assert f"<dt>{t('Suggestion')}</dt><dd>{t('not followed')}</dd>" in html


def test_the_timeline_names_a_repeat_call(client, cast):
    first = open_rubbish(cast, contact_phone="13812345678")
    second = open_rubbish(cast, contact_phone="138-1234-5678", description="又是垃圾")
    html = incident_page(client, cast.town_operator, second)
    assert f"<dt>{t('Repeat call of')}</dt><dd>{first.number}</dd>" in html


# ---------------------------------------------------------------- the command centre

def test_the_command_centre_has_the_match_rate_tile(client, cast):
    client.force_login(cast.admin)
    html = client.get("/command/").content.decode()
    assert '<div class="kpi kpi-intake" data-intake-tile' in html
    assert '"intakeCounts": ' in html and "%(matched)s" in html and "%(suggested)s" in html
