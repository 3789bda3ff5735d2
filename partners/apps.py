"""Who: organisations, people, memberships and roles, API keys."""

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    # post_migrate is sent once per app, and each app's permissions exist only after its own
    # signal; the role groups are refreshed after the last app's, when every permission exists.
    if sender is [config for config in apps.get_app_configs() if config.models_module][-1]:
        from partners.roles import roles_sync

        roles_sync()


class PartnersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "partners"
    verbose_name = "Partners"

    def ready(self) -> None:
        from partners import (
            receivers,
            schema,  # noqa: F401  (registers the API key scheme with drf-spectacular)
        )

        receivers.connect()  # role groups follow memberships and organisations

        post_migrate.connect(_sync_roles, dispatch_uid="partners.roles_sync")
