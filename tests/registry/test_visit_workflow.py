"""The follow-up table (``VISIT`` in registry/workflow.py), row by row,
against expectations written out here by hand — not read from the table —
so a slip in either shows up; random walks that must keep a task among its
states; and docs/workflows/visit.md, which must hold the table verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shanzhi.core.errors import Conflict, PermissionDenied, ValidationError
from shanzhi.registry import workflow as wf
from shanzhi.registry.case import VISIT_CASE
from shanzhi.registry.workflow import VISIT

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "visit.md"
STATES = ("due", "done", "cancelled")
ROLES = ("city_admin", "operator", "mediator", "handler", "grid_worker", "viewer", "nobody")
OPS = {"city_admin", "operator"}
SAME = None

#: action: (from, to, who, requires, counts) — by hand.
EXPECTED = {
    "record": ({"due"}, "done", OPS | {"grid_worker"}, ("note",), None),
    "reassign": ({"due"}, SAME, OPS, ("assignee",), None),
    "cancel": ({"due"}, "cancelled", OPS, ("reason",), None),
    "request_extension": ({"due"}, SAME, {"grid_worker"}, ("reason", "amount"), None),
    "approve_extension": ({"due"}, SAME, OPS, (), "extension_count"),
    "refuse_extension": ({"due"}, SAME, OPS, ("reason",), None),
    "supervise": ({"due"}, SAME, OPS, ("note",), "supervise_count"),
}
PAYLOAD = {
    "record": {"note": "本人在家，情绪稳定", "finding": "normal"},
    "reassign": {"assignee": "worker2"},
    "cancel": {"reason": "已迁出本市"},
    "request_extension": {"reason": "本人外出务工", "amount": 3},
    "approve_extension": {},
    "refuse_extension": {"reason": "理由不充分"},
    "supervise": {"note": "请尽快走访"},
}


def _allowed():
    for action, (sources, target, roles, _, _) in EXPECTED.items():
        for state in sorted(sources):
            for role in sorted(roles):
                yield pytest.param(action, state, role, target or state,
                                   id=f"{action}-from-{state}-by-{role}")


def _wrong_state():
    for action, (sources, _, roles, _, _) in EXPECTED.items():
        for state in STATES:
            if state not in sources:
                yield pytest.param(action, state, sorted(roles)[0], id=f"{action}-from-{state}")


def _wrong_role():
    for action, (sources, _, roles, _, _) in EXPECTED.items():
        for role in ROLES:
            if role not in roles:
                yield pytest.param(action, sorted(sources)[0], role, id=f"{action}-by-{role}")


def _missing_field():
    for action, (sources, _, roles, requires, _) in EXPECTED.items():
        for name in requires:
            yield pytest.param(action, sorted(sources)[0], sorted(roles)[0], name,
                               id=f"{action}-without-{name}")


# ---------------------------------------------------------------- the table's shape

def test_the_table_has_exactly_the_expected_rows():
    assert [t.action for t in VISIT.transitions] == list(EXPECTED)
    for t in VISIT.transitions:
        sources, target, roles, requires, counter = EXPECTED[t.action]
        assert (set(t.sources), t.target, set(t.roles), t.requires, t.counter) == (
            sources, target, roles, requires, counter), t.action
        assert t.label, t.action


def test_the_states_the_stage_and_the_rules_are_the_issues():
    assert VISIT.name == "visit" and VISIT.states == STATES == wf.STATES
    assert VISIT.initial == "due" and VISIT.final == {"done", "cancelled"}
    assert {"due"} == wf.OPEN_STATES
    assert wf.STAGE_OF_STATE == {"due": "visit"} and wf.STAGES == ("visit",)
    # monthly at the lowest level, weekly at the highest (working days)
    assert wf.DEFAULT_INTERVAL == {"low": 20, "medium": 10, "high": 5}
    assert (wf.PERMIT_NOTICE_DAYS, wf.PLACE_INTERVAL) == (30, 20)
    assert wf.KINDS == ("group", "permit", "place")


def test_every_action_has_a_label_for_the_pages():
    for t in VISIT.transitions:
        assert t.action in VISIT_CASE.action_labels, t.action


# ---------------------------------------------------------------- allowed and refused

@pytest.mark.parametrize(("action", "state", "role", "target"), list(_allowed()))
def test_an_allowed_action_leads_to_its_target_and_is_offered(action, state, role, target):
    t = VISIT.check(action, state=state, roles=[role], payload=PAYLOAD[action])
    assert t.leads_to(state) == target
    assert action in [t.action for t in VISIT.available(state, [role])]


@pytest.mark.parametrize(("action", "state", "role"), list(_wrong_state()))
def test_an_action_on_a_closed_task_is_a_conflict(action, state, role):
    with pytest.raises(Conflict) as refused:
        VISIT.check(action, state=state, roles=[role], payload=PAYLOAD[action])
    assert refused.value.code == "invalid_state"
    assert VISIT.available(state, ROLES) == []


@pytest.mark.parametrize(("action", "state", "role"), list(_wrong_role()))
def test_an_action_by_another_role_is_denied(action, state, role):
    with pytest.raises(PermissionDenied) as refused:
        VISIT.check(action, state=state, roles=[role], payload=PAYLOAD[action])
    assert refused.value.field == "action"
    assert action not in [t.action for t in VISIT.available(state, [role])]


@pytest.mark.parametrize(("action", "state", "role", "name"), list(_missing_field()))
@pytest.mark.parametrize("blank", ["absent", None, ""])
def test_an_action_without_a_required_field_names_it(action, state, role, name, blank):
    payload = dict(PAYLOAD[action])
    if blank == "absent":
        del payload[name]
    else:
        payload[name] = blank
    with pytest.raises(ValidationError) as refused:
        VISIT.check(action, state=state, roles=[role], payload=payload)
    assert refused.value.field == name


def test_a_grid_worker_may_only_record_and_ask_for_time():
    offered = {t.action for t in VISIT.available("due", ["grid_worker"])}
    assert offered == {"record", "request_extension"}


# ---------------------------------------------------------------- random walks

@settings(max_examples=200)
@given(steps=st.lists(st.tuples(st.sampled_from(sorted(EXPECTED)), st.sampled_from(ROLES)),
                      max_size=30))
def test_any_action_by_any_role_is_taken_exactly_when_expected(steps):
    state = VISIT.initial
    for action, role in steps:
        sources, target, roles, _, _ = EXPECTED[action]
        try:
            t = VISIT.check(action, state=state, roles=[role], payload=PAYLOAD[action])
        except PermissionDenied:
            assert role not in roles
            continue
        except Conflict:
            assert role in roles and state not in sources
            continue
        assert role in roles and state in sources
        before, state = state, t.leads_to(state)
        assert state == (target or before) and state in STATES
        assert (state in VISIT.final) == (state not in wf.STAGE_OF_STATE)


# ---------------------------------------------------------------- the doc

def test_the_doc_contains_the_generated_table_verbatim_between_the_markers():
    body = DOC.read_text(encoding="utf-8")
    start = body.index("<!-- table: generated from workflow.py -->\n")
    end = body.index("\n<!-- end of table -->")
    assert body[start:end].split("\n", 1)[1] == VISIT.markdown_table(), (
        "docs/workflows/visit.md differs from workflow.py; regenerate the table with "
        "python -c 'from shanzhi.registry.workflow import VISIT; print(VISIT.markdown_table())'")


def test_the_doc_states_the_default_intervals_the_code_uses():
    body = DOC.read_text(encoding="utf-8")
    line = next(x for x in body.splitlines() if x.startswith("| `group` |"))
    for level, days in wf.DEFAULT_INTERVAL.items():
        assert f"{level} {days}" in line, level
    assert f"`PLACE_INTERVAL` = {wf.PLACE_INTERVAL}" in body
    assert f"`PERMIT_NOTICE_DAYS` ({wf.PERMIT_NOTICE_DAYS})" in body
    for state in STATES:
        assert f"| `{state}` |" in body, state
