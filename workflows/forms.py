"""Forms of the task screens: comment, reassign, bulk actions, notification preferences."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import QueryDict

from workflows.models import NotificationPreference


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a comment; @name notifies a colleague."}),
    )


class NoteForm(forms.Form):
    """The note of marking a task done, or the reason of reopening it: one line of the task's history."""

    note = forms.CharField(
        label="Note",
        max_length=300,
        required=False,
        error_messages={
            "max_length": "A note is up to %(limit_value)d characters (this one has %(show_value)d); nothing changed."
        },
    )


class ReassignForm(forms.Form):
    assignee = forms.TypedChoiceField(label="Give to", coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, people: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Nobody: back to the team queue")]
        choices += [(person.pk, person.get_full_name()) for person in people]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = choices


_PICK_ACTION = "Choose Complete or Reassign for the ticked tasks."
_TICK = "Tick at least one task, then choose Complete or Reassign."
_TICK_AGAIN = "A ticked task is not one OMS knows; reload the list and tick the tasks again."
_PICK_PERSON = "The person picked cannot take tasks here now; pick someone from the list, or the team queue."


class BulkForm(forms.Form):
    """Complete or reassign the ticked tasks. Its errors are read as messages above the list, away from any field,
    so each says what to do in words of the list ("Tick at least one task"), never Django's "This field is
    required." (what a click on Complete with nothing ticked used to say)."""

    ACTIONS = (("complete", "Complete"), ("reassign", "Reassign"))

    action = forms.ChoiceField(
        choices=ACTIONS, error_messages={"required": _PICK_ACTION, "invalid_choice": _PICK_ACTION}
    )
    ids = forms.TypedMultipleChoiceField(
        coerce=int, choices=(), error_messages={"required": _TICK, "invalid_choice": _TICK_AGAIN}
    )
    assignee = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, choices=(), error_messages={"invalid_choice": _PICK_PERSON}
    )

    def __init__(self, *args: Any, people: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ticked = self.data.getlist("ids") if isinstance(self.data, QueryDict) else []
        cast(forms.ChoiceField, self.fields["ids"]).choices = [
            (value, value) for value in ticked if str(value).isdigit()
        ]
        people_choices = [("", "Team queue"), *((p.pk, p.get_full_name()) for p in people)]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = people_choices

    def clean_ids(self) -> list[int]:
        ids = self.cleaned_data["ids"]
        if not ids:
            raise forms.ValidationError(_TICK)
        if len(ids) > 200:
            raise forms.ValidationError("Up to 200 tasks at a time.")
        return ids


class NotificationPreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["email_assigned", "email_mentioned", "email_escalated", "email_rule"]
