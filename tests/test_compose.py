"""docker-compose.yml: valid compose syntax and the production shape the README promises; .env.example
documents every setting the code reads.

There is no Docker engine in CI, so validity is checked against the Compose Specification's JSON
schema. tests/data/compose-spec.json is compose-spec/compose-spec `schema/compose-spec.json`
(Apache-2.0), as vendored by check-jsonschema 0.39.0 (`--builtin-schema vendor.compose-spec`).
"""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LONG_RUNNING = ["postgres", "redis", "web", "worker", "beat"]
APP_SERVICES = ["web", "worker", "beat"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())

    jsonschema.validate(compose, schema, cls=jsonschema.Draft202012Validator)


def test_schema_check_rejects_a_misspelt_key(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["healthchek"] = broken["services"]["web"].pop("healthcheck")

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    healthcheck = compose["services"][name]["healthcheck"]

    assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
    assert healthcheck.get("disable") is not True


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_backends_and_migrations(compose: dict[str, Any], name: str) -> None:
    depends_on = compose["services"][name]["depends_on"]

    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_web_runs_gunicorn_on_port_8000_and_probes_healthz(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]

    assert web["command"][:2] == ["gunicorn", "oms.wsgi:application"]
    assert web["ports"] == ["127.0.0.1:8000:8000"]  # loopback only: the TLS proxy is the way in
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_worker_consumes_every_queue_and_is_probed_by_ping(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]

    assert "--queues=default,imports,tracking,documents,billing" in worker["command"]
    assert "inspect ping" in worker["healthcheck"]["test"][1]


def test_every_queue_a_task_is_routed_to_has_a_worker_in_compose_and_make_run(compose: dict[str, Any]) -> None:
    """A queue nobody consumes holds its tasks for ever: order files would wait on "imports" with no error."""
    from django.conf import settings

    from oms.devrun import QUEUES

    routed = {settings.CELERY_TASK_DEFAULT_QUEUE} | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    (option,) = [arg for arg in compose["services"]["worker"]["command"] if arg.startswith("--queues=")]
    assert routed <= set(option.removeprefix("--queues=").split(","))
    assert routed <= set(QUEUES.split(","))
    assert settings.CELERY_TASK_ROUTES["orders.tasks.process_order_import"] == {"queue": "imports"}


def test_beat_uses_the_database_scheduler_and_a_pid_file_on_tmpfs(compose: dict[str, Any]) -> None:
    beat = compose["services"]["beat"]

    assert "--scheduler=django_celery_beat.schedulers:DatabaseScheduler" in beat["command"]
    assert "--pidfile=/run/oms/celerybeat.pid" in beat["command"]
    assert "/run/oms" in beat["tmpfs"]


def test_redis_persists_and_never_evicts_broker_data(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]

    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_postgres_18_volume_is_mounted_where_the_image_keeps_its_data(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]

    assert postgres["image"].startswith("postgres:18")
    assert "pgdata:/var/lib/postgresql" in postgres["volumes"]


def test_app_services_run_in_production_mode_from_env_file(compose: dict[str, Any]) -> None:
    for name in [*APP_SERVICES, "migrate"]:
        service = compose["services"][name]
        assert service["env_file"] == ".env"
        assert service["environment"]["DEBUG"] == "false"
        assert service["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:6379")


def test_env_example_documents_every_setting_the_code_reads() -> None:
    settings = (ROOT / "oms" / "settings.py").read_text()
    read = set(re.findall(r"env\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", settings))  # environ.Env() calls
    for launcher in ["embedded.py", "devrun.py"]:
        text = (ROOT / "oms" / launcher).read_text()
        read |= set(re.findall(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", text))
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert {"DATABASE_URL", "SECRET_KEY", "PORT", "OMS_VAR_DIR"} <= read  # the scan itself works
    assert read - documented == set()
