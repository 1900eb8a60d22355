"""Give the roles their intake permissions (triage for agents, imports for managers)."""

from django.db import migrations


def grant(apps, schema_editor):  # type: ignore[no-untyped-def]
    from januscaler_refunds.refunds.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0001_initial"),
        ("refunds", "0002_roles"),
        ("chargebacks", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
