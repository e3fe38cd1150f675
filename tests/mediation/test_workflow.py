"""The mediation table (``MEDIATION`` in mediation/workflow.py), row by row,
against expectations written out here by hand — not read from the table — so
a slip in either shows up: every action from each state, by each role, with
and without each field it requires; and random walks that must keep a dispute
among its states, out of a final state (but for ``reopen`` of a closed one)
and in the stage its state runs."""

from __future__ import annotations

from collections import deque

import pytest
from django.utils import translation
from django.utils.functional import Promise
from hypothesis import event, given, settings
from hypothesis import strategies as st

from shanzhi.core.errors import Conflict, PermissionDenied, ValidationError
from shanzhi.mediation import workflow as wf
from shanzhi.mediation.workflow import MEDIATION

STATES = ("received", "mediating", "agreed", "closed", "referred")
#: every role of the platform, with two that the table never names
ROLES = ("city_admin", "operator", "mediator", "handler", "grid_worker", "viewer", "nobody")
OPS = {"city_admin", "operator"}
MEDIATORS = {"city_admin", "operator", "mediator", "handler"}
SAME = None  # the action keeps the state

#: action: (from, to, who, requires, counts) — the brief's table, by hand.
EXPECTED = {
    "assign": ({"received"}, "mediating", OPS, ("assignee",), None),
    "transfer": ({"received", "mediating"}, "received", OPS, ("centre", "reason"), None),
    "refer_up": ({"received", "mediating"}, "received", MEDIATORS, ("reason",),
                 "escalate_count"),
    "record_session": ({"mediating"}, SAME, MEDIATORS, ("note",), None),
    "agree": ({"mediating"}, "agreed", MEDIATORS, ("terms",), None),
    "refer_out": ({"mediating"}, "referred", MEDIATORS, ("route", "reason"), None),
    "follow_up": ({"agreed"}, SAME, MEDIATORS | {"grid_worker"}, ("note", "holds"), None),
    "close": ({"agreed"}, "closed", MEDIATORS, ("note",), None),
    "reopen": ({"agreed", "closed"}, "mediating", MEDIATORS, ("reason",), "reopen_count"),
    "withdraw": ({"received", "mediating"}, "closed", OPS, ("reason",), None),
    "request_extension": ({"mediating"}, SAME, {"mediator", "handler"}, ("reason", "amount"),
                          None),
    "approve_extension": ({"mediating"}, SAME, OPS, (), "extension_count"),
    "refuse_extension": ({"mediating"}, SAME, OPS, ("reason",), None),
    "supervise": ({"received", "mediating", "agreed"}, SAME, OPS, ("note",),
                  "supervise_count"),
}

#: A valid payload for each action.
PAYLOAD = {
    "assign": {"assignee": "mediator:17"},
    "transfer": {"centre": "320505", "reason": "纠纷发生地属于高新区"},
    "refer_up": {"reason": "涉及多个街道，需区级协调"},
    "record_session": {"note": "3月5日在社区调解室，双方到场，初步沟通"},
    "agree": {"terms": "甲方于月底前赔偿乙方维修费2000元"},
    "refer_out": {"route": "litigation", "reason": "双方分歧过大，调解不成"},
    "follow_up": {"note": "回访双方，协议已履行", "holds": True},
    "close": {"note": "协议履行完毕"},
    "reopen": {"reason": "一方未按协议履行"},
    "withdraw": {"reason": "申请人撤回调解申请"},
    "request_extension": {"reason": "需等待鉴定结果", "amount": 5},
    "approve_extension": {},
    "refuse_extension": {"reason": "理由不充分"},
    "supervise": {"note": "请加快调解进度"},
}


def _allowed():
    for action, (sources, target, roles, _, _) in EXPECTED.items():
        for state in sorted(sources):
            for role in sorted(roles):
                yield pytest.param(action, state, role, target or state,
                                   id=f"{action}-from-{state}-by-{role}")


def _wrong_state():
    for action, (sources, _, roles, _, _) in EXPECTED.items():
        role = sorted(roles)[0]
        for state in STATES:
            if state not in sources:
                yield pytest.param(action, state, role, id=f"{action}-from-{state}")


