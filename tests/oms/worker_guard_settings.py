"""Settings for the workers of the tests of the background-work guards (review G): the kill tests' worker settings,
mail written to files the test reads (OMS_TEST_MAIL_DIR), and the tracking tasks loaded."""

import os

from tests.worker_deaths_settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ.get("OMS_TEST_MAIL_DIR", "/tmp")  # noqa: S108 - a test worker's mail folder
CELERY_IMPORTS = ("tests.worker_deaths", "tracking.ingest.tasks", "tracking.exceptions.tasks")
