"""shanzhi serve"""

import logging
import threading
import time

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import close_old_connections, connection
from django.db.migrations.executor import MigrationExecutor

from shanzhi.core.commands import OperatorCommand
from shanzhi.core.errors import ValidationError


class Command(OperatorCommand):
    help = "Serve the web pages and the API (uvicorn, ASGI)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1",
                            help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1,
                            help="server processes (use PostgreSQL when more than one)")
        parser.add_argument("--no-sweep", action="store_true",
                            help="do not run the overdue sweep in-process even in embedded "
                            "mode (a separate `shanzhi worker` runs it)")

    def handle(self, *args, **opts):
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise ValidationError("the database is not up to date: run 'shanzhi migrate' first")
        import uvicorn

        if settings.WORKER_IN_SERVER and not opts["no_sweep"]:
            threading.Thread(target=sweep_forever, name="shanzhi-worker", daemon=True).start()
            self.stdout.write("running the overdue sweep in-process (embedded mode)")

        self.stdout.write(f"serving on http://{opts['host']}:{opts['port']}/ (Ctrl-C stops)")
        uvicorn.run("shanzhi.asgi:application", host=opts["host"], port=opts["port"],
                    workers=opts["workers"], log_level="info", lifespan="off")


def sweep_forever(interval: float = 60.0) -> None:
    """The worker's loop inside the server process (embedded mode)."""
    from shanzhi.cases.sla import plan, sweep

    log = logging.getLogger("shanzhi.worker")
    while True:
        try:
            counts = plan() | sweep()
            if any(counts.values()):
                log.info("sweep: %s", counts)
        except Exception:  # keep serving; the next round retries
            log.exception("sweep failed")
        finally:
            close_old_connections()
        time.sleep(interval)
