"""The page tests share the incident fixtures: the west district's
departments, the cast of personas and the helpers that drive an incident
through the real services (tests/incidents/conftest.py)."""

from tests.incidents.conftest import _fresh_calendar, cast, desk  # noqa: F401
