"""Every row of the workflow table (``INCIDENT`` in incidents/workflow.py),
allowed and refused, through the real services; the required fields and the
guards; and random walks by random personas that must keep the incident, its
timeline, its version and its counters consistent with the table.

Each case builds its incident the usual way (report → accept → dispatch →
sign → report_result → verify_pass, or reject) and then lets one persona per
role try the action: the role the table does not name gets PermissionDenied
(403), a state the table does not start from gets Conflict (409), and the
rest succeed with the table's target state.
"""

from __future__ import annotations

from collections import Counter, deque

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shanzhi.core.errors import Conflict, DomainError, PermissionDenied, ValidationError
from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident, IncidentStage, TimelineEntry
from shanzhi.incidents.workflow import INCIDENT
from tests.incidents.conftest import CGJ, ZJJ, drive, incident_in, report

ROLES = ("city_admin", "operator", "handler", "grid_worker", "viewer")
WEST_COMMUNITY = "320505001001"

#: A row of the table no persona can ever take: a handler acts only on what is
#: dispatched to their department, and nothing is while an incident is
#: registered (the service's relation check refuses it).
BEYOND_RELATION = {("escalate", wf.REGISTERED, "handler")}


def persona(cast, role: str):
    """The one persona of each role who stands in the right relation to a west incident."""
    return {"city_admin": cast.admin, "operator": cast.town_operator, "handler": cast.handler,
            "grid_worker": cast.worker, "viewer": cast.viewer}[role]


def fill(cast, action: str) -> dict:
    """Every field ``action`` requires, filled with something valid."""
    if action == "merge":
        return {"original": report(cast, description="同一处垃圾，先报的").number}
    return {
        "accept": {}, "reject": {"reason": "重复上报"}, "self_resolve": {"result": "当场清理"},
        "assign_down": {"region": WEST_COMMUNITY}, "dispatch": {"department": ZJJ},
        "escalate": {"reason": "超出本级权限"}, "sign": {}, "return": {"reason": "非本部门职责"},
        "report_result": {"result": "已清理"}, "verify_pass": {},
        "verify_fail": {"reason": "仍有垃圾"},
        "request_extension": {"reason": "需要协调环卫车辆", "amount": 2},
        "approve_extension": {}, "refuse_extension": {"reason": "理由不足"},
        "supervise": {"note": "请尽快处置"}, "callback": {"satisfaction": "dissatisfied"},
        "reopen": {"reason": "回访不满意"},
    }[action]


def meet_guard(cast, action: str, incident: Incident) -> Incident:
    """Where the state allows the action, meet its guard too: a waiting
    extension request to approve or refuse, a dissatisfied call-back to reopen."""
    if action in ("approve_extension", "refuse_extension") and incident.state == wf.IN_PROGRESS:
        return services.incident_request_extension(actor=cast.handler, incident=incident,
                                                   reason="需要协调", amount=2)
    if action == "reopen" and incident.state == wf.CLOSED:
        return services.incident_callback(actor=cast.town_operator, incident=incident,
                                          satisfaction="dissatisfied")
    return incident


def expected_answer(action: str, state: str, role: str) -> str:
    t = INCIDENT.by_action[action]
    if role not in t.roles:
        return "PermissionDenied"
    if state not in t.sources:
        return "Conflict"
    if (action, state, role) in BEYOND_RELATION:
        return "PermissionDenied"
    return "ok"


def snapshot(incident: Incident) -> tuple:
    """What a refused action must leave as it was."""
    row = Incident.objects.values().get(pk=incident.pk)
    stages = list(IncidentStage.objects.filter(incident=incident).order_by("id").values())
    return row, stages, TimelineEntry.objects.filter(incident=incident).count()


CASES = [pytest.param(t.action, state, id=f"{t.action}-from-{state}")
         for t in INCIDENT.transitions for state in wf.STATES]


@pytest.mark.parametrize(("action", "state"), CASES)
def test_each_role_gets_the_answer_the_table_gives(cast, action, state):
    t = INCIDENT.by_action[action]
    shared = None  # one incident serves every refusal: a refusal changes nothing
    answers, expected = {}, {}
    for role in ROLES:
        expected[role] = expected_answer(action, state, role)
        if expected[role] == "ok" or shared is None:
            incident = meet_guard(cast, action, incident_in(cast, state))
        else:
            incident = shared
        if expected[role] != "ok":
            shared = incident
        before = Incident.objects.get(pk=incident.pk)
        seen = snapshot(before)
        try:
            after = services.ACTIONS[action](actor=persona(cast, role),
                                             incident=Incident.objects.get(pk=incident.pk),
                                             **fill(cast, action))
        except DomainError as exc:
            answers[role] = type(exc).__name__
            assert snapshot(before) == seen, f"a refused {action} by {role} changed something"
            continue
        answers[role] = "ok"
        assert after.state == t.leads_to(state)
        assert after.version == before.version + 1
        last = TimelineEntry.objects.filter(incident=after).order_by("id").last()
        assert (last.action, last.from_state, last.to_state) == (action, state, after.state)
        assert last.actor == persona(cast, role)
        if t.counter:
            assert getattr(after, t.counter) == getattr(before, t.counter) + 1
    assert answers == expected


