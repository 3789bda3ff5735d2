"""A customer's reference names one order whatever its case: the unique index is on (customer,
UPPER(customer_reference)), the reference kept as typed (docs/decisions/0002, "Customer references without case").

A database may already hold orders of one customer whose references differ only in case. The index cannot be built
over them, and choosing for the customer which of two orders is the real one is no migration's business: the check
below stops the migration and names every such order, to be told apart (an edit of one reference) before migrating
again.
"""

from typing import Any

from django.db import migrations, models
from django.db.models.functions import Upper

LISTED = 50  # a person reads the message; the query says how many more there are


def refuse_case_only_duplicates(apps: Any, schema_editor: Any) -> None:
    """Stop, naming them, when orders of one customer share a reference but for its case."""
    order = apps.get_model("orders", "Order")
    organisation = apps.get_model("partners", "Organisation")
    quote = schema_editor.connection.ops.quote_name
    sql = (
        f"SELECT c.code, string_agg(o.customer_reference || ' (' || o.reference || ')', ', ' ORDER BY o.id), "
        "count(*) OVER () "
        f"FROM {quote(order._meta.db_table)} o JOIN {quote(organisation._meta.db_table)} c ON c.id = o.customer_id "
        "GROUP BY c.code, o.customer_id, UPPER(o.customer_reference) HAVING count(*) > 1 "
        "ORDER BY c.code, UPPER(o.customer_reference) LIMIT %s"
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql, [LISTED])
        clashes = cursor.fetchall()
    if not clashes:
        return
    total = clashes[0][2]
    listed = "\n".join(f"  {code}: {orders}" for code, orders, _ in clashes)
    more = f"\n  … and {total - len(clashes)} more." if total > len(clashes) else ""
    raise RuntimeError(
        f"{total} customer reference(s) name more than one order of the same customer when their case is ignored, "
        "so the unique index on (customer, UPPER(customer_reference)) cannot be built. Give each of these orders its "
        f"own reference (edit the customer reference of all but one), then migrate again:\n{listed}{more}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0016_declared_value_three_decimals"),
        ("partners", "0007_organisation_time_zone_help"),
    ]

    operations = [
        migrations.RunPython(refuse_case_only_duplicates, migrations.RunPython.noop, elidable=True),
        migrations.RemoveConstraint(model_name="order", name="order_customer_reference_unique"),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                models.F("customer"), Upper("customer_reference"), name="order_customer_reference_unique"
            ),
        ),
    ]
