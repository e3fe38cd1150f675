"""The demo's progress record: the process that builds the history writes
how many incidents it has made, of how many, since when (a JSON file in the
data directory that every server process reads); the pages' banner reads it
(tests/web/test_demo_banner.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from shanzhi.demo import progress as demo_progress
from shanzhi.demo.history import build_history
from shanzhi.demo.progress import (
    ProgressRecorder,
    clear_progress,
    read_progress,
    record_progress,
)
from tests.demo.test_history import END, _small_city

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def test_the_record_says_how_many_of_how_many_since_when(tmp_path):
    with time_machine.travel(NOW, tick=False):
        record_progress(made=12_345, total=50_000, started_at=NOW - dt.timedelta(minutes=3))
        found = read_progress()
    assert json.loads((tmp_path / "demo-progress.json").read_text()) == {
        "made": 12_345, "total": 50_000, "started_at": "2026-11-26T07:57:00+00:00",
        "updated_at": "2026-11-26T08:00:00+00:00"}
    assert (found.made, found.total) == (12_345, 50_000)
    assert found.minutes_left(NOW) == 9  # 37,655 more at 4,115 a minute
    assert list(tmp_path.iterdir()) == [tmp_path / "demo-progress.json"]  # no partial file


def test_cleared_or_unreadable_there_is_no_progress(tmp_path):
    record_progress(made=1, total=2, started_at=NOW)
    clear_progress()
    assert read_progress() is None
    (tmp_path / "demo-progress.json").write_text("{half a file")
    assert read_progress() is None


def test_the_recorder_writes_the_first_call_at_most_every_two_seconds_and_always_the_last(
        tmp_path, monkeypatch):
    clock = iter([100.0, 100.5, 101.0, 102.5, 102.6, 102.7])
    monkeypatch.setattr(demo_progress.time, "monotonic", lambda: next(clock))
    recorder = ProgressRecorder(total=5)
    written = []
    monkeypatch.setattr(demo_progress, "record_progress",
                        lambda **fields: written.append(fields["made"]))
    for made in range(6):
        recorder(made)
    assert written == [0, 3, 5]


def test_building_the_history_reports_each_incident_made(db):
    _small_city()
    made = []
    build_history(days=2, incidents=20, seed=7, end=END, progress=lambda m: None,
                  on_report=made.append)
    assert made == list(range(21))


def test_the_demo_s_builder_writes_the_record_the_pages_read(db, tmp_path, monkeypatch):
    """What ``shanzhi demo`` passes to build_history: the record appears while
    incidents are made (seen from inside the build) and says the last count."""
    _small_city()
    seen = []
    recorder = ProgressRecorder(total=20)

    def on_report(count: int) -> None:
        recorder(count)
        if count in (0, 20):
            seen.append(json.loads((tmp_path / "demo-progress.json").read_text())["made"])

    build_history(days=2, incidents=20, seed=7, end=END, progress=lambda m: None,
                  on_report=on_report)
    assert seen == [0, 20]
