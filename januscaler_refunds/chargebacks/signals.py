"""Signals other parts of the product (or a plug-in) may listen to. Sent after commit only.

``customer_suspended``: sent with ``sender=Customer`` and keyword arguments
    ``customer`` (billing.Customer, already saved as suspended), ``event`` (SuspensionEvent),
    ``chargeback`` (Chargeback or None), ``reason`` (str) and ``suspended_at`` (aware datetime).

``customer_reinstated``: sent with ``sender=Customer`` and ``customer``, ``event``, ``reason``,
    ``reinstated_at`` and ``actor`` (the user who reinstated).

Business flow does not hang on them: the suspension itself, the re-evaluation and the webhook happen
in ``services``; receivers are for side effects (notifications, caches) and must not raise.
"""

from django.dispatch import Signal

customer_suspended = Signal()
customer_reinstated = Signal()
