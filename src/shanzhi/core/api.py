"""Working-calendar endpoints: when does a period end?"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import WithJsonSchema

from .calendar import Unit, check_amount, check_unit, parse_instant
from .input import Out, errors
from .models import get_calendar

router = Router(tags=["calendar"])
UNITS = [u.value for u in Unit]


class DueOut(Out):
    start: datetime
    due: datetime
    warn_at: datetime
    unit: str
    amount: int | float
    warnings: list[str]


@router.get("/due", response={200: DueOut, **errors()},
            summary="The end of a period in working time")
def due(request: HttpRequest, start: Annotated[str, Query(max_length=40)],
        amount: Annotated[str, Query(max_length=40)],
        unit: Annotated[str, Query(max_length=40),
                        WithJsonSchema({"type": "string", "enum": UNITS})]):
    """``start`` is ISO 8601 *with* its UTC offset (``2026-02-13T16:00:00+08:00``;
    encode ``+`` as ``%2B`` — a bare ``+`` that arrives as a space is accepted);
    a start without offset is refused. ``unit`` is ``working_days`` (whole
    numbers; the start day is not counted; the period ends at the close of
    office), ``working_hours`` (office time on working days) or
    ``natural_hours``. ``warn_at`` is when 80 % of the limit is used (the
    yellow light). ``warnings`` name the years without an official schedule
    that the computation consulted (Monday–Friday assumed). Times are given
    in the city's zone (Asia/Shanghai)."""
    instant = parse_instant(start)
    checked_unit = check_unit(unit)
    checked_amount = check_amount(amount, checked_unit)
    calendar = get_calendar()
    result = calendar.add(instant, checked_amount, checked_unit)
    return {
        "start": instant.astimezone(calendar.tz),
        "due": result.at,
        "warn_at": calendar.warn_at(instant, checked_amount, checked_unit),
        "unit": checked_unit.value,
        "amount": checked_amount,
        "warnings": list(result.warnings),
    }
