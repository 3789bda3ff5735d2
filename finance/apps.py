"""Money: rate cards, charges, exchange rates, billing runs and invoices."""

from django.apps import AppConfig


class FinanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "finance"
    verbose_name = "Finance"
