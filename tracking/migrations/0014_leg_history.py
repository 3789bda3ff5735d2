"""The history of legs (tracking.LegEvent, django-pghistory's statement-level triggers, as for orders): every leg
added, changed and removed, with the context of the change (the user). Like the order history tables it is
append-only (orders/0011's trigger function: RELIABILITY.md I1).

The legs that exist now get one "snapshot" row each, their state when the history began: the first change of such
a leg then reads as a change from that state. A snapshot is no event on the shipment's history (nobody added the
leg then), and reversing the migration drops the table with them.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
import tracking.models
from django.db import migrations, models


TABLE = "tracking_legevent"
COLUMNS = (
    "actual_arrival_at", "actual_departure_at", "carrier_id", "destination_id", "flight_number", "id", "mode",
    "origin_id", "planned_arrival_at", "planned_departure_at", "role", "shipment_id", "train_number", "truck_plate",
    "vessel_imo", "vessel_name", "voyage_number",
)
SNAPSHOT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, pgh_obj_id, pgh_created_at, pgh_label) "
    f"SELECT {', '.join(COLUMNS)}, id, NOW(), 'snapshot' FROM tracking_leg"
)
APPEND_ONLY = (
    f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION oms_history_is_append_only();"
)


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0013_drafts_may_lack_parties'),  # after 0011: oms_history_is_append_only()
        ('partners', '0005_organisation_internal_or_external'),
        ('pghistory', '0007_auto_20250421_0444'),
        ('tracking', '0013_legs_in_role_order'),
    ]

    operations = [
        migrations.CreateModel(
            name='LegEvent',
            fields=[
                ('pgh_id', models.AutoField(primary_key=True, serialize=False)),
                ('pgh_created_at', models.DateTimeField(auto_now_add=True)),
                ('pgh_label', models.TextField(help_text='The event label.')),
                ('id', models.BigIntegerField()),
                ('role', models.CharField(choices=[('pre_carriage', 'Pre-carriage'), ('main', 'Main carriage'), ('on_carriage', 'On-carriage'), ('last_mile', 'Last mile')], default='main', max_length=14)),
                ('mode', models.CharField(choices=[('ocean_fcl', 'Ocean FCL'), ('ocean_lcl', 'Ocean LCL'), ('air', 'Air'), ('road_ftl', 'Road FTL'), ('road_ltl', 'Road LTL'), ('rail', 'Rail'), ('parcel', 'Parcel / courier')], max_length=12)),
                ('planned_departure_at', models.DateTimeField(blank=True, null=True)),
                ('planned_arrival_at', models.DateTimeField(blank=True, null=True)),
                ('actual_departure_at', models.DateTimeField(blank=True, null=True)),
                ('actual_arrival_at', models.DateTimeField(blank=True, null=True)),
                ('vessel_name', models.CharField(blank=True, max_length=60)),
                ('vessel_imo', models.CharField(blank=True, max_length=7, validators=[tracking.models.validate_imo_number], verbose_name='IMO number')),
                ('voyage_number', models.CharField(blank=True, max_length=20)),
                ('flight_number', models.CharField(blank=True, help_text='e.g. LH8401.', max_length=10)),
                ('truck_plate', models.CharField(blank=True, max_length=20)),
                ('train_number', models.CharField(blank=True, max_length=20)),
            ],
            options={
                'abstract': False,
            },
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='leg',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "tracking_legevent" ("actual_arrival_at", "actual_departure_at", "carrier_id", "destination_id", "flight_number", "id", "mode", "origin_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "planned_arrival_at", "planned_departure_at", "role", "shipment_id", "train_number", "truck_plate", "vessel_imo", "vessel_name", "voyage_number") SELECT new_values."actual_arrival_at", new_values."actual_departure_at", new_values."carrier_id", new_values."destination_id", new_values."flight_number", new_values."id", new_values."mode", new_values."origin_id", _pgh_attached_context.value, NOW(), \'insert\', new_values."id", new_values."planned_arrival_at", new_values."planned_departure_at", new_values."role", new_values."shipment_id", new_values."train_number", new_values."truck_plate", new_values."vessel_imo", new_values."vessel_name", new_values."voyage_number" FROM ( SELECT new_values.* FROM new_values  ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='d765a0f1569d344a3aa625ec82ca44f83c25dd0a', level='STATEMENT', operation='INSERT', pgid='pgtrigger_insert_insert_acf5d', referencing='REFERENCING NEW TABLE AS new_values ', table='tracking_leg', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='leg',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "tracking_legevent" ("actual_arrival_at", "actual_departure_at", "carrier_id", "destination_id", "flight_number", "id", "mode", "origin_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "planned_arrival_at", "planned_departure_at", "role", "shipment_id", "train_number", "truck_plate", "vessel_imo", "vessel_name", "voyage_number") SELECT new_values."actual_arrival_at", new_values."actual_departure_at", new_values."carrier_id", new_values."destination_id", new_values."flight_number", new_values."id", new_values."mode", new_values."origin_id", _pgh_attached_context.value, NOW(), \'update\', new_values."id", new_values."planned_arrival_at", new_values."planned_departure_at", new_values."role", new_values."shipment_id", new_values."train_number", new_values."truck_plate", new_values."vessel_imo", new_values."vessel_name", new_values."voyage_number" FROM ( SELECT new_values.* FROM old_values JOIN new_values ON (old_values."id") = (new_values."id") WHERE (old_values."actual_arrival_at" IS DISTINCT FROM (new_values."actual_arrival_at") OR old_values."actual_departure_at" IS DISTINCT FROM (new_values."actual_departure_at") OR old_values."carrier_id" IS DISTINCT FROM (new_values."carrier_id") OR old_values."destination_id" IS DISTINCT FROM (new_values."destination_id") OR old_values."flight_number" IS DISTINCT FROM (new_values."flight_number") OR old_values."id" IS DISTINCT FROM (new_values."id") OR old_values."mode" IS DISTINCT FROM (new_values."mode") OR old_values."origin_id" IS DISTINCT FROM (new_values."origin_id") OR old_values."planned_arrival_at" IS DISTINCT FROM (new_values."planned_arrival_at") OR old_values."planned_departure_at" IS DISTINCT FROM (new_values."planned_departure_at") OR old_values."role" IS DISTINCT FROM (new_values."role") OR old_values."shipment_id" IS DISTINCT FROM (new_values."shipment_id") OR old_values."train_number" IS DISTINCT FROM (new_values."train_number") OR old_values."truck_plate" IS DISTINCT FROM (new_values."truck_plate") OR old_values."vessel_imo" IS DISTINCT FROM (new_values."vessel_imo") OR old_values."vessel_name" IS DISTINCT FROM (new_values."vessel_name") OR old_values."voyage_number" IS DISTINCT FROM (new_values."voyage_number")) ) AS new_values, _pgh_attached_context; RETURN NULL;', hash='30a2e3fb8e3d02bde2ed2a4b31bb81e022f75413', level='STATEMENT', operation='UPDATE', pgid='pgtrigger_update_update_114d2', referencing='REFERENCING OLD TABLE AS old_values  NEW TABLE AS new_values ', table='tracking_leg', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='leg',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "tracking_legevent" ("actual_arrival_at", "actual_departure_at", "carrier_id", "destination_id", "flight_number", "id", "mode", "origin_id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "planned_arrival_at", "planned_departure_at", "role", "shipment_id", "train_number", "truck_plate", "vessel_imo", "vessel_name", "voyage_number") SELECT old_values."actual_arrival_at", old_values."actual_departure_at", old_values."carrier_id", old_values."destination_id", old_values."flight_number", old_values."id", old_values."mode", old_values."origin_id", _pgh_attached_context.value, NOW(), \'delete\', old_values."id", old_values."planned_arrival_at", old_values."planned_departure_at", old_values."role", old_values."shipment_id", old_values."train_number", old_values."truck_plate", old_values."vessel_imo", old_values."vessel_name", old_values."voyage_number" FROM ( SELECT old_values.* FROM old_values  ) AS old_values, _pgh_attached_context; RETURN NULL;', hash='951a857dd8f76783c00d62c2f0f80e2920e4da7c', level='STATEMENT', operation='DELETE', pgid='pgtrigger_delete_delete_273fe', referencing='REFERENCING OLD TABLE AS old_values ', table='tracking_leg', when='AFTER')),
        ),
        migrations.AddField(
            model_name='legevent',
            name='carrier',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='partners.organisation'),
        ),
        migrations.AddField(
            model_name='legevent',
            name='destination',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='orders.location'),
        ),
        migrations.AddField(
            model_name='legevent',
            name='origin',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='orders.location'),
        ),
        migrations.AddField(
            model_name='legevent',
            name='pgh_context',
            field=models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='pghistory.context'),
        ),
        migrations.AddField(
            model_name='legevent',
            name='pgh_obj',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='tracking.leg'),
        ),
        migrations.AddField(
            model_name='legevent',
            name='shipment',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='tracking.shipment'),
        ),
        migrations.RunSQL(SNAPSHOT, migrations.RunSQL.noop),
        migrations.RunSQL(APPEND_ONLY, f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};"),
    ]
