"""Our company and its branches are never also a customer, carrier, agent, warehouse or vendor: such a mix made the
organisation's API keys staff keys over every customer's data (partners.scoping.scope_for_api_key), and anyone who
may edit organisations (sales, finance) could tick it."""

from django.db import migrations, models

INTERNAL = ['branch', 'company']
EXTERNAL = ['agent', 'carrier', 'customer', 'vendor', 'warehouse']


def refuse_mixed_organisations(apps, schema_editor):
    # PostgreSQL would only say the constraint "is violated by some row"; name the rows, for a person to decide
    # which part each one really plays (untick the wrong kinds, or make a second organisation).
    Organisation = apps.get_model('partners', 'Organisation')
    mixed = sorted(
        Organisation.objects.filter(kinds__overlap=INTERNAL)
        .filter(kinds__overlap=EXTERNAL)
        .values_list('code', flat=True)
    )
    if mixed:
        raise RuntimeError(
            f"Organisations {', '.join(mixed)} are both ours (company or branch) and a customer or partner. "
            "Untick the kinds that are wrong in the console, then migrate again."
        )


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0004_roles_resync'),
    ]

    operations = [
        migrations.RunPython(refuse_mixed_organisations, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name='organisation',
            constraint=models.CheckConstraint(condition=models.Q(('kinds__overlap', ['branch', 'company']), ('kinds__overlap', ['agent', 'carrier', 'customer', 'vendor', 'warehouse']), _negated=True), name='organisation_internal_or_external', violation_error_message='Our company or a branch cannot also be a customer, carrier, agent, warehouse or vendor.'),
        ),
    ]
