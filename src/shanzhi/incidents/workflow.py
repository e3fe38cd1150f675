"""The incident workflow: one pure table (no ORM) of who may move an incident
from which state to which. ``docs/workflows/incident.md`` shows it; a test
checks the two agree."""

from __future__ import annotations

from shanzhi.core.workflow import Workflow, step

REPORTED = "reported"
REGISTERED = "registered"
DISPATCHED = "dispatched"
IN_PROGRESS = "in_progress"
HANDLED = "handled"
CLOSED = "closed"
REJECTED = "rejected"

STATES = (REPORTED, REGISTERED, DISPATCHED, IN_PROGRESS, HANDLED, CLOSED, REJECTED)
OPEN_STATES = frozenset({REPORTED, REGISTERED, DISPATCHED, IN_PROGRESS, HANDLED})

# roles (the values of shanzhi.accounts.models.Role, kept here as plain strings)
CITY_ADMIN = "city_admin"
OPERATOR = "operator"
HANDLER = "handler"
GRID_WORKER = "grid_worker"
OPS = frozenset({CITY_ADMIN, OPERATOR})
VERIFIERS = OPS | {GRID_WORKER}


INCIDENT = Workflow(
    name="incident",
    states=STATES,
    initial=REPORTED,
    final=frozenset({CLOSED, REJECTED}),
    transitions=(
        step("accept", [REPORTED], REGISTERED, OPS, label="Accept and register"),
        step("reject", [REPORTED], REJECTED, OPS, ["reason"], label="Reject the report"),
        step("merge", [REPORTED], REJECTED, OPS, ["original"],
             label="Merge as a duplicate of another incident"),
        step("self_resolve", [REPORTED], CLOSED, [GRID_WORKER], ["result"],
             label="Resolved on the spot"),
        step("assign_down", [REPORTED, REGISTERED], None, OPS, ["region"],
             label="Assign to a lower linkage centre"),
        step("dispatch", [REGISTERED], DISPATCHED, OPS, ["department"],
             label="Dispatch to a department"),
        step("escalate", [REGISTERED, DISPATCHED, IN_PROGRESS], REGISTERED, OPS | {HANDLER},
             ["reason"], counter="escalate_count", label="Escalate to the level above"),
        step("sign", [DISPATCHED], IN_PROGRESS, [HANDLER], label="Sign for it"),
        step("return", [DISPATCHED, IN_PROGRESS], REGISTERED, [HANDLER], ["reason"],
             counter="return_count", label="Return to the dispatcher"),
        step("report_result", [IN_PROGRESS], HANDLED, [HANDLER], ["result"],
             label="Report the result"),
        step("verify_pass", [HANDLED], CLOSED, VERIFIERS, label="Verified: close"),
        step("verify_fail", [HANDLED], IN_PROGRESS, VERIFIERS, ["reason"],
             counter="rework_count", label="Verification failed: rework"),
        step("request_extension", [IN_PROGRESS], None, [HANDLER], ["reason", "amount"],
             label="Ask for more time"),
        step("approve_extension", [IN_PROGRESS], None, OPS, counter="extension_count",
             label="Approve the extension"),
        step("refuse_extension", [IN_PROGRESS], None, OPS, ["reason"],
             label="Refuse the extension"),
        step("supervise", [REGISTERED, DISPATCHED, IN_PROGRESS, HANDLED], None, OPS, ["note"],
             counter="supervise_count", label="Supervise (urge)"),
        step("callback", [CLOSED], None, OPS, ["satisfaction"],
             label="Record the call-back"),
        step("reopen", [CLOSED], REGISTERED, OPS, ["reason"], counter="reopen_count",
             label="Reopen after a dissatisfied call-back"),
    ),
)

#: The stage (and so the time limit) that runs while an incident is in a state.
STAGE_OF_STATE = {
    REPORTED: "accept",
    REGISTERED: "dispatch",
    DISPATCHED: "sign",
    IN_PROGRESS: "handle",
    HANDLED: "verify",
}
STAGES = ("accept", "dispatch", "sign", "handle", "verify")
