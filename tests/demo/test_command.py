"""``shanzhi demo`` as a city's IT team runs it: the pages answer while the
history is still being built by a child process, which ends with every
incident written; the overdue sweep waits for it."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

INCIDENTS = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds: float, what: str, server: subprocess.Popen, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"shanzhi demo stopped:\n{log.read_text()}")
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{what} within {seconds} s:\n{log.read_text()}")


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_demo_serves_at_once_and_builds_its_history_in_the_background(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SHANZHI_DATABASE_URL"}
    env.update(SHANZHI_DATA_DIR=str(tmp_path), SHANZHI_LOG_LEVEL="WARNING")
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "shanzhi.cli", "demo", "--incidents", str(INCIDENTS),
             "--history-days", "3", "--port", str(port)],
            env=env, stdout=sink, stderr=subprocess.STDOUT)
    history_log = tmp_path / "demo-history.log"
    try:
        wait_for(lambda: answers(port), 180, "the pages answered", server, out)
        assert "in the background" in out.read_text()
        wait_for(lambda: history_log.exists()
                 and f"history: {INCIDENTS:,} incidents in" in history_log.read_text(),
                 180, "the history was built", server, out)
        assert answers(port)
    finally:
        server.terminate()
        server.wait(30)
    with sqlite3.connect(tmp_path / "shanzhi.sqlite3") as db:
        (count,) = db.execute("SELECT count(*) FROM incidents_incident").fetchone()
    assert count == INCIDENTS
