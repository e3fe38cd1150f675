"""The follow-up task workflow (走访/随访): one pure table (no ORM). A task is
opened for each visit a special-group member is due (its limit from the
group's follow-up rule), for each residence permit near its end (续签提醒)
and for each key place's inspection; the grid worker records it (note,
photos, position) and the next one is planned. ``docs/workflows/visit.md``
shows the table; a test checks the two agree."""

from __future__ import annotations

from shanzhi.core.workflow import Workflow, step

DUE = "due"  # 待走访
DONE = "done"  # 已走访
CANCELLED = "cancelled"  # 已取消 (left the group, moved away, place closed)

STATES = (DUE, DONE, CANCELLED)
OPEN_STATES = frozenset({DUE})
FINAL_STATES = frozenset({DONE, CANCELLED})

# roles (the values of shanzhi.accounts.models.Role, kept here as plain strings)
CITY_ADMIN = "city_admin"
OPERATOR = "operator"
GRID_WORKER = "grid_worker"
OPS = frozenset({CITY_ADMIN, OPERATOR})

# what a task follows up
GROUP = "group"  # a special-group member's visit (特殊人群随访)
PERMIT = "permit"  # a residence permit's renewal (居住证续签提醒)
PLACE = "place"  # a key place's inspection (重点场所检查)
KINDS = (GROUP, PERMIT, PLACE)

VISIT = Workflow(
    name="visit",
    states=STATES,
    initial=DUE,
    final=FINAL_STATES,
    transitions=(
        step("record", [DUE], DONE, OPS | {GRID_WORKER}, ["note"],
             label="Record the visit (note, photos, position)"),
        step("reassign", [DUE], None, OPS, ["assignee"], label="Give to another grid worker"),
        step("cancel", [DUE], CANCELLED, OPS, ["reason"],
             label="Cancel (left the group, moved away, closed)"),
        step("request_extension", [DUE], None, [GRID_WORKER], ["reason", "amount"],
             label="Ask for more time"),
        step("approve_extension", [DUE], None, OPS, counter="extension_count",
             label="Approve the extension"),
        step("refuse_extension", [DUE], None, OPS, ["reason"], label="Refuse the extension"),
        step("supervise", [DUE], None, OPS, ["note"], counter="supervise_count",
             label="Supervise (urge)"),
    ),
)

#: The stage (and so the time limit) that runs while a task is open.
STAGE_OF_STATE = {DUE: "visit"}
STAGES = ("visit",)

#: The default follow-up rules (group → risk level → working days between
#: visits): monthly at the lowest level, every two weeks at the middle one,
#: weekly at the highest. ``FollowUpRule`` rows override them per group and level.
LEVELS = ("low", "medium", "high")
DEFAULT_INTERVAL = {"low": 20, "medium": 10, "high": 5}
#: A permit renewal task opens this many days before the permit ends; a key
#: place is inspected every PLACE_INTERVAL working days.
PERMIT_NOTICE_DAYS = 30
PLACE_INTERVAL = 20
