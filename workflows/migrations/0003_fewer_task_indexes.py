"""Drop the single-column indexes that a composite index already starts with (Task.order, Task.team,
Task.assignee, Notification.recipient) and the unused one on Task.key: each is written on every task insert
and state change. Only the indexes go; the foreign-key constraints stay as they are (no re-validation)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (index, table, column, extra) as Django named them in 0001; the reverse recreates them identically.
_INDEXES = [
    ("workflows_notification_recipient_id_5a4d8910", "workflows_notification", "recipient_id", ""),
    ("workflows_task_assignee_id_02fe5fde", "workflows_task", "assignee_id", ""),
    ("workflows_task_key_fce91466", "workflows_task", "key", ""),
    ("workflows_task_key_fce91466_like", "workflows_task", "key", " varchar_pattern_ops"),
    ("workflows_task_order_id_a3929bc7", "workflows_task", "order_id", ""),
    ("workflows_task_team_id_ca533fa5", "workflows_task", "team_id", ""),
]


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0002_config_stamp"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}"{extra})',
                )
                for index, table, column, extra in _INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="notification",
                    name="recipient",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="notifications",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="task",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                        related_name="tasks", to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="task",
                    name="key",
                    field=models.SlugField(
                        blank=True, db_index=False, help_text="The definition's key, for dependencies.", max_length=40
                    ),
                ),
                migrations.AlterField(
                    model_name="task",
                    name="order",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="tasks",
                        to="orders.order",
                    ),
                ),
                migrations.AlterField(
                    model_name="task",
                    name="team",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                        related_name="tasks", to="workflows.team",
                    ),
                ),
            ],
        ),
    ]
