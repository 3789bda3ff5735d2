"""The places orders move between: ports, airports, rail and road terminals, cities (UN/LOCODE, IATA)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class LocationFunction(models.TextChoices):
    PORT = "port", "Port"
    RAIL = "rail", "Rail terminal"
    ROAD = "road", "Road terminal"
    AIRPORT = "airport", "Airport"
    POSTAL = "postal", "Postal exchange"
    MULTIMODAL = "multimodal", "Multimodal / inland depot"
    FIXED = "fixed", "Fixed transport"
    BORDER = "border", "Border crossing"


class Location(models.Model):
    """A place in the UN/LOCODE list, e.g. DEHAM Hamburg (printed "DE HAM")."""

    code = models.CharField("UN/LOCODE", max_length=5, primary_key=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    name = models.CharField(max_length=100)
    name_ascii = models.CharField(max_length=100, blank=True, help_text="Name without diacritics.")
    subdivision = models.CharField(max_length=3, blank=True, help_text="ISO 3166-2 subdivision suffix.")
    functions = ArrayField(models.CharField(max_length=12, choices=LocationFunction.choices), default=list, blank=True)
    iata = models.CharField("IATA code", max_length=3, blank=True)
    latitude = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    longitude = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive codes can no longer be used on new orders.")

    class Meta:
        ordering = ["code"]
        indexes = [
            GinIndex(OpClass(Upper("name_ascii"), name="gin_trgm_ops"), name="location_name_trgm"),
            models.Index(fields=["iata"], name="location_iata"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z]{2}[A-Z2-9]{3}$"), name="location_code_shape"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def display_code(self) -> str:
        return f"{self.code[:2]} {self.code[2:]}"
