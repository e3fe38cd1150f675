"""shanzhi demo [--no-serve] [--incidents N] [--history-days D]"""

import time

from django.core.management import call_command
from django.core.management.base import CommandParser

from shanzhi.core.commands import OperatorCommand
from shanzhi.demo.history import build_history
from shanzhi.demo.load import DEMO_PASSWORD, build_demo, demo_exists
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
        if opts["incidents"] > 0 and not Incident.objects.exists():
            build_history(days=opts["history_days"], incidents=opts["incidents"],
                          seed=opts["seed"], progress=self.progress)
            self.progress(f"built in {time.monotonic() - started:.0f} s")
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
            "  viewer              viewer, 苏州市\n")
        if not opts["no_serve"]:
            call_command("serve", host=opts["host"], port=opts["port"])
