"""shanzhi worker"""

import logging
import time

from django.core.management.base import CommandParser
from django.utils import timezone

from shanzhi.cases import hooks
from shanzhi.cases.sla import sweep
from shanzhi.core.commands import OperatorCommand

log = logging.getLogger(__name__)


def plan() -> dict[str, int]:
    """What the apps plan before each sweep (``cases.hooks.sweeping``: the
    registry's follow-up visits), with the counts they return."""
    counts: dict[str, int] = {}
    for receiver, result in hooks.sweeping.send_robust(sender=Command, now=timezone.now()):
        if isinstance(result, Exception):
            log.error("planning by %r failed", receiver, exc_info=result)
        elif result:
            counts.update(result)
    return counts


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
