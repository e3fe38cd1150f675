"""The API tests share the incident fixtures: the west district's departments,
the cast of personas and the helper that drives the incident API
(tests/incidents/conftest.py)."""

from tests.incidents.conftest import _fresh_calendar, api, cast, desk  # noqa: F401
