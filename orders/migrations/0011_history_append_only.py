"""The order history tables are append-only: a row trigger refuses UPDATE and DELETE on the pghistory event
tables (orders, cargo lines, equipment), so neither the application, the console nor a data migration can rewrite
or remove what happened (RELIABILITY.md I1). Inserts are untouched and cost nothing more. TRUNCATE is not a row
operation, so a deliberate reset by a database administrator (or the test runner's flush) still works."""

from django.db import migrations

TABLES = ("orders_orderevent", "orders_cargolineevent", "orders_equipmentevent")

FUNCTION = """
CREATE OR REPLACE FUNCTION oms_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The history in % is append-only: its rows are never changed or deleted.', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def _create(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION oms_history_is_append_only();"
    )


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_import_runs_unfinished")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS oms_history_is_append_only();"),
        *(
            migrations.RunSQL(_create(table), f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
            for table in TABLES
        ),
    ]
