"""The upload form of the import screens."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from orders.imports.reading import too_large
from orders.models import ImportMode

# A .txt file is delimited text and read as CSV: what ERPs export and Excel's "Text (Tab delimited)" saves.
ALLOWED_EXTENSIONS = (".csv", ".txt", ".xlsx")
FILE_HELP = (
    "CSV (.csv, or .txt read as CSV: UTF-8 or Windows-1252, comma, semicolon or tab between values) or XLSX, one row "
    "per cargo line (see the template)."
)
# Spreadsheets we cannot read, with what to do instead (reading.py says the same of an .xls by its content).
_OTHER_SPREADSHEETS = {
    ".xls": "This is an old Excel (.xls) workbook: save it as .xlsx or CSV UTF-8.",
    ".xlsb": "This is a binary Excel (.xlsb) workbook: save it as .xlsx or CSV UTF-8.",
    ".ods": "This is an OpenDocument (.ods) spreadsheet: save it as .xlsx or CSV UTF-8.",
    ".numbers": "This is a Numbers spreadsheet: export it as .xlsx or CSV UTF-8.",
}


def file_name_problem(name: str) -> str | None:
    """Why a file of this name cannot be an order file, or None; the upload form and the API say the same."""
    name = name.lower()
    if name.endswith(ALLOWED_EXTENSIONS):
        return None
    extension = name[name.rfind(".") :] if "." in name else ""
    return _OTHER_SPREADSHEETS.get(
        extension, "Upload a .csv, .txt (read as CSV) or .xlsx file (an order file made from the template)."
    )


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Order file",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ALLOWED_EXTENSIONS) + ",text/csv"}),
        help_text=FILE_HELP,
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
        problem = file_name_problem(upload.name or "")
        if problem:
            raise forms.ValidationError(problem)
        limit = settings.OMS_IMPORT_MAX_BYTES
        if upload.size and upload.size > limit:
            raise forms.ValidationError(f"{too_large(upload.size, limit)} Split it into smaller files.")
        return upload
