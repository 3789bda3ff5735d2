"""Settings for the workers the kill tests start: the workflows' worker settings (a visibility timeout of
seconds), with a module that makes the pool child die in the middle of its work (tests.worker_deaths)."""

from tests.workflows.worker_settings import *  # noqa: F403

CELERY_IMPORTS = ("tests.worker_deaths",)
