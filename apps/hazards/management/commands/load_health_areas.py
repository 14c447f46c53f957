from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.common.management.progress import command_progress
from apps.hazards.loading import (
    HealthDataError,
    health_dataset_load,
    read_areas,
    read_long_rates,
    read_wide_rates,
    rows_to_write,
)


class Command(BaseCommand):
    help = (
        "Load (or reload) a health dataset: areas from a GeoJSON FeatureCollection of Polygons/MultiPolygons "
        "and weekly rates from a CSV, either wide (one column per area, named with a prefix) or long (--long: "
        "one row per area and week). Reloading a name replaces its rates; nothing is written if a file is bad."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Dataset name, e.g. 'NYC COVID-19 by MODZCTA'.")
        parser.add_argument("--disease", required=True, help="e.g. COVID-19")
        parser.add_argument("--geojson", required=True, type=Path)
        parser.add_argument("--area-property", required=True, help="The feature property holding the area code.")
        parser.add_argument("--label-property", default="", help="The feature property holding a readable name.")
        parser.add_argument("--rates", required=True, type=Path, help="CSV of weekly rates.")
        parser.add_argument("--week-column", required=True)
        parser.add_argument("--week-format", required=True, help="strptime format, e.g. %%m/%%d/%%Y")
        parser.add_argument("--rate-column-prefix", default="", help="Wide CSV: rate columns are prefix + code.")
        parser.add_argument("--long", action="store_true", help="Long CSV: one row per area and week.")
        parser.add_argument("--area-column", default="", help="Long CSV: the column holding the area code.")
        parser.add_argument("--rate-column", default="", help="Long CSV: the column holding the rate.")
        parser.add_argument("--ppe", default=None, help="PPE advice for officers going into a hotspot.")
        parser.add_argument("--rate-unit", default=None, help="Default: cases per 100,000 per week.")
        parser.add_argument("--source", default=None, help="Where the data comes from (default: the file names).")
        parser.add_argument("--agency", action="append", dest="agencies", metavar="ORI",
                            help="An agency whose briefings use this dataset (repeat for several); "
                                 "without any, every agency's do. A reload without it keeps the earlier choice.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["long"] and not (options["area_column"] and options["rate_column"]):
            raise CommandError("--long needs --area-column and --rate-column.")
        if not options["long"] and not options["rate_column_prefix"]:
            raise CommandError("A wide CSV needs --rate-column-prefix (or give --long).")
        geojson: Path = options["geojson"]
        rates_path: Path = options["rates"]
        try:
            areas = read_areas(geojson, area_property=options["area_property"],
                               label_property=options["label_property"])
            if options["long"]:
                rates = read_long_rates(rates_path, week_column=options["week_column"],
                                        week_format=options["week_format"], area_column=options["area_column"],
                                        rate_column=options["rate_column"])
            else:
                rates = read_wide_rates(rates_path, week_column=options["week_column"],
                                        week_format=options["week_format"],
                                        rate_column_prefix=options["rate_column_prefix"])
        except HealthDataError as exc:
            raise CommandError(str(exc)) from exc

        total = rows_to_write(areas, rates)
        with command_progress(self, options, total=total, unit="row", desc=options["name"]) as progress:
            try:
                result = health_dataset_load(
                    name=options["name"], disease=options["disease"], areas=areas, rates=rates,
                    ppe_advice=options["ppe"], rate_unit=options["rate_unit"], agency_oris=options["agencies"],
                    source=options["source"] if options["source"] is not None else
                    f"{geojson.name}, {rates_path.name}",
                    progress=progress.update,
                )
            except HealthDataError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Loaded {result.dataset.name!r}: {result.areas} areas ({result.areas_with_rates} with rates), "
            f"{result.rates} weekly rates, latest week ending {result.latest_week or 'none'}; "
            f"{result.empty_cells} empty cells skipped."))
        oris = sorted(result.dataset.agencies.values_list("ori", flat=True))
        self.stdout.write(f"Used in the briefings of: {', '.join(oris) if oris else 'every agency'}.")
        if result.unknown_areas:
            self.stdout.write(f"Rates for {len(result.unknown_areas)} codes that are not areas in the GeoJSON "
                              f"were not loaded: {', '.join(result.unknown_areas)}")
        if result.removed_areas:
            self.stdout.write(f"Areas no longer in the GeoJSON were removed: {', '.join(result.removed_areas)}")
