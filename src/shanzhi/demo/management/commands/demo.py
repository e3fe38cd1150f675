"""shanzhi demo [--no-serve] [--incidents N] [--history-days D]

Serving, the history is built by a child process while the pages are already
up (the overdue sweep starts once it is done: it must not run ahead of the
history's simulated clock); with ``--no-serve``, in this process."""

import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandParser

from shanzhi.core.commands import OperatorCommand
from shanzhi.demo.history import build_history
from shanzhi.demo.load import DEMO_PASSWORD, build_demo, demo_exists, train_demo_model
from shanzhi.demo.progress import ProgressRecorder, clear_progress
from shanzhi.incidents.models import Incident


class Command(OperatorCommand):
    help = ("Build the Suzhou demo database (real districts and towns, generated communities "
            "and 10,000+ grids, users for every role, and the incidents of the last 90 days "
            "made through the workflow), then serve it.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true",
                            help="exit after building instead of serving")
        parser.add_argument("--seed", type=int, default=2026,
                            help="the seed of the generated boundaries (same seed, same city)")
        parser.add_argument("--incidents", type=int, default=50_000,
                            help="incidents of the history (default 50,000; 0: none)")
        parser.add_argument("--history-days", type=int, default=90,
                            help="days of history up to now (default 90)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **opts):
        started = time.monotonic()
        self.progress("migrating the database …")
        call_command("migrate", interactive=False, verbosity=0)
        if demo_exists():
            self.progress("the demo is already built (delete the data directory to rebuild)")
        else:
            build_demo(seed=opts["seed"], progress=self.progress)
            self.progress(f"territory built in {time.monotonic() - started:.0f} s")
        history = opts["incidents"] > 0 and not Incident.objects.exists()
        if history and opts["no_serve"]:
            try:  # the pages show how far it is (demo/progress.py)
                build_history(days=opts["history_days"], incidents=opts["incidents"],
                              seed=opts["seed"], progress=self.progress,
                              on_report=ProgressRecorder(total=opts["incidents"]))
            finally:
                clear_progress()
            self.progress(f"built in {time.monotonic() - started:.0f} s")
            train_demo_model(progress=self.progress)  # intake suggests from the start
        if opts["no_serve"] or not history:  # else after the history, in its child process
            from shanzhi.demo.mediation import build_mediation

            build_mediation(days=opts["history_days"], seed=opts["seed"], progress=self.progress)
        self.stdout.write(
            f"\nDemo log-ins (password for all: {DEMO_PASSWORD})\n"
            "  admin               city administrator, 苏州市 (also the Django admin)\n"
            "  city_operator       operator, 苏州市 linkage centre\n"
            "  gusu_operator       operator, 姑苏区\n"
            "  town_operator       operator, a street of 姑苏区\n"
            "  community_operator  operator, a community of that street\n"
            "  wujiang_operator    operator, 吴江区\n"
            "  city_handler        handler, 苏州市城管局\n"
            "  gusu_handler        handler, 姑苏区住建局\n"
            "  worker_full         full-time grid worker, two grids\n"
            "  worker_part         part-time grid worker, one grid\n"
            "  viewer              viewer, 苏州市\n"
            "  mediator_<code>     mediator of the dispute mediation centre of a district or a\n"
            "                      town (mediator_320508 姑苏区, mediator_320508017 白洋湾街道)\n")
        if opts["no_serve"]:
            return
        if not history:
            call_command("serve", host=opts["host"], port=opts["port"])
            return
        child, log = self._history_in_background(opts)
        try:
            call_command("serve", host=opts["host"], port=opts["port"], no_sweep=True)
        finally:
            if child.poll() is None:
                child.terminate()
                clear_progress()
                self.progress(f"the history was stopped before its end (see {log}); "
                              "delete the data directory to build it again")

    def _history_in_background(self, opts) -> tuple[subprocess.Popen, Path]:
        """``shanzhi demo --no-serve`` in a child process: it finds the
        territory built and makes the history; then the sweep starts here."""
        log = Path(settings.DATA_DIR) / "demo-history.log"
        command = [sys.executable, "-m", "shanzhi.cli", "demo", "--no-serve",
                   "--incidents", str(opts["incidents"]), "--history-days",
                   str(opts["history_days"]), "--seed", str(opts["seed"])]
        clear_progress()  # a record left by a build that was killed
        with log.open("w") as out:
            child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.progress(f"building {opts['incidents']:,} incidents of history in the background "
                      f"(about {opts['incidents'] // 4_000 + 1} min; the pages fill as it "
                      f"goes): tail -f {log}")

        def sweep_when_done() -> None:
            code = child.wait()
            clear_progress()  # however it ended, no banner promises more
            if code == 0 and settings.WORKER_IN_SERVER:
                from shanzhi.web.management.commands.serve import sweep_forever

                sweep_forever()

        threading.Thread(target=sweep_when_done, name="shanzhi-demo-history",
                         daemon=True).start()
        return child, log
