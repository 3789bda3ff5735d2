"""Coordination: workflow templates, tasks, SLA clocks and automation rules."""

from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from workflows import receivers  # noqa: F401  (connects the receivers: orders, tracking)
        from workflows.guards import register_guards

        register_guards()
