"""How far the demo's history is: a small JSON file in the data directory
(``demo-progress.json``), written by the process that builds the history
(``shanzhi demo`` builds it in a child process while the pages are up) and
read by every server process. Pages show a banner from it while the history
is being built; the file is removed when the build ends, so nothing shows.

A record not written for :data:`STALE_AFTER` (the builder was killed) is
ignored: a banner must never promise an end that will not come."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

FILE_NAME = "demo-progress.json"
#: A builder writes at least this often (seconds) while it reports incidents.
WRITE_EVERY = 2.0
#: A record older than this (no builder writes it any more) is ignored.
STALE_AFTER = dt.timedelta(minutes=10)


def progress_path() -> Path:
    return Path(settings.DATA_DIR) / FILE_NAME


@dataclass(frozen=True)
class Progress:
    """``made`` of ``total`` incidents reported since ``started_at``."""

    made: int
    total: int
    started_at: dt.datetime
    updated_at: dt.datetime

    @property
    def done(self) -> bool:
        return self.made >= self.total

    def remaining(self, now: dt.datetime | None = None) -> dt.timedelta | None:
        """The time still needed at the rate so far (None before the first incident)."""
        now = now or timezone.now()
        spent = (now - self.started_at).total_seconds()
        if self.made <= 0 or spent <= 0:
            return None
        return dt.timedelta(seconds=(self.total - self.made) * spent / self.made)

    def minutes_left(self, now: dt.datetime | None = None) -> int | None:
        """``remaining`` in whole minutes, at least 1."""
        left = self.remaining(now)
        return None if left is None else max(1, round(left.total_seconds() / 60))


def record_progress(*, made: int, total: int, started_at: dt.datetime,
                    path: Path | None = None) -> None:
    """Write the record (atomically: a reader never sees half a file)."""
    path = path or progress_path()
    body = {"made": made, "total": total, "started_at": started_at.isoformat(),
            "updated_at": timezone.now().isoformat()}
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(body))
    os.replace(partial, path)


def clear_progress(path: Path | None = None) -> None:
    (path or progress_path()).unlink(missing_ok=True)


def read_progress(*, now: dt.datetime | None = None, path: Path | None = None) -> Progress | None:
    """The history being built now, or None (not building, done, or stale)."""
    path = path or progress_path()
    try:
        data = json.loads(path.read_text())
        progress = Progress(made=int(data["made"]), total=int(data["total"]),
                            started_at=dt.datetime.fromisoformat(data["started_at"]),
                            updated_at=dt.datetime.fromisoformat(data["updated_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = now or timezone.now()
    if progress.done or progress.total <= 0 or now - progress.updated_at > STALE_AFTER:
        return None
    return progress


class ProgressRecorder:
    """What ``build_history`` calls as incidents are reported: writes the
    record at most every :data:`WRITE_EVERY` seconds, and always the last."""

    def __init__(self, *, total: int, path: Path | None = None) -> None:
        self.total = total
        self.path = path or progress_path()
        self.started_at = timezone.now()
        self._written = -math.inf

    def __call__(self, made: int) -> None:
        now = time.monotonic()
        if made < self.total and now - self._written < WRITE_EVERY:
            return
        self._written = now
        record_progress(made=made, total=self.total, started_at=self.started_at,
                        path=self.path)
