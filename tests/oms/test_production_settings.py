"""Production mode (DEBUG=false) refuses settings that would leak: no mail server (password-reset links in the
log) and the .env.example placeholder or a short SECRET_KEY. Messages are kept in the session, not a cookie."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k7#Qv9!zR2@pL5$wX8^mN3&bT6*yH1(eJ4)uC0_gF-sD+aZ=oI",
    "ALLOWED_HOSTS": "oms.example.com",
    "EMAIL_URL": "smtp+tls://user:password@smtp.example.com:587",
    "SECURE_SSL_REDIRECT": "true",
    "DJANGO_SETTINGS_MODULE": "oms.settings",
}


def _check(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PRODUCTION_ENV)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_production_mode_with_a_mail_server_passes():
    result = _check()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("email_url", [None, "", "consolemail://", "memorymail://", "filemail:///tmp/m"])
def test_production_mode_refuses_mail_that_goes_nowhere(email_url):
    result = _check(EMAIL_URL=email_url)
    assert result.returncode != 0
    assert "EMAIL_URL must name a mail server" in result.stderr


def test_production_mode_may_send_no_mail_when_told_so():
    """dummymail:// is said outright (an installation without mail, a benchmark): nothing is written anywhere."""
    result = _check(EMAIL_URL="dummymail://")
    assert result.returncode == 0, result.stderr


def test_development_mode_may_print_mails():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
         "print(s.EMAIL_BACKEND)"],
        cwd=ROOT, env={**{k: v for k, v in os.environ.items() if k != "EMAIL_URL"}, "DEBUG": "true",
                       "DJANGO_SETTINGS_MODULE": "oms.settings"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "django.core.mail.backends.console.EmailBackend", result.stderr


def test_the_env_example_secret_key_is_refused():
    placeholder = dict(re.findall(r"^([A-Z_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M))["SECRET_KEY"]
    result = _check(SECRET_KEY=placeholder)
    assert result.returncode != 0
    assert "SECRET_KEY is the .env.example placeholder or too weak" in result.stderr


@pytest.mark.parametrize(
    "key", ["short-but-random-Zx81!", "a" * 60, "abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd"]
)
def test_weak_secret_keys_are_refused(key):
    result = _check(SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_env_example_requires_email_url():
    assert re.search(r"^EMAIL_URL=smtp", (ROOT / ".env.example").read_text(), re.M)


def test_messages_are_kept_in_the_session():
    assert settings.MESSAGE_STORAGE == "django.contrib.messages.storage.session.SessionStorage"


@pytest.mark.parametrize("site_url", ["oms.example.com", "https://oms.example.com/portal", "ftp://oms.example.com"])
def test_a_site_address_that_is_not_a_scheme_and_host_is_refused(site_url):
    """OMS_SITE_URL prefixes the links in mail: a path or a missing scheme would make every link wrong."""
    result = _check(OMS_SITE_URL=site_url)
    assert result.returncode != 0
    assert "OMS_SITE_URL must be a scheme and a host" in result.stderr


def test_a_site_address_is_accepted_with_a_trailing_slash():
    assert _check(OMS_SITE_URL="https://oms.example.com/").returncode == 0
