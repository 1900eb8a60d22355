"""The policy version in force from the policy's effective date (section 7; interfaces.md)."""

import datetime

from django.db import migrations


def create(apps, schema_editor):
    PolicyVersion = apps.get_model("billing", "PolicyVersion")
    PolicyVersion.objects.get_or_create(
        effective_date=datetime.date(2025, 1, 6),
        defaults={
            "label": "2025-01-06",
            # Published with the policy; the first version changes nothing earlier, so the
            # 7-day notice is met by announcing it a week ahead.
            "announced_on": datetime.date(2024, 12, 30),
            "material_change": True,
            "summary": "Refund Policy as published, effective 6 January 2025.",
            "mbg_window_days": 7,
            "claim_window_days": 15,
            "review_business_days": 10,
            "payout_business_days": 10,
            "near_deadline_business_days": 2,
            "pause_clock_on_info_request": True,
            "extensive_use_ratio": "0.2500",
            "sla_credit_table": [["99.9", "0"], ["99.0", "0.10"], ["95.0", "0.25"], ["0", "0.50"]],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
