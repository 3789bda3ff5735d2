"""Bases of the console's pages shared by the apps' admins (no registration here: importing it changes nothing)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """What happened is a record, or a list loaded from elsewhere: shown, never added, edited or deleted here. The
    console's tracking events, uploads, rejected deliveries, webhook deliveries and UN/LOCODE list build on it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
