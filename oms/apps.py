"""The project package as an app: health models, cross-app commands (seed_demo) and templatetags."""

from django.apps import AppConfig


class OmsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oms"
    verbose_name = "OMS platform"

    def ready(self) -> None:
        from oms import receivers  # noqa: F401  (connects the worker heartbeat and the sign-in log)
