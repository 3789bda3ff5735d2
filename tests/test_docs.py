"""What the operator documents (README.md, docs/*.md) say matches what the code does: the commands there are, the
steps a fresh production install needs, the queues workers must consume (review H)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
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


def test_a_fresh_installation_gets_the_shipped_places_and_the_production_steps_say_how_to_load_the_full_list(db):
    """After the schema the UN/LOCODE list is empty and intake refuses every place: compose's `migrate` service loads
    the shipped list into the empty list (`--if-empty`), and README's and operations.md's production steps say so,
    name UNECE's download and show how to get its files into the container."""
    assert Location.objects.count() == 0
    loads = "import_unlocode --if-empty orders/data/unlocode_demo.csv"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert loads in " ".join(compose["services"]["migrate"]["command"])

    production = _section(ROOT / "docs" / "operations.md", "## Production with docker-compose")
    readme = _section(ROOT / "README.md", "## Running in production")
    for steps in (production, readme):
        assert loads in steps
        assert "https://unece.org/trade/cefact/UNLOCODE-Download" in steps + _operator_docs()
    first_setup = _section(ROOT / "docs" / "operations.md", "## First production setup")
    assert "loc<yy><n>csv.zip" in first_setup
    assert re.search(r"docker compose run --rm -v \"\S+:/unlocode:ro\" web", first_setup)


def test_the_shipped_list_loads_only_into_an_empty_list(db, capsys):
    """`--if-empty` (every deploy's `migrate`) loads nothing once the list holds a place: an operator's full list,
    or a place a later release retired, is not set back to the shipped one."""
    shipped = ROOT / "orders" / "data" / "unlocode_demo.csv"
    call_command("import_unlocode", "--if-empty", shipped)
    loaded = Location.objects.count()
    assert loaded > 300
    Location.objects.filter(code="DEHAM").update(name="Hamburg (kept by the operator)", is_active=False)

    call_command("import_unlocode", "--if-empty", shipped)

    assert f"The list already holds {loaded} places; nothing loaded (--if-empty)." in capsys.readouterr().out
    assert Location.objects.filter(code="DEHAM", is_active=False, name="Hamburg (kept by the operator)").exists()


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
