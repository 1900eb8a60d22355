"""A covering partial index of the requests still in play (open or approved), for the counts pages
make when they are read: the admin index cards, the dashboard's state x deadline table, the digest.

Every such count is a range over (state, due date) with the policy version and the assignee beside
it (deadlines/readtime.py), so PostgreSQL counts from the index alone (an index-only scan of the
~45% of rows in play) instead of visiting the table's wide rows. Declared here, like 0003, so the
refunds app's migrations stay the refunds app's.
"""

from django.db import migrations

IN_PLAY = "state IN ('submitted', 'under_review', 'info_requested', 'approved')"


class Migration(migrations.Migration):
    dependencies = [
        ("deadlines", "0003_stale_deadline_rating_index"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS refund_in_play_deadlines ON refunds_refundrequest "
            f"(state, review_due_at, payout_due_at, policy_version_id, assignee_id) WHERE {IN_PLAY}",
            "DROP INDEX IF EXISTS refund_in_play_deadlines",
        )
    ]
