"""Helpers shared by the operator commands: one line per problem, non-zero exit."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from .errors import DomainError


class OperatorCommand(BaseCommand):
    """A command whose domain errors become one clear line each and exit code 1.
    It speaks English: without a request there is no reader's language, and
    the services' messages (gettext, English msgids) stay untranslated."""

    def execute(self, *args, **options):
        try:
            with translation.override(None):
                return super().execute(*args, **options)
        except DomainError as exc:
            for line in exc.lines():
                self.stderr.write(line)
            raise CommandError(exc.message, returncode=1) from None

    def progress(self, message: str) -> None:
        """A progress line on stderr (stdout stays clean for data)."""
        print(message, file=sys.stderr, flush=True)