def test_the_api_answers_a_role_outside_the_table_with_403(api, cast):
    incident = incident_in(cast, wf.REGISTERED)
    body = api.act(cast.worker, incident.number, "dispatch", expect=403, department=ZJJ)
    assert body["error"]["code"] == "forbidden"
    assert body["error"]["field"] == "action"
    assert Incident.objects.get(pk=incident.pk).state == wf.REGISTERED


def test_the_api_answers_a_state_outside_the_sources_with_409_and_the_state(api, cast):
    incident = incident_in(cast, wf.REPORTED)
    body = api.act(cast.town_operator, incident.number, "dispatch", expect=409,
                   department=ZJJ)
    assert body["error"]["code"] == "invalid_state"
    assert body["error"]["details"] == {"state": wf.REPORTED, "version": 1}


def test_the_api_refuses_an_unknown_action(api, cast):
    incident = incident_in(cast, wf.REPORTED)
    body = api.act(cast.town_operator, incident.number, "approve", expect=400)
    assert body["error"]["field"] == "action"


def test_the_api_refuses_a_field_the_actions_do_not_know(api, cast):
    incident = incident_in(cast, wf.REPORTED)
    body = api.act(cast.town_operator, incident.number, "accept", expect=400, priority="high")
    assert body["error"]["field"] == "priority"


# ---------------------------------------------------------------- required fields

REQUIRED = [pytest.param(t.action, name, id=f"{t.action}-without-{name}")
            for t in INCIDENT.transitions for name in t.requires]


@pytest.mark.parametrize(("action", "name"), REQUIRED)
def test_an_action_without_a_required_field_names_the_field(cast, action, name):
    t = INCIDENT.by_action[action]
    state = next(s for s in wf.STATES if s in t.sources)
    role = next(r for r in ROLES if r in t.roles)
    incident = meet_guard(cast, action, incident_in(cast, state))
    seen = snapshot(incident)
    fields = {**fill(cast, action), name: None if name == "amount" else ""}
    with pytest.raises(ValidationError) as refused:
        services.ACTIONS[action](actor=persona(cast, role), incident=incident, **fields)
    assert refused.value.field == name
    assert snapshot(incident) == seen


def test_the_api_answers_a_missing_reason_with_400_naming_it(api, cast):
    incident = incident_in(cast, wf.REPORTED)
    body = api.act(cast.town_operator, incident.number, "reject", expect=400)
    assert body["error"]["code"] == "invalid" and body["error"]["field"] == "reason"
    assert Incident.objects.get(pk=incident.pk).state == wf.REPORTED


# ---------------------------------------------------------------- guards

def test_an_extension_can_be_asked_only_when_none_is_waiting(cast):
    incident = incident_in(cast, wf.IN_PROGRESS)
    incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                   reason="需要协调", amount=2)
    with pytest.raises(Conflict):
        services.incident_request_extension(actor=cast.handler, incident=incident,
                                            reason="再延一次", amount=1)


@pytest.mark.parametrize("action", ["approve_extension", "refuse_extension"])
def test_an_extension_can_be_decided_only_when_one_is_waiting(cast, action):
    incident = incident_in(cast, wf.IN_PROGRESS)
    with pytest.raises(Conflict):
        services.ACTIONS[action](actor=cast.town_operator, incident=incident,
                                 **fill(cast, action))


def test_a_decided_extension_can_be_asked_again(cast):
    incident = incident_in(cast, wf.IN_PROGRESS)
    incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                   reason="需要协调", amount=2)
    incident = services.incident_refuse_extension(actor=cast.town_operator, incident=incident,
                                                  reason="理由不足")
    incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                   reason="补充理由", amount=1)
    assert incident.pending_extension["reason"] == "补充理由"


