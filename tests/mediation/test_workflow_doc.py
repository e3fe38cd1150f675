"""docs/workflows/mediation.md shows the table that mediation/workflow.py holds."""

from __future__ import annotations

from pathlib import Path

from shanzhi.mediation import risk
from shanzhi.mediation import workflow as wf
from shanzhi.mediation.workflow import MEDIATION

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "mediation.md"


def text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_doc_contains_the_generated_table_verbatim_between_the_markers():
    body = text()
    start = body.index("<!-- table: generated from workflow.py -->\n")
    end = body.index("\n<!-- end of table -->")
    assert body[start:end].split("\n", 1)[1] == MEDIATION.markdown_table(), (
        "docs/workflows/mediation.md differs from workflow.py; regenerate the table with "
        "python -c 'from shanzhi.mediation.workflow import MEDIATION; "
        "print(MEDIATION.markdown_table())'")


def test_the_doc_names_every_state_the_stage_it_runs_and_its_limit():
    lines = text().splitlines()
    for state in wf.STATES:
        row = f"| `{state}` |"
        line = next((line for line in lines if line.startswith(row)), None)
        assert line is not None, state
        stage = wf.STAGE_OF_STATE.get(state)
        if stage:
            days = wf.LIMITS[stage]["amount"]
            assert wf.LIMITS[stage]["unit"] == "working_days"
            assert f"| {stage} | {days} working days |" in line, line
        else:
            assert line.endswith("| — | — |"), line


def test_the_doc_states_the_risk_thresholds_the_code_uses():
    body = text()
    for reason in risk.REASONS:
        assert f"| `{reason}` |" in body, reason
    for figure in (risk.MANY_PEOPLE_MEDIUM, risk.MANY_PEOPLE_HIGH, risk.REPEAT_VISITS_MEDIUM,
                   risk.REPEAT_VISITS_HIGH):
        assert f"{figure} or more" in body, figure
    assert f"{int(risk.LARGE_AMOUNT):,} yuan" in body
    for route in wf.ROUTES:
        assert f"`{route}`" in body, route
