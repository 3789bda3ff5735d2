"""Forms of the tracking screens: a milestone entered by hand, and a milestone file."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from orders.imports.reading import too_large
from orders.models import Location
from partners.validators import validate_time_zone
from tracking.ingest.models import Classifier, Milestone

ALLOWED_EXTENSIONS = (".csv", ".txt", ".xlsx")


_SELECT = {"class": "form-select form-select-sm"}
_INPUT = {"class": "form-control form-control-sm"}


class MilestoneEntryForm(forms.Form):
    milestone = forms.ModelChoiceField(
        queryset=Milestone.objects.filter(is_active=True),
        to_field_name="code",
        empty_label=None,
        widget=forms.Select(attrs=_SELECT),
    )
    classifier = forms.ChoiceField(
        choices=Classifier.choices,
        initial=Classifier.ACTUAL,
        widget=forms.Select(attrs=_SELECT),
        help_text="Actual moves the order on; estimated and planned change the ETA only.",
    )
    occurred_at = forms.CharField(
        label="When",
        widget=forms.DateTimeInput(attrs={**_INPUT, "type": "datetime-local"}),
        help_text="Local time at the place.",
    )
    time_zone = forms.CharField(max_length=40, validators=[validate_time_zone], widget=forms.TextInput(attrs=_INPUT))
    location = forms.CharField(
        max_length=8, required=False, widget=forms.TextInput(attrs={**_INPUT, "placeholder": "DEHAM"})
    )
    note = forms.CharField(max_length=300, required=False, widget=forms.TextInput(attrs=_INPUT))

    def clean_location(self) -> str:
        """A UN/LOCODE we know, as intake asks of an order's places. A code of the right shape that names no place
        (a typo: QQQQQ) was stored and shown to the customer as the place, with no name beside it (walk H4).
        Carriers' feeds keep the codes they send: this is a person choosing a place."""
        code = self.cleaned_data["location"].replace(" ", "").upper()
        if code and not re.fullmatch(r"[A-Z]{2}[A-Z2-9]{3}", code):
            raise forms.ValidationError("Give the place as a UN/LOCODE: five letters, e.g. DEHAM or DE HAM.")
        if code and not Location.objects.filter(code=code).exists():
            raise forms.ValidationError(
                f"{code} is not in our UN/LOCODE list. Check the code, or ask an admin to import it."
            )
        return code


class MilestoneUploadForm(forms.Form):
    file = forms.FileField(
        label="Milestone file",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ALLOWED_EXTENSIONS) + ",text/csv"}),
        help_text="CSV (.csv, or .txt read as CSV) or XLSX, one milestone per row (download the template).",
    )
    time_zone = forms.CharField(
        max_length=40,
        validators=[validate_time_zone],
        initial="UTC",
        help_text="For times in the file written without a UTC offset.",
    )
    valid_only = forms.BooleanField(
        required=False,
        label="Record the valid rows and list the others",
        help_text="Otherwise nothing is recorded until every row is correct.",
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if not (upload.name or "").lower().endswith(ALLOWED_EXTENSIONS):
            raise forms.ValidationError("Upload a .csv, .txt (read as CSV) or .xlsx file (made from the template).")
        if upload.size and upload.size > settings.OMS_IMPORT_MAX_BYTES:
            raise forms.ValidationError(too_large(upload.size, settings.OMS_IMPORT_MAX_BYTES))
        return upload
