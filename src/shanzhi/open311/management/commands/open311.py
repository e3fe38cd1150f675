"""shanzhi open311 key create | list | revoke"""

from django.core.management.base import CommandParser

from shanzhi.core.commands import OperatorCommand
from shanzhi.core.errors import NotFound
from shanzhi.open311.models import ApiKey
from shanzhi.open311.services import key_create, key_revoke


class Command(OperatorCommand):
    help = "Open311 GeoReport v2: API keys of client applications."

    def add_arguments(self, parser: CommandParser) -> None:
        top = parser.add_subparsers(dest="noun", required=True, parser_class=type(parser))
        key = top.add_parser("key", help="API keys", called_from_command_line=True)
        sub = key.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("create", help="create a key and print it",
                           called_from_command_line=True,
                           description="Create an Open311 API key and print it (shown once; "
                           "only its hash is stored). Clients send it as the api_key "
                           "parameter. It reports as a service account, an operator of "
                           "the jurisdiction.")
        p.add_argument("--name", required=True, help="the application it is for")
        p.add_argument("--jurisdiction", help="the city's code (needed when several are "
                       "served)")
        p.add_argument("--rate-limit", type=int, default=60, help="requests a minute (60)")
        p.add_argument("--tokens", action="store_true",
                       help="answer new requests with a token instead of their id")
        sub.add_parser("list", help="list the keys", called_from_command_line=True)
        r = sub.add_parser("revoke", help="revoke a key by its first characters",
                           called_from_command_line=True)
        r.add_argument("hint", help="the key's first characters (as listed)")

    def handle(self, *args, **opts):
        if opts["action"] == "create":
            _key, secret = key_create(name=opts["name"], jurisdiction=opts["jurisdiction"],
                                      rate_limit=opts["rate_limit"],
                                      answers_with_token=opts["tokens"])
            self.stdout.write(secret)
        elif opts["action"] == "list":
            for key in ApiKey.objects.select_related("jurisdiction").defer(
                    "jurisdiction__geometry"):
                state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "live"
                self.stdout.write(f"{key.hint}\t{key.name}\t{key.jurisdiction.code}\t"
                                  f"{key.rate_limit}/min\t{state}")
        else:
            key = ApiKey.objects.filter(hint__startswith=opts["hint"]).first() \
                if len(opts["hint"]) >= 6 else None
            if key is None:
                raise NotFound(f"no key starting with {opts['hint']!r} (give at least 6 "
                               "characters)", field="hint")
            key_revoke(key=key)
            self.stdout.write(f"revoked {key.hint}… ({key.name})")
