"""shanzhi token create"""

from django.core.management.base import CommandParser

from shanzhi.accounts.services import token_create
from shanzhi.core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "API tokens: print a new bearer token for a user."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("create", help="print a new token", called_from_command_line=True,
                           description="Print a new API token. Programs send it as "
                           "'Authorization: Bearer <token>'. It is shown once; only its hash "
                           "is stored. Revoke it in the admin.")
        p.add_argument("--username", required=True)
        p.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, **opts):
        self.stdout.write(token_create(username=opts["username"], name=opts["name"]))
