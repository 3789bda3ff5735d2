"""The upload form of the import screens."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from orders.models import ImportMode

ALLOWED_EXTENSIONS = (".csv", ".txt", ".xlsx")


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Order file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
        help_text="CSV (UTF-8 or Windows-1252, comma or semicolon) or XLSX, one row per cargo line.",
    )
    mode = forms.ChoiceField(
        label="When some orders have errors",
        choices=[
            (ImportMode.ALL_OR_NOTHING, "Import nothing until every order is correct (recommended)"),
            (ImportMode.VALID_ONLY, "Import the valid orders and list the others"),
        ],
        initial=ImportMode.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith(ALLOWED_EXTENSIONS):
            raise forms.ValidationError("Upload a .csv or .xlsx file (an order file made from the template).")
        limit = settings.OMS_IMPORT_MAX_BYTES
        if upload.size and upload.size > limit:
            size, most = upload.size / 1e6, limit / 1e6
            raise forms.ValidationError(
                f"The file is {size:.1f} MB; the limit is {most:.0f} MB. Split it into smaller files."
            )
        return upload
