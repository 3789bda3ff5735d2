"""What the operator documents (README.md, docs/*.md) say matches what the code does: the commands there are, the
steps a fresh production install needs, the queues workers must consume (review H)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from orders.models import Location

ROOT = Path(settings.BASE_DIR)
PROJECT_APPS = ["oms", "partners", "orders", "finance", "tracking", "documents", "workflows", "portal"]


def _operator_docs() -> str:
    """README.md and docs/*.md: what an operator reads (docs/decisions/ records why code changed, not how to run it)."""
    return "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _section(path: Path, heading: str) -> str:
    return path.read_text().split(f"\n{heading}\n")[1].split("\n## ")[0]


def test_every_project_management_command_is_named_in_the_docs():
    """An operator learns what to run from README.md and docs/*.md; import_unlocode was named only in a decision
    record, yet it is the only way to fill the (read-only) list of places."""
    commands = sorted(
        path.stem
        for app in PROJECT_APPS
        for path in (ROOT / app / "management" / "commands").glob("*.py")
        if not path.name.startswith("_")
    )
    assert {"seed_demo", "import_unlocode", "create_api_key"} <= set(commands)  # the scan works

    docs = _operator_docs()
    assert [name for name in commands if name not in docs] == []


def test_a_fresh_database_has_no_places_and_the_production_steps_say_how_to_load_them(db):
    """After `migrate` the UN/LOCODE list is empty and intake refuses every place: README's and operations.md's
    production steps load it, name UNECE's download and show how to get a file into the container."""
    assert Location.objects.count() == 0

    production = _section(ROOT / "docs" / "operations.md", "## Production with docker-compose")
    readme = _section(ROOT / "README.md", "## Running in production")
    for steps in (production, readme):
        assert "import_unlocode orders/data/unlocode_demo.csv" in steps
        assert "https://unece.org/trade/cefact/UNLOCODE-Download" in steps + _operator_docs()
    first_setup = _section(ROOT / "docs" / "operations.md", "## First production setup")
    assert "loc<yy><n>csv.zip" in first_setup
    assert re.search(r"docker compose run --rm -v \"\S+:/unlocode:ro\" web", first_setup)


def test_the_shipped_list_the_docs_name_loads_with_the_documented_command(db, capsys):
    """`import_unlocode orders/data/unlocode_demo.csv` (run in /app, the image's working directory, as the project
    root here) loads the places the docs count, so a fresh install takes an order from Hamburg."""
    count = int(re.search(r"loads the (\d+) places the image ships", (ROOT / "docs" / "operations.md").read_text())[1])

    call_command("import_unlocode", ROOT / "orders" / "data" / "unlocode_demo.csv")

    assert f"{count} locations written" in capsys.readouterr().out
    assert Location.objects.filter(is_active=True).count() == count
    assert Location.objects.filter(code="DEHAM", is_active=True).exists()


def test_architecture_scaling_names_every_queue_a_task_is_routed_to():
    """docs/architecture.md "Scaling" named four queues; order files go to a fifth, `imports`, and workers set up
    from that list never take them (uploads above OMS_IMPORT_INLINE_MAX_BYTES waited for ever)."""
    scaling = (ROOT / "docs" / "architecture.md").read_text().split("## Scaling")[1]
    routed = {settings.CELERY_TASK_DEFAULT_QUEUE} | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert "imports" in routed  # the scan works
    assert sorted(queue for queue in routed if f"`{queue}`" not in scaling) == []


@pytest.mark.parametrize("stale", ["later carrier events and milestones", "when it lands"])
def test_architecture_does_not_announce_as_later_what_has_shipped(stale):
    assert stale not in (ROOT / "docs" / "architecture.md").read_text()
