"""The command centre's match rate of the category suggestions
(``analytics.selectors.intake_match`` and the summary's ``intake``): of the
incidents reported in the window that had a suggestion and whose category is
final, the share that ended in the suggested subclass — scoped, windowed,
with the model's own figures beside it."""

from __future__ import annotations

import datetime as dt

import pytest

from shanzhi.accounts.scope import Scope
from shanzhi.analytics import selectors
from shanzhi.incidents import services
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import EAST_POINT, WEST_POINT, at
from tests.incidents.test_assist import train_model

desk = incident_fixtures.desk
cast = incident_fixtures.cast
_fresh_calendar = incident_fixtures._fresh_calendar

NOW = at(2026, 11, 20, 18)
GARBAGE = "小区门口垃圾成堆发臭"   # the model suggests 暴露垃圾 (SJ0102) first


@pytest.fixture
def model(db):
    return train_model()


def call(actor, *, days_ago: float = 0, point=WEST_POINT, description=GARBAGE, **fields):
    when = NOW - dt.timedelta(days=days_ago, hours=1)
    incident, _created = services.incident_report(
        actor=actor, channel="hotline_12345", description=description, now=when, **point,
        **fields)
    return incident


def accept(actor, incident, category: str | None = None):
    return services.incident_accept(actor=actor, incident=incident, category=category,
                                    now=incident.reported_at + dt.timedelta(minutes=10))


def match(user, now=NOW, **kw) -> dict:
    scope = Scope.for_user(user)
    return selectors.intake_match(scope=scope, focus=selectors.focus_for(scope=scope), now=now,
                                  **kw)


@pytest.fixture
def history(cast, model):
    """West: two accepted as suggested, one changed by the operator, one still
    waiting, one rejected, one accepted without a suggestion (the model came
    later), one reported 31 days ago. East: one accepted as suggested."""
    op = cast.town_operator
    accept(op, call(op, days_ago=1), "SJ0102")
    accept(op, call(op, days_ago=2, category="SJ0102"))
    accept(op, call(op, days_ago=3), "SJ0303")
    call(op, days_ago=4)
    services.incident_reject(actor=op, incident=call(op, days_ago=5), reason="无效",
                             now=NOW - dt.timedelta(days=5))
    unsuggested = call(op, days_ago=6, description="路面坑洞", category="SJ0303")
    unsuggested.__class__.objects.filter(pk=unsuggested.pk).update(suggested=None,
                                                                   suggested_confidence=None)
    accept(op, unsuggested)
    accept(op, call(op, days_ago=31), "SJ0102")
    accept(cast.east_operator, call(cast.east_operator, days_ago=1, point=EAST_POINT),
           "SJ0102")
    return cast


def test_it_counts_the_final_categories_that_match_the_suggestion(history):
    west = match(history.west_operator)
    assert (west["suggested"], west["matched"], west["rate"]) == (3, 2, 0.6667)


def test_the_city_sees_every_district(history):
    city = match(history.admin)
    assert (city["suggested"], city["matched"], city["rate"]) == (4, 3, 0.75)


def test_the_window_is_the_last_30_days(history):
    assert match(history.west_operator, days=30)["window"] == {
        "first": "2026-10-22", "last": "2026-11-20"}
    longer = match(history.west_operator, days=40)
    assert (longer["suggested"], longer["matched"]) == (4, 3)
    later = match(history.west_operator, now=NOW + dt.timedelta(days=2))
    assert later["suggested"] == 3   # 2 days on, the 31-day-old one is still out


def test_an_out_of_territory_operator_counts_nothing_of_the_west(history):
    east = match(history.east_operator)
    assert (east["suggested"], east["matched"]) == (1, 1)


def test_without_suggestions_the_rate_is_none(cast):
    accept(cast.town_operator, call(cast.town_operator, category="SJ0102"))
    out = match(cast.west_operator)
    assert (out["suggested"], out["matched"], out["rate"], out["model"]) == (0, 0, None, None)


def test_the_models_own_figures_stand_beside_the_rate(history, model):
    shown = match(history.west_operator)["model"]
    assert shown["version"] == model["version"] and shown["accuracy"] == model["accuracy"]


def test_the_command_summary_answers_the_match_rate(client, bearer, cast, model):
    incident, _created = services.incident_report(
        actor=cast.town_operator, channel="hotline_12345", description=GARBAGE, **WEST_POINT)
    services.incident_accept(actor=cast.town_operator, incident=incident, category="SJ0102")
    response = client.get("/api/v1/command/summary", headers=bearer(cast.west_operator))
    assert response.status_code == 200, response.content
    intake = response.json()["intake"]
    assert (intake["suggested"], intake["matched"], intake["rate"]) == (1, 1, 1.0)
    assert intake["model"]["rows"] == 24
