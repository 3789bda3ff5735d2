"""Settings for the test suite: production settings with test-run defaults.

The suite runs in production mode (DEBUG=false, as Django's test runner does anyway) with a
throwaway secret and without the HTTPS redirect, so the test client can speak plain HTTP.
Everything else, the database included, is what oms.settings reads from the environment.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-6f1d2c9e8b7a4f3e2d1c0b9a8f7e6d5c")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("OMS_API_RATE", "100000/min")
os.environ.setdefault("EMAIL_URL", "smtp://localhost:25")  # production mode wants a mail server; tests use locmem

from oms.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing; tests only
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # no collected static folder in tests
