"""shanzhi device create"""

from django.core.management.base import CommandParser

from shanzhi.core.commands import OperatorCommand
from shanzhi.incidents.services import device_create


class Command(OperatorCommand):
    help = "Devices: register an IoT sensor or a video-analytics source for the alert webhook."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("create", called_from_command_line=True,
                           help="register a device and print its token",
                           description="Register a device. It posts alerts to "
                           "/api/v1/intake/devices/<id>/alerts with 'Authorization: Bearer "
                           "<token>'; the token is shown once.")
        p.add_argument("--id", required=True, dest="device_id")
        p.add_argument("--name", required=True)
        p.add_argument("--channel", required=True, choices=["iot", "video"])
        p.add_argument("--category", help="the category of its alerts (a subclass code)")
        p.add_argument("--lng", type=float, help="where it stands (WGS-84)")
        p.add_argument("--lat", type=float)

    def handle(self, *args, **opts):
        _device, token = device_create(device_id=opts["device_id"], name=opts["name"],
                                       channel=opts["channel"], category=opts["category"],
                                       lng=opts["lng"], lat=opts["lat"])
        self.stdout.write(token)
