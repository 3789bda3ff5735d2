"""Movement: shipments, legs, carrier events, milestones, timelines and exceptions."""

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tracking"
    verbose_name = "Tracking"
