"""Give the roles their chargeback permissions (apps.CHARGEBACK_ROLE_PERMISSIONS) on existing databases."""

from django.db import migrations


def grant(apps, schema_editor):  # type: ignore[no-untyped-def]
    from januscaler_refunds.refunds.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("chargebacks", "0002_disputes_suspensions_webhooks"),
        ("refunds", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
