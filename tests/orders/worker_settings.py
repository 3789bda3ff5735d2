"""Settings for the worker the import kill tests start: the workflows' worker settings (visibility timeout of
seconds), with a module that makes the pool child die in the middle of an import (tests.orders.worker_deaths)."""

from tests.workflows.worker_settings import *  # noqa: F403

CELERY_IMPORTS = ("tests.orders.worker_deaths",)
