"""The city's model learns from the incidents it closed: the final category
an operator confirmed is the label; machine alerts, rejected and merged
reports are left out; the worker retrains once a day (time injected)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from shanzhi.cases import sla
from shanzhi.incidents import learning, services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from shanzhi.intake import textclass
from tests.incidents import conftest as incident_fixtures
from tests.incidents.conftest import at, drive, report

# the incident fixtures, as tests/web/conftest.py takes them
_fresh_calendar = incident_fixtures._fresh_calendar
cast = incident_fixtures.cast
desk = incident_fixtures.desk

GARBAGE, PARKING = "SJ0102", "SJ0404"
NOW = at(2026, 3, 2, 10)


def closed(cast, description: str, category: str, *, when: dt.datetime = NOW) -> Incident:
    """Reported and resolved on the spot by the grid worker."""
    incident = report(cast, description=description, category=category, now=when)
    return services.incident_self_resolve(actor=cast.worker, incident=incident,
                                          result="已处理", now=when + dt.timedelta(hours=1))


@pytest.fixture
def history(cast):
    """Three closed reports of each of two categories, and what must not count."""
    for text in ("路边垃圾桶满溢", "有人乱倒生活垃圾", "绿化带里有垃圾袋"):
        closed(cast, text, GARBAGE)
    for text in ("车辆堵住消防通道", "机动车占用人行道", "路口违停影响通行"):
        closed(cast, text, PARKING)
    # a report typed as rubbish that the operator registered as parking: parking it is
    relabelled = services.incident_accept(actor=cast.town_operator, category=PARKING,
                                          incident=report(cast, description="垃圾车乱停在路口",
                                                          category=GARBAGE, now=NOW))
    drive(cast, relabelled, wf.CLOSED)
    # not learnt from: still open, rejected, an IoT alert, a merged duplicate
    report(cast, description="垃圾还没人处理", category=GARBAGE, now=NOW)
    services.incident_reject(actor=cast.town_operator, reason="无效",
                             incident=report(cast, description="测试垃圾", category=GARBAGE))
    iot = closed(cast, "井盖传感器告警", GARBAGE)
    Incident.objects.filter(pk=iot.pk).update(channel="iot")
    return relabelled


def test_it_learns_closed_people_typed_incidents_with_their_final_category(history):
    rows = learning.incident_rows()
    assert len(rows) == 7
    assert ("垃圾车乱停在路口", PARKING) in rows
    assert sorted(text for text, _code in rows if _code == GARBAGE) == sorted(
        ["路边垃圾桶满溢", "有人乱倒生活垃圾", "绿化带里有垃圾袋"])
    assert not {"垃圾还没人处理", "测试垃圾", "井盖传感器告警"} & {text for text, _ in rows}


def test_rows_can_be_limited_to_the_recently_closed(cast):
    closed(cast, "路边垃圾桶满溢", GARBAGE, when=NOW - dt.timedelta(days=40))
    closed(cast, "车辆堵住消防通道", PARKING, when=NOW)
    recent = learning.incident_rows(since=NOW - dt.timedelta(days=1))
    assert recent == [("车辆堵住消防通道", PARKING)]
    assert len(learning.incident_rows(limit=1)) == 1


def test_a_category_seen_once_waits_for_a_second_row():
    rows = [("a", "X"), ("b", "X"), ("c", "Y")]
    assert learning.learnable(rows) == [("a", "X"), ("b", "X")]


def test_training_from_incidents_writes_the_city_model(history):
    report_ = learning.train_from_incidents(now=NOW)
    assert report_["name"] == textclass.DEFAULT_MODEL and report_["version"] == 1
    assert report_["classes"] == {PARKING: 4, GARBAGE: 3}
    assert "7 closed incidents" in report_["source"]
    assert textclass.suggest("消防通道被车堵住了")[0].label == PARKING


def test_too_few_closed_incidents_is_a_clear_error(cast):
    closed(cast, "路边垃圾桶满溢", GARBAGE)
    closed(cast, "有人乱倒生活垃圾", GARBAGE)
    with pytest.raises(learning.ValidationError, match="two categories"):
        learning.train_from_incidents()
    assert learning.retrain_if_due(now=NOW) is None
    assert textclass.model_info() is None


def test_the_worker_retrains_once_a_day(history):
    first = learning.retrain_if_due(now=NOW)
    assert first["version"] == 1
    assert learning.retrain_if_due(now=NOW + dt.timedelta(hours=23, minutes=59)) is None
    again = learning.retrain_if_due(now=NOW + dt.timedelta(days=1, minutes=1))
    assert again["version"] == 2
    assert again["trained_at"] == (NOW + dt.timedelta(days=1, minutes=1)).isoformat()


def test_a_worker_finding_another_training_leaves_it_alone(history):
    with textclass.training(textclass.DEFAULT_MODEL):
        assert learning.retrain_if_due(now=NOW) is None
    assert textclass.model_info() is None


def test_the_sweeping_hook_trains_and_counts_it(history):
    assert sla.plan(now=NOW)["model_trained"] == 1
    assert "model_trained" not in sla.plan(now=NOW + dt.timedelta(hours=1))
    assert textclass.model_info()["trained_at"] == NOW.isoformat()


def test_the_command_trains_from_incidents(history):
    out = io.StringIO()
    call_command("intake", "train", "--from-incidents", stdout=out, stderr=io.StringIO())
    assert "model incidents v1" in out.getvalue() and "7 rows, 2 classes" in out.getvalue()
    assert GARBAGE in out.getvalue() and PARKING in out.getvalue()
