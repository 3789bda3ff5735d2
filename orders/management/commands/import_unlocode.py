"""Load an official UNECE UN/LOCODE CSV file (e.g. "2024-2 UNLOCODE CodeListPart1.csv")."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orders.locations import locations_import
from orders.locodes import LocodeFormatError


class Command(BaseCommand):
    help = (
        "Insert or update locations from an official UN/LOCODE CSV (UNECE release; run once per part file). "
        "Rows marked X retire their code. All or nothing: a malformed row stops the import."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("files", nargs="+", type=Path, help="UNECE CodeListPart*.csv files")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["files"]:
            if not path.is_file():
                raise CommandError(f"{path} does not exist.")
            try:
                with path.open("rb") as stream:
                    result = locations_import(stream=stream)
            except LocodeFormatError as exc:
                raise CommandError(f"{path}: {exc}. Nothing was imported from this file.") from exc
            self.stdout.write(
                f"{path.name}: {result.written} locations written, {result.retired} retired, "
                f"{len(result.stats.bad_coordinates)} without usable coordinates."
            )
