"""The patrol operations keep their schema under schemathesis as a grid
worker too (the API's own fuzz test acts as an operator, whom every patrol
write refuses): no server error, every answer as documented."""

from __future__ import annotations

import hypothesis
import pytest

from shanzhi.accounts.services import token_create
from tests.api.test_schema_fuzz import (  # noqa: F401 (an autouse fixture, used by name)
    CHECKS,
    PLAIN,
    SETTINGS,
    _one_connection_per_test,
    schema,
)

patrols = schema.include(path_regex=r"^/api/v1/patrols")


@pytest.fixture
def worker(personas):
    return {"Authorization": f"Bearer {token_create(username=personas.worker.username)}",
            **PLAIN}


@patrols.parametrize()
@hypothesis.settings(SETTINGS, max_examples=40)
def test_every_patrol_operation_keeps_its_schema_for_a_grid_worker(case, worker):
    case.call_and_validate(headers=worker, checks=CHECKS)
