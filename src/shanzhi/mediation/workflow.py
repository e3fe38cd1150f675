"""The dispute mediation workflow (矛盾纠纷调处化解): one pure table (no ORM) of
who may move a dispute from which state to which, its stages and their time
limits, the dispute types and the routes out of mediation.
``docs/workflows/mediation.md`` shows the table; a test checks the two agree."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shanzhi.core.workflow import Workflow, step

RECEIVED = "received"  # 已受理/待分派
MEDIATING = "mediating"  # 调解中
AGREED = "agreed"  # 已达成协议/回访中
CLOSED = "closed"  # 已结案
REFERRED = "referred"  # 调解不成/已转出

STATES = (RECEIVED, MEDIATING, AGREED, CLOSED, REFERRED)
OPEN_STATES = frozenset({RECEIVED, MEDIATING, AGREED})
FINAL_STATES = frozenset({CLOSED, REFERRED})

# roles (the values of shanzhi.accounts.models.Role, kept here as plain strings)
CITY_ADMIN = "city_admin"
OPERATOR = "operator"  # the centre's staff
MEDIATOR = "mediator"  # 人民调解员
HANDLER = "handler"  # an officer of a department stationed at the centre
GRID_WORKER = "grid_worker"
OPS = frozenset({CITY_ADMIN, OPERATOR})
MEDIATORS = OPS | {MEDIATOR, HANDLER}


MEDIATION = Workflow(
    name="mediation",
    states=STATES,
    initial=RECEIVED,
    final=FINAL_STATES,
    transitions=(
        step("assign", [RECEIVED], MEDIATING, OPS, ["assignee"],
             label="Assign to a mediator or a stationed department"),
        step("transfer", [RECEIVED, MEDIATING], RECEIVED, OPS, ["centre", "reason"],
             label="Transfer to another centre"),
        step("refer_up", [RECEIVED, MEDIATING], RECEIVED, MEDIATORS, ["reason"],
             counter="escalate_count", label="Refer to the level above"),
        step("record_session", [MEDIATING], None, MEDIATORS, ["note"],
             label="Record a mediation session"),
        step("agree", [MEDIATING], AGREED, MEDIATORS, ["terms"],
             label="Record the agreement"),
        step("refer_out", [MEDIATING], REFERRED, MEDIATORS, ["route", "reason"],
             label="Mediation failed: refer to arbitration, litigation or petition"),
        step("follow_up", [AGREED], None, MEDIATORS | {GRID_WORKER}, ["note", "holds"],
             label="Follow up on the agreement"),
        step("close", [AGREED], CLOSED, MEDIATORS, ["note"], label="Close the case"),
        step("reopen", [AGREED, CLOSED], MEDIATING, MEDIATORS, ["reason"],
             counter="reopen_count", label="Reopen: the agreement did not hold"),
        step("withdraw", [RECEIVED, MEDIATING], CLOSED, OPS, ["reason"],
             label="The applicant withdrew"),
        step("request_extension", [MEDIATING], None, [MEDIATOR, HANDLER], ["reason", "amount"],
             label="Ask for more time"),
        step("approve_extension", [MEDIATING], None, OPS, counter="extension_count",
             label="Approve the extension"),
        step("refuse_extension", [MEDIATING], None, OPS, ["reason"],
             label="Refuse the extension"),
        step("supervise", [RECEIVED, MEDIATING, AGREED], None, OPS, ["note"],
             counter="supervise_count", label="Supervise (urge)"),
    ),
)

#: The stage (and so the time limit) that runs while a dispute is in a state.
STAGE_OF_STATE = {
    RECEIVED: "assign",
    MEDIATING: "mediate",
    AGREED: "follow_up",
}
STAGES = ("assign", "mediate", "follow_up")

#: Each stage's time limit, in working time.
LIMITS = {
    "assign": {"amount": 2, "unit": "working_days"},
    "mediate": {"amount": 15, "unit": "working_days"},
    "follow_up": {"amount": 10, "unit": "working_days"},
}

#: A stage's limit is multiplied by the factor of the dispute's risk level:
#: a high-risk dispute gets half the time.
RISK_FACTOR = {"low": 1.0, "medium": 1.0, "high": 0.5}

#: Where a dispute goes when mediation fails (``refer_out``'s ``route``):
#: 仲裁, 诉讼, 信访.
ROUTES = ("arbitration", "litigation", "petition")

#: The kinds of dispute (纠纷类型), in the order the forms list them.
DISPUTE_TYPES = (
    ("neighbour", _("Neighbourhood")),
    ("family", _("Marriage and family")),
    ("labour", _("Labour and wages")),
    ("land", _("Land")),
    ("property", _("Property management")),
    ("consumer", _("Consumer")),
    ("traffic", _("Traffic accident")),
    ("construction", _("Construction")),
    ("medical", _("Medical")),
    ("environment", _("Environment")),
    ("other", _("Other")),
)
