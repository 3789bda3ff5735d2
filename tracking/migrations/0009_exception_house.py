"""Exceptions name the house a carrier's report named: one unresolved exception per (kind, shipment, leg, house),
so two houses held on one master are two exceptions, each with its house's order and customer; and the history
says when what is detected changed while an exception stayed open ("updated").

Existing rows are repaired: a hold, damage, failed delivery or return opened from a house's report gets that house,
its order and customer (it was shown to every customer on the master) when the master's live houses carry more than
one order, as rules.reports keys them (ShipmentFacts.houses_apart: one order's houses report for the whole shipment);
and a failed delivery closed by hand keeps as its trigger the last attempt before it was closed, so the new trigger
(the newest attempt) does not reopen it.
"""

import django.db.models.deletion
from django.db import migrations, models

HOUSE_KINDS = "('customs_hold', 'carrier_hold', 'failed_delivery', 'returned_to_sender', 'damage')"

NAME_HOUSES = f"""
UPDATE tracking_shipmentexception e
   SET house_id = ev.shipment_id, order_id = coalesce(h.order_id, e.order_id),
       customer_id = coalesce(o.customer_id, e.customer_id)
  FROM tracking_trackingevent ev
  JOIN tracking_shipment h ON h.id = ev.shipment_id
  LEFT JOIN orders_order o ON o.id = h.order_id
 WHERE e.kind IN {HOUSE_KINDS} AND e.trigger_key ~ '^event:[0-9]{{1,18}}$'
   AND ev.id = substr(e.trigger_key, 7)::bigint AND ev.shipment_id <> e.shipment_id
   AND EXISTS (SELECT 1 FROM tracking_consolidatedhouse ch WHERE ch.master_id = e.shipment_id AND ch.house_id = h.id)
   AND (SELECT count(DISTINCT lh.order_id) FROM tracking_consolidatedhouse lc
          JOIN tracking_shipment lh ON lh.id = lc.house_id
         WHERE lc.master_id = e.shipment_id AND lc.removed_at IS NULL) > 1
"""  # noqa: S608 - constant names

LAST_ATTEMPT_SEEN = """
UPDATE tracking_shipmentexception e
   SET trigger_key = 'event:' || coalesce((
       SELECT a.id FROM tracking_trackingevent a
        WHERE a.shipment_id = first.shipment_id AND a.classifier = 'ACT' AND a.milestone_id = 'DELIVERY_ATTEMPTED'
          AND a.event_at <= e.resolved_at
        ORDER BY a.event_at DESC, a.id DESC LIMIT 1
   ), first.id)
  FROM tracking_trackingevent first
 WHERE e.kind = 'failed_delivery' AND e.status = 'resolved' AND NOT e.is_auto_resolved
   AND e.trigger_key ~ '^event:[0-9]{1,18}$' AND first.id = substr(e.trigger_key, 7)::bigint
"""


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0011_history_append_only"),
        ("tracking", "0008_booking_send_started_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="shipmentexception",
            name="house",
            field=models.ForeignKey(
                blank=True,
                help_text="The house the carrier's report named (a hold, damage, failed delivery or return of that "
                "house's cargo); blank when it concerns the whole shipment.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tracking.shipment",
            ),
        ),
        migrations.RemoveConstraint(model_name="shipmentexception", name="exception_open_once"),
        # Repairs run before the new index: a house named makes a row more distinct, never less.
        migrations.RunSQL(NAME_HOUSES, migrations.RunSQL.noop),
        migrations.RunSQL(LAST_ATTEMPT_SEEN, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="shipmentexception",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ("open", "acknowledged"))),
                fields=("kind", "shipment", "leg", "house"),
                name="exception_open_once",
                nulls_distinct=False,
            ),
        ),
        migrations.AlterField(
            model_name="exceptionentry",
            name="verb",
            field=models.CharField(
                choices=[
                    ("opened", "opened"),
                    ("assigned", "assigned"),
                    ("acknowledged", "acknowledged"),
                    ("noted", "added a note"),
                    ("updated", "updated"),
                    ("resolved", "resolved"),
                    ("auto_resolved", "resolved itself"),
                    ("notified", "notified"),
                ],
                max_length=14,
            ),
        ),
        migrations.AlterField(
            model_name="shipmentexception",
            name="order",
            field=models.ForeignKey(
                blank=True,
                help_text="The order concerned: the house's for a report on a house, else the shipment's when it "
                "carries one order; blank for what concerns every order on a consolidation.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="exceptions",
                to="orders.order",
            ),
        ),
    ]
