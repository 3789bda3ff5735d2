"""Airports imported before get their IATA code. UN/LOCODE fills its IATA column only when the code differs from
the location part, so USJFK, GBLHR and FRCDG were stored without one and the picker and the place hints could
not find them by it. The import now stores the location part of an airport whose column is empty
(orders.locations._iata); this fills the rows already there the same way. IATA codes are letters only."""

from django.db import migrations

FILL = """
UPDATE orders_location SET iata = substr(code, 3)
WHERE iata = '' AND 'airport' = ANY(functions) AND code ~ '^[A-Z]{5}$';
"""
EMPTY = """
UPDATE orders_location SET iata = ''
WHERE iata = substr(code, 3) AND 'airport' = ANY(functions);
"""


class Migration(migrations.Migration):
    dependencies = [("orders", "0011_history_append_only")]

    operations = [migrations.RunSQL(FILL, EMPTY)]
