"""Shared by the benchmark scripts: the Suzhou demo in a throwaway (or reused)
SQLite data directory, and memory figures.

Import this module before anything from ``shanzhi``: ``demo_database()``
sets the environment Django reads at start-up.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REUSE_DIR = Path(tempfile.gettempdir()) / "shanzhi-bench"

if str(ROOT / "src") not in sys.path:  # runs from a checkout without `pip install -e`
    sys.path.insert(0, str(ROOT / "src"))


@dataclass(frozen=True)
class DemoDatabase:
    data_dir: Path
    #: Seconds spent building the demo; None when an existing one was reused.
    built_in: float | None
    #: SHANZHI_DATABASE_URL as it was before the benchmark forced SQLite.
    external_url: str


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reuse", nargs="?", const=str(DEFAULT_REUSE_DIR), metavar="DIR",
        help=f"keep the demo in DIR (default {DEFAULT_REUSE_DIR}) and reuse it next time, "
        "instead of building it in a temporary directory deleted at exit")


def demo_database(reuse: str | None, *, progress=print) -> DemoDatabase:
    """Start Django on a SQLite data directory holding the Suzhou demo, built if
    missing. SHANZHI_DATABASE_URL is taken out of the environment (and returned)
    so a benchmark never writes the demo into a real database."""
    if reuse:
        data_dir = Path(reuse).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="shanzhi-bench-"))
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    external_url = os.environ.pop("SHANZHI_DATABASE_URL", "")
    os.environ["SHANZHI_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "shanzhi.settings"

    import django

    django.setup()
    from django.core.management import call_command

    from shanzhi.demo.load import build_demo, demo_exists

    call_command("migrate", interactive=False, verbosity=0)
    built_in = None
    if demo_exists():
        progress(f"reusing the demo in {data_dir}")
    else:
        progress(f"building the Suzhou demo in {data_dir} …")
        started = time.perf_counter()
        build_demo(progress=lambda message: progress(f"  {message}"))
        built_in = time.perf_counter() - started
    return DemoDatabase(data_dir, built_in, external_url)


def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float | None:
    """Resident memory now, in MiB (Linux only)."""
    return _status_mb("VmRSS")


def reset_peak_rss() -> bool:
    """Restart the peak-RSS count from the current RSS (Linux ≥ 4.0); False if
    not possible, and then ``peak_rss_mb`` is the peak of the whole process."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory in MiB since ``reset_peak_rss`` (or since start)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throwaway_database(url: str) -> str:
    """Create (again) the benchmark's own PostgreSQL database named in ``url``
    (the name must contain "bench")."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to recreate database {name!r}: name it *bench*")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


#: Where ``locate.py`` compares with PostGIS when nothing else is said.
POSTGIS_URL = "postgresql://postgres@127.0.0.1:5432/shanzhi_bench_locate"
_apt_updated = False


def _local(url: str) -> bool:
    return (urlsplit(url).hostname or "localhost") in ("localhost", "127.0.0.1", "::1")


def install_postgis(major: int, *, progress=print) -> bool:
    """Install Debian's PostGIS for PostgreSQL ``major`` with apt (``apt-get
    update`` once per run, then ``apt-get install -y postgresql-<major>-postgis-3``).
    Only as root; otherwise say what to run. True if the package is installed."""
    global _apt_updated
    package = f"postgresql-{major}-postgis-3"
    if shutil.which("apt-get") is None:
        progress(f"PostGIS is missing and there is no apt-get here: install {package} "
                 f"(or your system's PostGIS for PostgreSQL {major}) yourself")
        return False
    if os.geteuid() != 0:
        progress(f"PostGIS is missing; the benchmark installs it only as root. Run:\n"
                 f"    sudo apt-get update && sudo apt-get install -y {package}\n"
                 f"and run the benchmark again")
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        progress("apt-get update …")
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False,
                       stdout=subprocess.DEVNULL)
        _apt_updated = True
    progress(f"apt-get install -y {package} …")
    done = subprocess.run(["apt-get", "install", "-y", "-q", package], env=env, check=False,
                          stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        progress(f"apt-get install {package} failed (exit {done.returncode})")
    return done.returncode == 0


def postgis_database(url: str, *, progress=print) -> str | None:
    """A fresh benchmark database (``throwaway_database``: the name must hold
    "bench") with the PostGIS extension; Debian's package is installed with
    apt when the server is on this machine and lacks it. None (and a message)
    when that is not possible: PostGIS is only ever needed by benchmarks."""
    import psycopg

    try:
        url = throwaway_database(url)
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        progress(f"cannot use {url}: {str(exc).splitlines()[0]}")
        return None
    with conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            return url
        except psycopg.Error as exc:
            progress(f"CREATE EXTENSION postgis: {str(exc).splitlines()[0]}")
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    if not _local(url):
        progress(f"the server of {url} is not on this machine: install PostGIS "
                 f"(postgresql-{major}-postgis-3) there")
        return None
    if not install_postgis(major, progress=progress):
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error as exc:
            progress(f"CREATE EXTENSION postgis after installing it: "
                     f"{str(exc).splitlines()[0]}")
            return None
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, url: str, workers: int,
                 interface: str = "asgi") -> tuple[subprocess.Popen, int]:
    """uvicorn serving shanzhi (``url``: "sqlite" or a PostgreSQL URL) on a free
    port, ``workers`` processes; its stderr goes to ``data_dir``/server.log."""
    port = free_port()
    env = {**os.environ, "SHANZHI_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT / "src")}
    if url == "sqlite":
        env.pop("SHANZHI_DATABASE_URL", None)
    else:
        env["SHANZHI_DATABASE_URL"] = url
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"shanzhi.{interface}:application", "--interface",
         "asgi3" if interface == "asgi" else interface, "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning",
         "--no-access-log", "--lifespan", "off"], cwd=ROOT, env=env,
        stderr=(data_dir / "server.log").open("w"))
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return server, port
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit("the server did not start")
        time.sleep(0.2)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
