"""Re-sync the role groups with partners/roles.py: only the admin role may add, change or delete users,
memberships and API keys (sales and finance had change on the whole partners app, User and Membership
included, and could make themselves superuser or administrator)."""

from django.db import migrations


def resync_roles(apps, schema_editor):
    # The live table in partners/roles.py is the point: existing databases must get exactly its permissions.
    # On a new database the permissions do not exist yet; post_migrate (partners/apps.py) syncs again.
    from partners.roles import roles_sync

    roles_sync()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("partners", "0003_idempotency_key"),
    ]

    operations = [migrations.RunPython(resync_roles, migrations.RunPython.noop, elidable=True)]
