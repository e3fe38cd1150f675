"""``shanzhi analytics rebuild``: recount the command centre's rollups from the incidents."""

from __future__ import annotations

import time

from shanzhi.core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Command-centre rollups: 'rebuild' recounts them from the incidents (after a bulk load)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rebuild"])

    def handle(self, *args, **options):
        from shanzhi.analytics.services import rollups_rebuild

        started = time.monotonic()
        counts = rollups_rebuild()
        self.stdout.write(f"rebuilt in {time.monotonic() - started:.1f} s: "
                          f"{counts['days']} day rows, {counts['mix']} category/channel rows, "
                          f"{counts['open']} open rows")
