"""The development email backend: one log line per message, never its body.

Django's console backend prints whole messages (customers' words, addresses, amounts) into the
process log; this one logs who, what and the Message-ID, which is enough to see a transition's mail
go out. Production sets EMAIL_BACKEND to the SMTP backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

log = logging.getLogger("januscaler_refunds.mail")


class LogEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            log.info(
                "email to=%s subject=%r message-id=%s (%d characters, body not logged)",
                ",".join(message.recipients()), message.subject, message.extra_headers.get("Message-ID", "-"),
                len(message.body or ""),
            )
        return len(email_messages)
