"""An import job keeps its file's header as written, so errors name their column as the user's sheet does
("Gross Weight KG", not gross_weight_kg): docs/decisions/0002, "A fourth review of the intake"."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0013_drafts_may_lack_parties"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="header",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The file's column names as its header row writes them, in the file's order (the errors' "
                "columns are shown so); empty for files checked before it was kept.",
            ),
        ),
    ]
