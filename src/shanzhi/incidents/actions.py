"""What each incident action takes: its fields, whether it takes photos, and
their validation — shared by the API and the pages."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shanzhi.cases.engine import MAX_NOTE, MAX_REASON, MAX_RESULT
from shanzhi.core.input import longest


class ActionIn(BaseModel):
    """Fields of a workflow action; each action uses the ones it needs."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    note: str = Field("", **longest(MAX_NOTE))
    reason: str = Field("", **longest(MAX_REASON))
    result: str = Field("", **longest(MAX_RESULT))
    department: str = Field("", max_length=32)
    region: str = Field("", max_length=32)
    original: str = Field("", max_length=40)
    category: str | None = Field(None, max_length=32)
    amount: float | None = Field(None, ge=0)
    unit: Literal["working_days", "working_hours", "natural_hours"] = "working_days"
    level: Literal["yellow", "red", "black"] = "yellow"
    satisfaction: Literal["", "satisfied", "basically_satisfied", "dissatisfied"] = ""


ACTION_FIELDS = {
    "accept": ["note", "category"], "reject": ["reason"], "merge": ["original"],
    "self_resolve": ["result"], "assign_down": ["region", "note"],
    "dispatch": ["department", "note"], "escalate": ["reason"], "sign": ["note"],
    "return": ["reason"], "report_result": ["result"], "verify_pass": ["note"],
    "verify_fail": ["reason"], "request_extension": ["reason", "amount", "unit"],
    "approve_extension": ["note"], "refuse_extension": ["reason"],
    "supervise": ["note", "level"], "callback": ["satisfaction", "note"],
    "reopen": ["reason"],
}
PHOTO_ACTIONS = {"self_resolve", "report_result", "verify_fail"}
