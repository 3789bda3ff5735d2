"""`make run`'s banner names a password only when it signs the demo logins in (review H). seed_demo gives them
OMS_DEMO_PASSWORD when it creates them and nothing changes it later, so a value set after the first run is not
theirs: the banner printed it anyway, and five tries of it paused sign-in for 15 minutes."""

from __future__ import annotations

import re

import pytest

from oms import devrun
from partners.demo import seed_partners
from partners.models import User

LATER = "a later chosen password"


def _banner(capsys, password: str, demo: devrun.DemoLogins | None) -> str:
    devrun._print_banner(8000, {"OMS_DEMO_PASSWORD": password}, 1.0, demo)
    return capsys.readouterr().out


def _named_password(banner: str) -> str | None:
    match = re.search(r"password '([^']*)'", banner)
    return match.group(1) if match else None


def test_a_password_chosen_after_the_first_run_is_not_named_as_the_demo_logins(db, capsys):
    seed_partners(password="demo")  # the first `make run`

    demo = devrun.demo_logins_check(password=LATER)  # the next one's `prepare`, with OMS_DEMO_PASSWORD set now
    banner = _banner(capsys, LATER, demo)

    assert demo is devrun.DemoLogins.DIFFERS
    assert f"Their password is not {LATER!r} (OMS_DEMO_PASSWORD) but the one they were first seeded with" in banner
    named = _named_password(banner)
    assert named is None or User.objects.get(email="ops@oms.example").check_password(named), named
    assert "ops@oms.example" in banner


@pytest.mark.parametrize("password", ["demo", LATER])
def test_the_banner_names_the_password_that_signs_in(db, capsys, password):
    seed_partners(password=password)

    demo = devrun.demo_logins_check(password=password)
    named = _named_password(_banner(capsys, password, demo))

    assert demo is devrun.DemoLogins.MATCHES
    assert named == password
    for email, _role in devrun.DEMO_LOGINS:
        assert User.objects.get(email=email).check_password(named), email


def test_the_run_that_seeds_names_the_password_it_seeded_with(capsys):
    assert _named_password(_banner(capsys, LATER, devrun.DemoLogins.SEEDED)) == LATER


def test_a_database_with_people_and_no_demo_lists_no_demo_logins(db, capsys):
    User.objects.create_user(email="someone@3pl.example", password="x" * 20)

    demo = devrun.demo_logins_check(password="demo")
    banner = _banner(capsys, "demo", demo)

    assert demo is devrun.DemoLogins.ABSENT
    assert "No demo logins: the database had people already, so seed_demo did not run." in banner
    assert "ops@oms.example" not in banner
    assert _named_password(banner) is None


def test_without_prepares_word_no_password_is_named(capsys):
    banner = _banner(capsys, LATER, None)
    assert _named_password(banner) is None
    assert "with the password they were first seeded with" in banner


def test_prepare_reports_to_the_launcher_through_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("OMS_VAR_DIR", str(tmp_path))
    devrun.demo_logins_path().parent.mkdir(parents=True)
    assert devrun.demo_logins_read() is None

    devrun.demo_logins_path().write_text(devrun.DemoLogins.DIFFERS.value)

    assert devrun.demo_logins_read() is devrun.DemoLogins.DIFFERS
    assert LATER not in devrun.demo_logins_path().read_text()
