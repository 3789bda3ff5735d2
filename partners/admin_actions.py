"""A confirmation step for admin actions that change many rows at once (Django's delete_selected pattern).

The action first answers with a page that lists the selected objects and posts them back with `post=yes`;
only that second POST runs the action. Each admin action also names the permission it needs
(`@admin.action(permissions=[...])`), so view-only staff are not offered it at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse


def confirmed(request: HttpRequest) -> bool:
    """True when the request is the "Yes, I'm sure" POST of the confirmation page."""
    return request.POST.get("post") == "yes"


def confirmation_page(
    model_admin: Any, request: HttpRequest, queryset: QuerySet[Any], *, action: str, question: str, warning: str = ""
) -> TemplateResponse:
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Are you sure?",
        "question": question,
        "warning": warning,
        "queryset": queryset,
        "opts": opts,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/action_confirmation.html", context)
