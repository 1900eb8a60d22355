from django.db import migrations

from januscaler_refunds import db_guards

# PostgreSQL only (db_guards). An inbound message is stored first (as triage) and then placed:
# intake sets its outcome and the request it belongs to (request also goes NULL if that request
# is ever deleted, on_delete=SET_NULL). What arrived - bytes, headers, body, attachments - never changes.
MUTABLE = ("outcome", "request_id")


class Migration(migrations.Migration):

    dependencies = [
        ("intake", "0003_mailbox_health"),
    ]

    operations = [
        db_guards.postgres_sql(
            db_guards.APPEND_ONLY_FUNCTION + db_guards.append_only_sql("intake_inboundmessage", MUTABLE),
            db_guards.drop_append_only_sql("intake_inboundmessage"),
        ),
    ]
