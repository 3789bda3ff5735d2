"""Forms of the exception screens."""

from __future__ import annotations

from django import forms

from tracking.exceptions.models import RootCause


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What was done or learnt"}),
    )


class ResolveForm(forms.Form):
    root_cause = forms.ChoiceField(label="Root cause", choices=[("", "Pick the root cause…"), *RootCause.choices])
    note = forms.CharField(
        label="What was done", max_length=300, required=False, widget=forms.TextInput(attrs={"placeholder": "Optional"})
    )