def _wrong_role():
    for action, (sources, _, roles, _, _) in EXPECTED.items():
        for state in sorted(sources):
            for role in ROLES:
                if role not in roles:
                    yield pytest.param(action, state, role,
                                       id=f"{action}-from-{state}-by-{role}")


def _missing_field():
    for action, (sources, _, roles, requires, _) in EXPECTED.items():
        for name in requires:
            yield pytest.param(action, sorted(sources)[0], sorted(roles)[0], name,
                               id=f"{action}-without-{name}")


# ---------------------------------------------------------------- the table's shape

def test_the_table_has_exactly_the_expected_rows():
    assert [t.action for t in MEDIATION.transitions] == list(EXPECTED)
    for t in MEDIATION.transitions:
        sources, target, roles, requires, counter = EXPECTED[t.action]
        assert (set(t.sources), t.target, set(t.roles), t.requires, t.counter) == (
            sources, target, roles, requires, counter), t.action
        assert t.label, f"{t.action} has no label"


def test_the_states_their_ends_and_the_roles_are_the_briefs():
    assert MEDIATION.name == "mediation"
    assert wf.STATES == STATES == MEDIATION.states
    assert MEDIATION.initial == "received"
    assert MEDIATION.final == {"closed", "referred"}
    open_states = {"received", "mediating", "agreed"}
    assert open_states == wf.OPEN_STATES
    assert wf.OPS == OPS and wf.MEDIATORS == MEDIATORS
    assert (wf.CITY_ADMIN, wf.OPERATOR, wf.MEDIATOR, wf.HANDLER, wf.GRID_WORKER) == (
        "city_admin", "operator", "mediator", "handler", "grid_worker")


def test_each_open_state_runs_a_stage_with_a_limit_in_working_days():
    assert wf.STAGE_OF_STATE == {"received": "assign", "mediating": "mediate",
                                 "agreed": "follow_up"}
    assert wf.STAGES == ("assign", "mediate", "follow_up")
    assert wf.LIMITS == {"assign": {"amount": 2, "unit": "working_days"},
                         "mediate": {"amount": 15, "unit": "working_days"},
                         "follow_up": {"amount": 10, "unit": "working_days"}}
    assert wf.RISK_FACTOR == {"low": 1.0, "medium": 1.0, "high": 0.5}


def test_the_routes_out_and_the_dispute_types_are_listed_in_order():
    assert wf.ROUTES == ("arbitration", "litigation", "petition")
    assert [code for code, _ in wf.DISPUTE_TYPES] == [
        "neighbour", "family", "labour", "land", "property", "consumer", "traffic",
        "construction", "medical", "environment", "other"]
    for code, label in wf.DISPUTE_TYPES:
        assert isinstance(label, Promise), f"{code}'s label is not lazy"
        assert str(label).strip(), code
    with translation.override("en"):
        assert str(dict(wf.DISPUTE_TYPES)["family"]) == "Marriage and family"
    with translation.override("zh-hans"):  # the pages' language
        assert str(dict(wf.DISPUTE_TYPES)["family"]) == "婚姻家庭纠纷"


def test_every_state_can_be_reached_from_received():
    seen, todo = {"received"}, deque(["received"])
    while todo:
        state = todo.popleft()
        for sources, target, _, _, _ in EXPECTED.values():
            nxt = (target or state) if state in sources else None
            if nxt and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(STATES)


# ---------------------------------------------------------------- allowed

@pytest.mark.parametrize(("action", "state", "role", "target"), list(_allowed()))
def test_an_allowed_action_leads_to_its_target(action, state, role, target):
    t = MEDIATION.check(action, state=state, roles=[role], payload=PAYLOAD[action])
    assert t.action == action
    assert t.leads_to(state) == target


@pytest.mark.parametrize(("action", "state", "role", "target"), list(_allowed()))
def test_an_allowed_action_is_offered(action, state, role, target):
    assert action in [t.action for t in MEDIATION.available(state, [role])]


def test_a_follow_up_may_report_that_the_agreement_does_not_hold():
    t = MEDIATION.check("follow_up", state="agreed", roles=["grid_worker"],
                        payload={"note": "乙方仍未付款", "holds": False})
    assert t.leads_to("agreed") == "agreed"


# ---------------------------------------------------------------- refused

