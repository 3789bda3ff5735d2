"""A draft may be saved without its shipper and consignee (submitting needs them: docs/decisions/0002, "Drafts").
No SQL: the columns already hold empty text; `blank` says so to forms and full_clean."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0012_airport_iata_codes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="consignee_name",
            field=models.CharField(blank=True, help_text="Needed to submit; a draft may lack it.", max_length=200),
        ),
        migrations.AlterField(
            model_name="order",
            name="shipper_name",
            field=models.CharField(blank=True, help_text="Needed to submit; a draft may lack it.", max_length=200),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="consignee_name",
            field=models.CharField(blank=True, help_text="Needed to submit; a draft may lack it.", max_length=200),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="shipper_name",
            field=models.CharField(blank=True, help_text="Needed to submit; a draft may lack it.", max_length=200),
        ),
    ]
