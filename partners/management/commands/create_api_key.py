"""Create an API key for an organisation and print it once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from partners.errors import PartnersError
from partners.models import Organisation
from partners.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an organisation; the key is printed once and stored hashed."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organisation", required=True, help="Organisation code, e.g. ACME.")
        parser.add_argument("--name", required=True, help="What uses the key, e.g. 'ERP production'.")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["organisation"].strip().upper()
        organisation = Organisation.objects.filter(code=code).first()
        if organisation is None:
            raise CommandError(f"No organisation with code {code}.")
        try:
            _api_key, raw_key = api_key_create(organisation=organisation, name=options["name"])
        except PartnersError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"API key for {organisation} — shown once, store it safely:")
        self.stdout.write(raw_key)
