"""A partial index of refund requests whose stored deadline rating no longer applies.

It belongs to the deadline scan (deadlines/scan_postgres.py ``STALE``, which must keep the same
predicate word for word): the scan clears those ratings every run, and without the index that is a
scan of every request. The index holds only stale rows, normally none, so it costs nothing to keep.
Declared here rather than on the model so the refunds app's migrations stay the refunds app's.
"""

from django.db import migrations

STALE = (
    "(review_deadline_status <> '' AND state NOT IN ('submitted', 'under_review', 'info_requested')) "
    "OR (payout_deadline_status <> '' AND state <> 'approved') "
    "OR (business_days_left IS NOT NULL AND state IN ('denied', 'paid', 'credited', 'withdrawn'))"
)


class Migration(migrations.Migration):
    dependencies = [
        ("deadlines", "0002_role_permissions"),
        ("refunds", "0002_roles"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS refund_stale_deadline_rating ON refunds_refundrequest (id) WHERE {STALE}",
            "DROP INDEX IF EXISTS refund_stale_deadline_rating",
        )
    ]
