"""shanzhi department create"""

from django.core.management.base import CommandParser

from shanzhi.accounts.services import department_create
from shanzhi.core.commands import OperatorCommand


class Command(OperatorCommand):
    help = "Departments: create a handling unit at some level."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("create", help="create a department", called_from_command_line=True)
        p.add_argument("--code", required=True)
        p.add_argument("--name", required=True)
        p.add_argument("--region", required=True, metavar="CODE",
                       help="the region at whose level it works")
        p.add_argument("--kind", default="",
                       help="its function, shared with the same department at other levels "
                       "(e.g. CGJ for 城管局); category rules route by kind")

    def handle(self, *args, **opts):
        dept = department_create(code=opts["code"], name=opts["name"],
                                 region_code=opts["region"], kind=opts["kind"])
        self.stdout.write(f"created department {dept.code} {dept.name}")
