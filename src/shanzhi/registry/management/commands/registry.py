"""shanzhi registry import|template|export"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils import translation

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.core.commands import OperatorCommand
from shanzhi.core.errors import NotFound, ValidationError
from shanzhi.registry import imports
from shanzhi.registry.models import ImportJob

FORMATS = ("xlsx", "csv")


def _actor(username: str | None) -> User:
    """The named user; without a name, the first active superuser."""
    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise NotFound(f"no active user {username!r}", field="actor")
        return user
    user = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        raise ValidationError("there is no superuser: name the acting user with --actor",
                              field="actor")
    return user


def _format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValidationError(f"the file must end in .xlsx or .csv: {path}", field="file")
    return fmt


class Command(OperatorCommand):
    help = "Registries: import people from Excel or CSV, write a template, export."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser),
                                    metavar="{import,template,export}")
        registries = sorted(imports.REGISTRIES)

        p = sub.add_parser("import", help="import a registry's rows from .xlsx or .csv",
                           description="Read an Excel workbook (first sheet) or a CSV file "
                           "(UTF-8 or GB18030) whose first row holds the template's headers. "
                           "Every bad row is listed as 'line N, column HEADER: message'. "
                           "Strict by default: any bad row and nothing is written (exit 1). "
                           "With --good-only the good rows are written and the bad listed.",
                           called_from_command_line=True)
        p.add_argument("registry", choices=registries)
        p.add_argument("file", type=Path)
        p.add_argument("--good-only", action="store_true",
                       help="write the good rows even if some are bad")
        p.add_argument("--actor", metavar="USERNAME",
                       help="import as this user (their territory; default: a superuser)")

        p = sub.add_parser("template", help="write an empty template (.xlsx or .csv)",
                           description="Write the registry's empty template; the suffix "
                           "chooses the format.", called_from_command_line=True)
        p.add_argument("registry", choices=registries)
        p.add_argument("file", type=Path)

        p = sub.add_parser("export", help="export the rows a user sees, masked",
                           description="Write the rows the actor may see, identity numbers "
                           "and phones masked, to .xlsx or .csv; the export is written in "
                           "the access log.", called_from_command_line=True)
        p.add_argument("registry", choices=registries)
        p.add_argument("file", type=Path)
        p.add_argument("--actor", metavar="USERNAME", required=True)
        p.add_argument("--q", default=None, help="only the rows this search finds")

    def handle(self, *args, **opts):
        getattr(self, "handle_" + opts["action"])(opts)

    def handle_import(self, opts) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise ValidationError(f"no such file: {path}", field="file")
        actor = _actor(opts["actor"])
        started = time.monotonic()

        def report(done: int, total: int) -> None:
            seconds = max(time.monotonic() - started, 1e-6)
            share = f"{100 * done / total:.0f}%" if total else "-"
            self.progress(f"{done:,}/{total:,} rows ({share}), {done / seconds:,.0f} rows/s")

        job = imports.run_import(registry=opts["registry"], path=path, actor=actor,
                                 good_only=opts["good_only"], progress=report)
        for error in job.errors:
            self.stderr.write(f"line {error['line']}, column {error['column']}: "
                              f"{error['message']}")
        if job.error_count > len(job.errors):
            self.stderr.write(f"… {job.error_count - len(job.errors):,} more bad rows")
        seconds = (job.ended_at - job.started_at).total_seconds() if job.ended_at else 0
        if job.state == ImportJob.State.DONE:
            self.stdout.write(f"imported {job.written:,} of {job.done:,} rows from {path} "
                              f"in {seconds:.1f} s ({job.error_count:,} bad rows skipped)"
                              if job.error_count else
                              f"imported {job.written:,} rows from {path} in {seconds:.1f} s")
            return
        raise CommandError(f"{job.error_count:,} bad row(s) in {job.done:,}: nothing written "
                           f"(fix them, or import the good rows with --good-only)"
                           if job.state == ImportJob.State.REFUSED else
                           "the import failed: nothing written", returncode=1)

    def handle_template(self, opts) -> None:
        path: Path = opts["file"]
        # the template is for the clerks who fill it: in the site's language
        with translation.override(settings.LANGUAGE_CODE):
            path.write_bytes(imports.template(opts["registry"], _format(path)))
        self.stdout.write(f"wrote the {opts['registry']} template to {path}")

    def handle_export(self, opts) -> None:
        path: Path = opts["file"]
        fmt = _format(path)
        actor = _actor(opts["actor"])
        chunks = imports.export_file(scope=Scope.for_user(actor), registry=opts["registry"],
                                     fmt=fmt, actor=actor, filters={"q": opts["q"]}
                                     if opts["q"] else {})
        size = 0
        with path.open("wb") as out:
            for chunk in chunks:
                size += out.write(chunk)
        self.stdout.write(f"exported {opts['registry']} to {path} ({size:,} bytes, masked)")
