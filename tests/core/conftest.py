from __future__ import annotations

import pytest

from shanzhi.core.calendar import WorkingCalendar
from shanzhi.core.models import reset_calendar

#: The package's calendar (2004–2026 entered; 2027 not): no database needed.
PACKAGE_CALENDAR = WorkingCalendar.from_package()


@pytest.fixture
def calendar() -> WorkingCalendar:
    return PACKAGE_CALENDAR


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    reset_calendar()
    yield
    reset_calendar()