def test_a_refused_approval_leaves_the_deadline_alone(cast):
    incident = incident_in(cast, wf.IN_PROGRESS)
    incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                   reason="需要协调", amount=2)
    seen = snapshot(incident)
    with pytest.raises(PermissionDenied):
        services.incident_approve_extension(actor=cast.handler, incident=incident)
    assert snapshot(incident) == seen


@pytest.mark.parametrize("satisfaction", [None, "satisfied", "basically_satisfied"])
def test_only_a_dissatisfied_call_back_opens_the_way_to_reopen(cast, satisfaction):
    incident = incident_in(cast, wf.CLOSED)
    if satisfaction:
        incident = services.incident_callback(actor=cast.town_operator, incident=incident,
                                              satisfaction=satisfaction)
    with pytest.raises(Conflict):
        services.incident_reopen(actor=cast.town_operator, incident=incident, reason="再看看")


def test_a_reopened_incident_closed_again_needs_a_new_dissatisfied_call_back(cast):
    incident = meet_guard(cast, "reopen", incident_in(cast, wf.CLOSED))
    incident = services.incident_reopen(actor=cast.town_operator, incident=incident,
                                        reason="回访不满意")
    incident = drive(cast, incident, wf.CLOSED)
    with pytest.raises(Conflict):
        services.incident_reopen(actor=cast.town_operator, incident=incident, reason="再开")
    incident = services.incident_callback(actor=cast.town_operator, incident=incident,
                                          satisfaction="dissatisfied")
    reopened = services.incident_reopen(actor=cast.town_operator, incident=incident,
                                        reason="仍不满意")
    assert reopened.reopen_count == 2


def test_escalation_climbs_one_centre_at_a_time_and_stops_at_the_top(cast, territory):
    incident = incident_in(cast, wf.REGISTERED)
    assert incident.holder == territory.west_town
    incident = services.incident_escalate(actor=cast.town_operator, incident=incident,
                                          reason="超出街道权限")
    assert incident.holder == territory.west
    with pytest.raises(PermissionDenied):  # the town centre no longer holds it
        services.incident_escalate(actor=cast.town_operator, incident=incident, reason="再报")
    incident = services.incident_escalate(actor=cast.west_operator, incident=incident,
                                          reason="超出区级权限")
    assert incident.holder == territory.city and incident.escalate_count == 2
    with pytest.raises(Conflict) as refused:
        services.incident_escalate(actor=cast.admin, incident=incident, reason="无处可报")
    assert refused.value.details["state"] == wf.REGISTERED


def test_escalation_at_the_top_is_still_refused_by_role_first(cast, territory):
    incident = incident_in(cast, wf.REGISTERED)
    for operator in (cast.town_operator, cast.west_operator):
        incident = services.incident_escalate(actor=operator, incident=incident, reason="上报")
    with pytest.raises(PermissionDenied):
        services.incident_escalate(actor=cast.worker, incident=incident, reason="上报")


def test_an_escalation_drops_a_waiting_extension_request(cast):
    incident = incident_in(cast, wf.IN_PROGRESS)
    incident = services.incident_request_extension(actor=cast.handler, incident=incident,
                                                   reason="需要协调", amount=2)
    incident = services.incident_escalate(actor=cast.handler, incident=incident,
                                          reason="需区级协调")
    assert incident.pending_extension is None
    incident = services.incident_dispatch(actor=cast.west_operator, incident=incident,
                                          department=ZJJ)
    incident = services.incident_sign(actor=cast.handler, incident=incident)
    with pytest.raises(Conflict):  # nothing from the old stage waits to be approved
        services.incident_approve_extension(actor=cast.west_operator, incident=incident)


def test_a_merge_needs_an_original_the_operator_can_see(cast, territory):
    incident = incident_in(cast, wf.REPORTED)
    east = report(cast, actor=cast.east_operator, lng=120.035, lat=31.005)
    with pytest.raises(ValidationError) as refused:
        services.incident_merge(actor=cast.town_operator, incident=incident,
                                original=east.number)
    assert refused.value.field == "original"
    with pytest.raises(ValidationError):
        services.incident_merge(actor=cast.town_operator, incident=incident,
                                original=incident.number)


def test_a_merged_incident_points_to_its_original(cast):
    incident = incident_in(cast, wf.REPORTED)
    original = report(cast, description="同一处垃圾")
    merged = services.incident_merge(actor=cast.town_operator, incident=incident,
                                     original=original.number)
    assert merged.state == wf.REJECTED and merged.merged_into == original
    assert merged.closed_at is not None


# ---------------------------------------------------------------- random walks

PERSONAS = ("admin", "town_operator", "west_operator", "east_operator", "handler",
            "cgj_handler", "worker", "neighbour_worker", "viewer", "nobody")
