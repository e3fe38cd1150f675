"""docs/workflows/incident.md shows the table that incidents/workflow.py holds."""

from __future__ import annotations

from pathlib import Path

from shanzhi.incidents import workflow as wf
from shanzhi.incidents.workflow import INCIDENT

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows" / "incident.md"


def test_the_doc_contains_the_generated_table_verbatim():
    assert INCIDENT.markdown_table() in DOC.read_text(encoding="utf-8"), (
        "docs/workflows/incident.md differs from workflow.py; regenerate the table with "
        "python -c 'from shanzhi.incidents.workflow import INCIDENT; "
        "print(INCIDENT.markdown_table())'")


def test_the_doc_names_every_state_and_the_stage_it_runs():
    text = DOC.read_text(encoding="utf-8")
    for state in wf.STATES:
        stage = wf.STAGE_OF_STATE.get(state)
        row = f"| `{state}` |"
        assert row in text, state
        line = next(line for line in text.splitlines() if line.startswith(row))
        assert (f"| {stage} |" in line) if stage else ("| — | — |" in line), line
