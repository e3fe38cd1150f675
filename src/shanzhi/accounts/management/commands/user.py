"""shanzhi user create"""

from django.core.management.base import CommandParser

from shanzhi.accounts.models import GridWorker, Role
from shanzhi.accounts.services import user_create
from shanzhi.core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Users: create one with a role and a territory."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("create", help="create a user", called_from_command_line=True,
                           description="Create a user. City admins, operators and viewers need "
                           "--region; handlers need --department; grid workers need --grid "
                           "(repeat it for several grids). The password must pass the "
                           "password rules (8 characters or more, three of: upper case, "
                           "lower case, digits, other characters; not common, not all "
                           "digits).")
        p.add_argument("--username", required=True)
        p.add_argument("--password", required=True)
        p.add_argument("--role", required=True, choices=Role.values)
        p.add_argument("--region", metavar="CODE", help="the region the user serves")
        p.add_argument("--grid", metavar="CODE", action="append", default=[],
                       help="a grid the grid worker patrols (repeatable)")
        p.add_argument("--department", metavar="CODE", help="the handler's department")
        p.add_argument("--kind", choices=GridWorker.Kind.values,
                       default=GridWorker.Kind.FULL_TIME, help="grid worker: full- or part-time")
        p.add_argument("--name", default="", help="the name shown on pages")

    def handle(self, *args, **opts):
        user = user_create(username=opts["username"], password=opts["password"],
                           role=opts["role"], region_code=opts["region"],
                           grid_codes=opts["grid"], department_code=opts["department"],
                           worker_kind=opts["kind"], display_name=opts["name"],
                           validate=True)
        self.stdout.write(f"created {user.role} {user.username}")
