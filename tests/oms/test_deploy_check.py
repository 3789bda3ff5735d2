"""Production mode passes `check --deploy` with zero warnings; development settings would not."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k7#Qv9!zR2@pL5$wX8^mN3&bT6*yH1(eJ4)uC0_gF-sD+aZ=oI",
    "ALLOWED_HOSTS": "oms.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "EMAIL_URL": "smtp+tls://user:password@smtp.example.com:587",
}


def _check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_mode_passes_check_deploy_with_zero_warnings():
    result = _check(PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_mode_is_flagged_by_check_deploy():
    result = _check({"DEBUG": "true", "SECRET_KEY": "", "SECURE_SSL_REDIRECT": "false"})
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = _check({**PRODUCTION_ENV, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
