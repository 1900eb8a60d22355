"""Give managers the lockout list (apps.ACCOUNTS_ROLE_PERMISSIONS) on existing databases."""

from django.db import migrations


def grant(apps, schema_editor):  # type: ignore[no-untyped-def]
    from januscaler_refunds.refunds.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0002_roles"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
