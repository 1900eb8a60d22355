"""Create the roles (billing agent, billing manager, finance) as groups with their permissions."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from januscaler_refunds.refunds.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0001_initial"),
        ("billing", "0002_initial_policy_version"),
        ("chargebacks", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
