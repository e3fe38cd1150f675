"""The command centre's dispute mediation figures: open disputes by type, risk
and state, how many are overdue, the outcomes of the last 30 days and the days
they took — exact on hand-built disputes at a frozen instant; an operator of
another district, and a handler of an unrelated department, see zeros."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.analytics.mediation import mediation_figures
from shanzhi.mediation import services
from shanzhi.mediation.models import Centre

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


#: A Wednesday; the last 30 days are 2026-03-17 … 2026-04-15.
NOW = at(2026, 4, 15, 10, 0)
APPLICANT = [{"role": "applicant", "name": "张伟"}, {"role": "respondent", "name": "李强"}]
ZEROS = {
    "open": 0, "overdue": 0, "resolved": 0,
    "open_by_state": {"received": 0, "mediating": 0, "agreed": 0},
    "open_by_risk": {"high": 0, "medium": 0, "low": 0},
    "outcomes": {"agreement": 0, "partial": 0, "failed": 0},
    "days_to_resolve": {"median": None, "mean": None},
}


class West:
    def __init__(self, personas):
        self.operator = personas.west_operator
        self.centre = Centre.objects.create(code="TJZX320505", name="虎丘区矛盾纠纷调处化解中心",
                                            region=personas.west_operator.region)
        self.mediator = User.objects.create(username="mediator_320505", role=Role.MEDIATOR,
                                            region=personas.west_operator.region)

    def register(self, when, dispute_type="neighbour", **more):
        case, _ = services.case_register(
            actor=self.operator, source="walk_in", centre=self.centre.code,
            dispute_type=dispute_type, title="纠纷", description="双方发生争执。",
            parties=APPLICANT, now=when, **more)
        return case

    def assign(self, case, when):
        return services.case_assign(actor=self.operator, case=case,
                                    assignee=self.mediator.username, now=when)

    def agree(self, case, when, outcome="agreement"):
        return services.case_agree(actor=self.mediator, case=case, terms=["赔偿500元"],
                                   outcome=outcome, now=when)


@pytest.fixture
def west(personas):
    """Disputes of the west district in every state, seen at NOW."""
    w = West(personas)
    m = w.mediator
    # open, received: on time, and a high-risk one long overdue (its limit halved)
    w.register(at(2026, 4, 14, 10, 0))
    w.register(at(2026, 4, 1, 10, 0), "labour", people=40)
    # open, mediating: on time (medium risk: 6 people) …
    w.assign(w.register(at(2026, 4, 8, 9, 0), "property", people=6), at(2026, 4, 8, 10, 0))
    # … overdue (15 working days from 2 March), medium risk (vulnerable)
    w.assign(w.register(at(2026, 3, 2, 9, 0), "family", vulnerable=True),
             at(2026, 3, 2, 10, 0))
    # … and reopened: its agreement of the window is no longer an outcome
    reopened = w.agree(w.assign(w.register(at(2026, 3, 20, 9, 0), "other"),
                                at(2026, 3, 20, 10, 0)), at(2026, 3, 25, 9, 0))
    services.case_follow_up(actor=m, case=reopened, note="未履行", holds=False,
                            now=at(2026, 3, 31, 9, 0))
    services.case_reopen(actor=m, case=reopened, reason="协议未履行", now=at(2026, 4, 1, 9, 0))
    # open, agreed (following up): an agreement after 10.0 days
    w.agree(w.assign(w.register(at(2026, 3, 23, 9, 0)), at(2026, 3, 23, 10, 0)),
            at(2026, 4, 2, 9, 0))
    # closed: a partial agreement after 4.0 days, followed up and closed
    partial = w.agree(w.assign(w.register(at(2026, 3, 30, 9, 0), "consumer"),
                               at(2026, 3, 30, 10, 0)), at(2026, 4, 3, 9, 0), "partial")
    services.case_follow_up(actor=m, case=partial, note="已履行", holds=True,
                            now=at(2026, 4, 9, 9, 0))
    services.case_close(actor=m, case=partial, note="结案", now=at(2026, 4, 10, 9, 0))
    # referred: failed after 20.0 days
    failed = w.assign(w.register(at(2026, 3, 18, 9, 0), "labour"), at(2026, 3, 18, 10, 0))
    services.case_refer_out(actor=m, case=failed, route="arbitration", reason="分歧较大",
                            now=at(2026, 4, 7, 9, 0))
    # before the window: agreed on 2 March, closed
    old = w.agree(w.assign(w.register(at(2026, 2, 2, 9, 0)), at(2026, 2, 2, 10, 0)),
                  at(2026, 3, 2, 9, 0))
    services.case_follow_up(actor=m, case=old, note="已履行", holds=True,
                            now=at(2026, 3, 9, 9, 0))
    services.case_close(actor=m, case=old, note="结案", now=at(2026, 3, 10, 9, 0))
    # withdrawn: closed without an outcome
    services.case_withdraw(actor=w.operator, case=w.register(at(2026, 4, 9, 9, 0)),
                           reason="已自行和解", now=at(2026, 4, 9, 15, 0))
    return w


WEST_FIGURES = {
    "open": 6,
    "overdue": 2,
    "open_by_state": {"received": 2, "mediating": 3, "agreed": 1},
    "open_by_risk": {"high": 1, "medium": 2, "low": 3},
    "outcomes": {"agreement": 1, "partial": 1, "failed": 1},
    "resolved": 3,
    "days_to_resolve": {"median": 10.0, "mean": 11.3},  # (10 + 4 + 20) / 3
}


def _subset(figures: dict) -> dict:
    return {key: figures[key] for key in WEST_FIGURES}


def test_the_operator_of_the_district_gets_the_exact_figures(west, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        figures = mediation_figures(Scope.for_user(west.operator), NOW)
    assert _subset(figures) == WEST_FIGURES
    assert {k: n for k, n in figures["open_by_type"].items() if n} == {
        "neighbour": 2, "labour": 1, "property": 1, "family": 1, "other": 1}
    assert figures["window"] == {"first": "2026-03-17", "last": "2026-04-15"}


def test_a_day_later_the_agreement_is_overdue_for_its_follow_up_and_time_passes(west):
    later = mediation_figures(Scope.for_user(west.operator), at(2026, 4, 17, 10, 0))
    assert later["overdue"] == 3  # the follow-up of 2 April was due on 17 April, 09:00
    # the window (17 March … 17 April) still holds the outcomes; from 6 April, only the failure
    assert later["outcomes"] == {"agreement": 1, "partial": 1, "failed": 1}
    gone = mediation_figures(Scope.for_user(west.operator), at(2026, 5, 5, 10, 0))
    assert gone["outcomes"] == {"agreement": 0, "partial": 0, "failed": 1}
    assert gone["days_to_resolve"] == {"median": 20.0, "mean": 20.0}


def test_the_city_admin_sees_the_same_and_drills_into_regions(west, personas, territory):
    scope = Scope.for_user(personas.admin)
    assert _subset(mediation_figures(scope, NOW)) == WEST_FIGURES
    assert _subset(mediation_figures(scope, NOW, paths=(territory.west.path,))) == WEST_FIGURES
    # the disputes lie at the district (their centre's region), not in its town
    assert _subset(mediation_figures(scope, NOW, paths=(territory.west_town.path,))) == ZEROS


def test_out_of_territory_users_see_zeros(west, personas):
    for user in (personas.east_operator, personas.handler, personas.nobody):
        figures = mediation_figures(Scope.for_user(user), NOW)
        assert {k: figures[k] for k in ZEROS} == ZEROS, user.username
        assert not any(figures["open_by_type"].values())


def test_the_api_answers_the_figures_of_the_actor_s_territory(west, personas, client):
    client.force_login(west.operator)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/api/v1/command/mediation")
    assert response.status_code == 200
    body = response.json()
    assert _subset(body) == WEST_FIGURES
    assert body["region"]["code"] == "320505"
    # most first, then in the forms' order of the types
    assert [(t["key"], t["count"]) for t in body["types"]] == [
        ("neighbour", 2), ("family", 1), ("labour", 1), ("property", 1), ("other", 1)]
    assert all(t["label"] and t["label"] != t["key"] for t in body["types"])
    client.force_login(personas.east_operator)
    with time_machine.travel(NOW, tick=False):
        east = client.get("/api/v1/command/mediation").json()
        west_region = client.get("/api/v1/command/mediation?region=320505")
    assert {k: east[k] for k in ZEROS} == ZEROS
    assert west_region.status_code == 404  # a region outside the territory


def test_the_command_centre_page_has_the_card_and_its_script(west, client):
    client.force_login(west.operator)
    page = client.get("/command/").content.decode()
    assert 'id="mediation-card"' in page
    assert "command_mediation.js" in page and "command_mediation.css" in page
    for key in ("received", "mediating", "agreed"):
        assert f'data-med-state="{key}"' in page
    for key in ("agreement", "partial", "failed"):
        assert f'data-med-outcome="{key}"' in page
    assert "<script>" not in page and " style=" not in page  # strict CSP
