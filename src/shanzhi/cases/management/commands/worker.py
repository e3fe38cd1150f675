"""shanzhi worker"""

import time

from django.core.management.base import CommandParser

from shanzhi.cases.sla import plan, sweep
from shanzhi.core.commands import OperatorCommand


class Command(OperatorCommand):
    help = ("Run the background work: the apps' planning (follow-up visits due) and the "
            "overdue sweep (yellow and red lights, notifications, automatic supervision and "
            "escalation). Several may run at once.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one sweep, then exit")
        parser.add_argument("--interval", type=float, default=30.0,
                            help="seconds between sweeps (default 30)")

    def handle(self, *args, **opts):
        while True:
            counts = plan() | sweep()
            if any(counts.values()) or opts["once"]:
                self.stdout.write(", ".join(f"{k} {v}" for k, v in counts.items()))
            if opts["once"]:
                return
            time.sleep(opts["interval"])
