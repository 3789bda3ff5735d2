"""The v1 API routes of every app (included under /api/v1/)."""

from django.urls import include, path  # noqa: F401

urlpatterns: list = []