ACTIONS = tuple(t.action for t in INCIDENT.transitions)


def reachable_states() -> set[str]:
    seen, todo = {INCIDENT.initial}, deque([INCIDENT.initial])
    while todo:
        state = todo.popleft()
        for t in INCIDENT.transitions:
            if state in t.sources and t.leads_to(state) not in seen:
                seen.add(t.leads_to(state))
                todo.append(t.leads_to(state))
    return seen


def walk_fields(action: str, variant: int, original: Incident) -> dict:
    if action == "merge":
        return {"original": original.number}
    if action == "dispatch":
        return {"department": (ZJJ, CGJ, ZJJ)[variant]}
    if action == "callback":
        return {"satisfaction": ("satisfied", "basically_satisfied", "dissatisfied")[variant]}
    if action == "request_extension":
        return {"reason": "需要协调", "amount": variant + 1,
                "unit": ("working_days", "working_hours", "working_days")[variant]}
    return {
        "reject": {"reason": "无效"}, "self_resolve": {"result": "当场清理"},
        "assign_down": {"region": WEST_COMMUNITY}, "escalate": {"reason": "超出权限"},
        "return": {"reason": "非本部门职责"}, "report_result": {"result": "已处置"},
        "verify_fail": {"reason": "未清理干净"}, "refuse_extension": {"reason": "理由不足"},
        "supervise": {"note": "请加快"}, "reopen": {"reason": "群众不满意"},
    }.get(action, {})


def assert_stage_matches_state(incident: Incident) -> None:
    open_stages = list(IncidentStage.objects.filter(incident=incident, ended_at__isnull=True))
    stage = wf.STAGE_OF_STATE.get(incident.state)
    if stage is None:
        assert open_stages == [] and incident.due_at is None and incident.stage == ""
    else:
        assert [s.stage for s in open_stages] == [stage] == [incident.stage]
        assert incident.due_at == open_stages[0].due_at


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rnd=st.randoms(use_true_random=False), length=st.integers(1, 30))
def test_random_actions_by_random_personas_keep_the_incident_consistent(cast, rnd, length):
    reachable = reachable_states()
    original = report(cast, description="先报的同一处垃圾")
    incident = report(cast)
    done: list[tuple[str, str, str]] = []
    for _ in range(length):
        before = Incident.objects.get(pk=incident.pk)
        offers = {name: services.available_actions(actor=getattr(cast, name), incident=before)
                  for name in PERSONAS}
        moves = [(name, action) for name in PERSONAS for action in offers[name]]
        forward = [(name, action) for name, action in moves
                   if wf.STATES.index(INCIDENT.by_action[action].leads_to(before.state))
                   > wf.STATES.index(before.state) and action not in ("reject", "merge")]
        # often a step forward, mostly something someone is offered, sometimes anything
        roll = rnd.random()
        if forward and roll < 0.5:
            name, action = rnd.choice(forward)
        elif moves and roll < 0.85:
            name, action = rnd.choice(moves)
        else:
            name, action = rnd.choice(PERSONAS), rnd.choice(ACTIONS)
        actor, offered = getattr(cast, name), offers[name]
        variant = rnd.randrange(3)
        t = INCIDENT.by_action[action]
        seen = snapshot(before)
        try:
            incident = services.ACTIONS[action](actor=actor,
                                                incident=Incident.objects.get(pk=incident.pk),
                                                **walk_fields(action, variant, original))
        except (PermissionDenied, Conflict, ValidationError) as exc:
            assert snapshot(before) == seen
            if action in offered:  # what is offered fails only on a field
                assert isinstance(exc, ValidationError), (name, action, exc)
            continue
        assert action in offered, (name, action, before.state)
        assert before.state in t.sources and actor.role in t.roles
        assert incident.state == t.leads_to(before.state) and incident.state in reachable
        assert incident.version == before.version + 1
        assert_stage_matches_state(incident)
        done.append((action, before.state, incident.state))

    for state in sorted({to for _, _, to in done}):  # see --hypothesis-show-statistics
        event(f"visits {state}")
    rows = list(TimelineEntry.objects.filter(incident=incident).exclude(action="report")
                .order_by("id").values_list("action", "from_state", "to_state"))
    assert rows == done
    assert incident.version == 1 + len(done)
    counted = Counter(INCIDENT.by_action[a].counter for a, _, _ in done)
    for t in INCIDENT.transitions:
        if t.counter:
            assert getattr(incident, t.counter) == counted[t.counter], t.counter
