"""Let agents and managers see the alerts list (read-only)."""

from django.db import migrations


def grant(apps, schema_editor):  # type: ignore[no-untyped-def]
    from januscaler_refunds.refunds.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("deadlines", "0001_initial"),
        ("intake", "0002_role_permissions"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
