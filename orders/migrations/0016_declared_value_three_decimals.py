"""A declared value keeps its currency's minor unit, up to three decimals (KWD, BHD): docs/decisions/0002,
"Declared values to the currency's minor unit". NUMERIC(14, 2) to NUMERIC(15, 3): the same whole digits."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0015_order_updated_by"),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="declared_value_amount",
            field=models.DecimalField(
                blank=True,
                decimal_places=3,
                help_text="To its currency's minor unit (KWD: 3).",
                max_digits=15,
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="declared_value_amount",
            field=models.DecimalField(
                blank=True,
                decimal_places=3,
                help_text="To its currency's minor unit (KWD: 3).",
                max_digits=15,
                null=True,
            ),
        ),
    ]
