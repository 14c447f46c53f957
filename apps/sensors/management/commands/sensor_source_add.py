from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.management.agency import agency_for_command
from apps.sensors.models import SensorSource
from apps.sensors.services import sensor_source_create, sensor_source_rotate_secret

DEFAULT_ORI = "WA0170000"


class Command(BaseCommand):
    help = (
        "Register a sensor source (prints its webhook path and secret, once), or give an existing one a new "
        "secret with --rotate KEY. The secret is stored encrypted and cannot be shown again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="What the analysts see, e.g. 'ALPR Rainier Ave S northbound'.")
        parser.add_argument("--kind", choices=SensorSource.Kind.values)
        parser.add_argument("--latitude", type=float)
        parser.add_argument("--longitude", type=float)
        parser.add_argument("--agency", default=DEFAULT_ORI, help=f"ORI of the agency (default {DEFAULT_ORI}).")
        parser.add_argument("--rotate", metavar="KEY", help="A new secret for the source with this key.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rotate"]:
            source = SensorSource.objects.filter(key=options["rotate"]).first()
            if source is None:
                raise CommandError("No source with that key.")
            secret = sensor_source_rotate_secret(source=source, actor=None)
        else:
            agency = agency_for_command(options["agency"])
            if not options["name"] or not options["kind"]:
                raise CommandError("Give --name and --kind (or --rotate KEY).")
            source, secret = sensor_source_create(agency=agency, name=options["name"], kind=options["kind"],
                                                  actor=None, latitude=options["latitude"],
                                                  longitude=options["longitude"])
        path = {"alpr": "alpr", "gunshot": "gunshot", "video_analytics": "analytics"}[source.kind]
        self.stdout.write(f"webhook: POST /api/v1/sensors/webhooks/{path}/{source.key}")
        self.stdout.write(f"secret:  {secret}")
        self.stdout.write("The secret is shown only now. Sign each request as docs/sensors.md describes.")