@pytest.mark.parametrize(("action", "state", "role"), list(_wrong_state()))
def test_an_action_from_another_state_is_a_conflict(action, state, role):
    with pytest.raises(Conflict) as refused:
        MEDIATION.check(action, state=state, roles=[role], payload=PAYLOAD[action])
    assert refused.value.code == "invalid_state"
    assert refused.value.details == {"state": state}
    assert action not in [t.action for t in MEDIATION.available(state, ROLES)]


@pytest.mark.parametrize(("action", "state", "role"), list(_wrong_role()))
def test_an_action_by_another_role_is_denied(action, state, role):
    with pytest.raises(PermissionDenied) as refused:
        MEDIATION.check(action, state=state, roles=[role], payload=PAYLOAD[action])
    assert refused.value.field == "action"
    assert action not in [t.action for t in MEDIATION.available(state, [role])]


@pytest.mark.parametrize(("action", "state", "role", "name"), list(_missing_field()))
@pytest.mark.parametrize("blank", ["absent", None, "", []])
def test_an_action_without_a_required_field_names_it(action, state, role, name, blank):
    payload = dict(PAYLOAD[action])
    if blank == "absent":
        del payload[name]
    else:
        payload[name] = blank
    with pytest.raises(ValidationError) as refused:
        MEDIATION.check(action, state=state, roles=[role], payload=payload)
    assert refused.value.field == name


def test_a_grid_worker_may_only_follow_up():
    offered = {t.action for state in STATES for t in MEDIATION.available(state, ["grid_worker"])}
    assert offered == {"follow_up"}


def test_the_role_is_checked_before_the_state():
    with pytest.raises(PermissionDenied):
        MEDIATION.check("assign", state="closed", roles=["mediator"],
                        payload=PAYLOAD["assign"])


def test_an_unknown_action_is_refused_on_the_action_field():
    with pytest.raises(ValidationError) as refused:
        MEDIATION.check("mediate", state="received", roles=["operator"])
    assert refused.value.field == "action"


def test_nothing_leaves_referred_and_only_reopen_leaves_closed():
    assert MEDIATION.available("referred", ROLES) == []
    assert [t.action for t in MEDIATION.available("closed", ROLES)] == ["reopen"]


# ---------------------------------------------------------------- random walks

def offered(state: str) -> list[tuple[str, str]]:
    """Every (action, role) the expectations above allow from ``state``."""
    return [(action, role) for action, (sources, _, roles, _, _) in EXPECTED.items()
            if state in sources for role in sorted(roles)]


@settings(max_examples=300)
@given(data=st.data(), length=st.integers(0, 40))
def test_any_sequence_of_allowed_actions_keeps_the_dispute_in_its_states(data, length):
    state = MEDIATION.initial
    assert state == "received"
    for _ in range(length):
        moves = offered(state)
        if not moves:
            assert state == "referred"  # the one state with no way out
            break
        action, role = data.draw(st.sampled_from(moves))
        t = MEDIATION.check(action, state=state, roles=[role], payload=PAYLOAD[action])
        new = t.leads_to(state)
        assert new == (EXPECTED[action][1] or state)
        assert new in STATES
        if state in MEDIATION.final:
            assert (state, action, new) == ("closed", "reopen", "mediating")
        if new in MEDIATION.final:
            assert new not in wf.STAGE_OF_STATE
        else:
            assert new in wf.OPEN_STATES and wf.STAGE_OF_STATE[new] in wf.STAGES
        event(f"reaches {new}")
        state = new


@given(steps=st.lists(st.tuples(st.sampled_from(sorted(EXPECTED)), st.sampled_from(ROLES)),
                      max_size=40))
def test_any_action_by_any_role_is_taken_exactly_when_expected(steps):
    state = MEDIATION.initial
    for action, role in steps:
        sources, target, roles, _, _ = EXPECTED[action]
        try:
            t = MEDIATION.check(action, state=state, roles=[role], payload=PAYLOAD[action])
        except PermissionDenied:
            assert role not in roles
            continue
        except Conflict:
            assert role in roles and state not in sources
            continue
        assert role in roles and state in sources
        state = t.leads_to(state)
        assert state == (target or state) and state in STATES
