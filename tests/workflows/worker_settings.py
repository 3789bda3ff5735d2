"""Settings for the Celery worker the kill test starts as a subprocess: the test settings, with a Redis
visibility timeout of seconds (not hours), so a message whose worker was killed is redelivered quickly."""

from oms.settings_test import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
