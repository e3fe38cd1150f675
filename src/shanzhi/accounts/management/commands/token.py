"""shanzhi token create"""

from django.core.management.base import CommandParser
from django.utils import timezone

from shanzhi.accounts.models import ApiToken
from shanzhi.accounts.services import token_create
from shanzhi.core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "API tokens: print a new bearer token for a user."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("create", help="print a new token", called_from_command_line=True,
                           description="Print a new API token. Programs send it as "
                           "'Authorization: Bearer <token>'. It is shown once; only its hash "
                           "is stored. It expires after SHANZHI_TOKEN_DAYS days (the expiry is "
                           "printed on standard error); renew it before with "
                           "POST /api/v1/tokens/renew. Revoke it in the admin.")
        p.add_argument("--username", required=True)
        p.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args, **opts):
        key = token_create(username=opts["username"], name=opts["name"])
        expires_at = ApiToken.objects.get(key_hash=ApiToken.hash(key)).expires_at
        self.stdout.write(key)
        self.stderr.write(f"expires {timezone.localtime(expires_at):%Y-%m-%d %H:%M %Z}")
