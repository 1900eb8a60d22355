"""The queue at 1M requests: indexes for its ordering and for exact-token and free-text search.

The ordering indexes are ordinary (every database). The search indexes are PostgreSQL-only:
``varchar_pattern_ops`` lets ``LIKE 'prefix%'`` use a B-tree whatever the collation, and pg_trgm's
GIN index serves the one free-text search (a customer's name). See refunds/queue.py.
"""

from django.conf import settings
from django.db import migrations, models

# (name, table, column, method and operator class)
PG_SEARCH_INDEXES = [
    ("refund_reference_prefix", "refunds_refundrequest", "reference", "btree (reference varchar_pattern_ops)"),
    ("refund_requester_email_prefix", "refunds_refundrequest", "requester_email",
     "btree (requester_email varchar_pattern_ops)"),
    ("billing_customer_email_prefix", "billing_customer", "email", "btree (email varchar_pattern_ops)"),
    ("billing_invoice_number_prefix", "billing_invoice", "number", "btree (number varchar_pattern_ops)"),
    ("billing_customer_name_trgm", "billing_customer", "name", "gin (name gin_trgm_ops)"),
]


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite searches the same columns without these indexes
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, _column, using in PG_SEARCH_INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING {using}")


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, *_ in PG_SEARCH_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0002_initial_policy_version'),
        ('refunds', '0003_payout_method_exception'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(create_search_indexes, drop_search_indexes),
        migrations.AddIndex(
            model_name='refundrequest',
            index=models.Index(condition=models.Q(('state__in', ['submitted', 'under_review', 'info_requested'])), fields=['review_due_at', 'received_at', 'id'], name='refund_open_queue'),
        ),
        migrations.AddIndex(
            model_name='refundrequest',
            index=models.Index(fields=['review_due_at', 'received_at', 'id'], name='refund_queue_order'),
        ),
    ]
