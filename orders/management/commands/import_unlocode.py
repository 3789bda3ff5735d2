"""Load UN/LOCODE CSV files: UNECE's code list parts (e.g. "2024-2 UNLOCODE CodeListPart1.csv") or the datahub
repackaging; orders.locodes says how the two layouts are told apart."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orders.locations import locations_import
from orders.locodes import LocodeFormatError
from orders.models import Location


class Command(BaseCommand):
    help = (
        "Insert or update locations from UN/LOCODE CSV files: the code list parts of UNECE's release "
        '("<yyyy>-<n> UNLOCODE CodeListPart1.csv" to Part3 from loc<yy><n>csv.zip: no header, Function before '
        "Status; pass every part) or the datahub repackaging (datasets/un-locode data/code-list.csv: a header row, "
        "Status before Function). Not the zip itself, nor the subdivision or MDB/TXT files. Rows marked X retire "
        "their code. All or nothing per file: a malformed row stops that file's import. With --if-empty, nothing is "
        "loaded when the list already holds a place (docker-compose's migrate service loads the shipped list so)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "files", nargs="+", type=Path, help="UNECE CodeListPart*.csv or datahub code-list.csv files"
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only into an empty list of places: a first installation gets the files' places, and a later "
            "run (every deploy) leaves the list as its operator keeps it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"]:
            held = Location.objects.count()
            if held:
                self.stdout.write(f"The list already holds {held} places; nothing loaded (--if-empty).")
                return
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
