"""Billing managers may view the IMAP mailbox health rows (they get its alerts); see refunds.roles."""

from django.db import migrations


def grant(apps, schema_editor):  # type: ignore[no-untyped-def]
    from januscaler_refunds.refunds.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0004_append_only_triggers"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
