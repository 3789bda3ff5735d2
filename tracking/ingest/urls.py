"""Tracking screens, mounted at /tracking/ (oms/urls.py)."""

from django.urls import path

from oms import converters  # noqa: F401 - registers <ref:…>

# Django's admin autodiscovery imports tracking.admin only; until that module imports ours (one line, see
# docs/tracking-events.md), the console registrations load with these URLs, which are included before admin/.
from tracking.ingest import admin as _console  # noqa: F401
from tracking.ingest import views

app_name = "tracking_ingest"

urlpatterns = [
    path("", views.monitor, name="monitor"),
    path("orders/<ref:reference>/", views.order_timeline, name="order_timeline"),
    path("orders/<ref:reference>/events/", views.order_event_add, name="order_event_add"),
    path("uploads/", views.upload, name="upload"),
    path("uploads/template.csv", views.upload_template, name="upload_template"),
    path("uploads/<int:pk>/", views.upload_detail, name="upload_detail"),
]
