"""Forms of the exception screens."""

from __future__ import annotations

from django import forms

from tracking.exceptions.models import NOTE_LIMIT, RootCause


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        error_messages={"required": "Write the note first."},
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What was done or learnt", "maxlength": NOTE_LIMIT}),
    )

    def clean_text(self) -> str:
        """The note as typed, its line breaks as one character each (as the browser counts them for `maxlength`);
        a note over the limit is refused saying how long it is, not as if it were empty."""
        text: str = self.cleaned_data["text"].replace("\r\n", "\n")
        if len(text) > NOTE_LIMIT:
            raise forms.ValidationError(
                f"A note holds up to {NOTE_LIMIT:,} characters (this one has {len(text):,}): shorten it, or keep "
                "the essentials and say where the rest is.",
                code="max_length",
            )
        return text


class ResolveForm(forms.Form):
    root_cause = forms.ChoiceField(label="Root cause", choices=[("", "Pick the root cause…"), *RootCause.choices])
    note = forms.CharField(
        label="What was done", max_length=300, required=False, widget=forms.TextInput(attrs={"placeholder": "Optional"})
    )
