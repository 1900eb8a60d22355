"""Outbound webhooks: the body, its signature and one HTTP attempt.

Signature scheme (docs/chargebacks.md): with ``t`` the Unix time of the attempt in seconds,
``X-Januscaler-Timestamp: t`` and ``X-Januscaler-Signature: sha256=<hex>`` where ``hex`` is
HMAC-SHA256 under the shared secret of the bytes ``f"{t}.".encode() + body``. Signing the time
stops a captured call being replayed later; receivers reject a timestamp older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

SIGNATURE_HEADER = "X-Januscaler-Signature"
TIMESTAMP_HEADER = "X-Januscaler-Timestamp"
EVENT_HEADER = "X-Januscaler-Event"
DELIVERY_HEADER = "X-Januscaler-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


def encode_body(payload: dict[str, Any]) -> bytes:
    """Canonical JSON: the bytes that are signed are the bytes that are sent."""
    return json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str,
    *,
    body: bytes,
    timestamp: str,
    signature: str,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: recompute and compare in constant time, and refuse stale calls."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), signature or "")


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    ok: bool
    retryable: bool
    error: str
    excerpt: str
    duration_ms: int


def post(
    url: str, *, body: bytes, secret: str, event_type: str, delivery_id: str, timeout: float
) -> Attempt:
    """One signed POST. 2xx is delivered; 408, 429, 5xx and network errors are worth retrying."""
    timestamp = int(time.time())
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "januscaler-refunds-webhook/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            EVENT_HEADER: event_type,
            DELIVERY_HEADER: delivery_id,
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL from settings
            excerpt = response.read(500).decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        excerpt = exc.read(500).decode("utf-8", "replace") if exc.fp else ""
        elapsed = int((time.monotonic() - started) * 1000)
        retryable = exc.code >= 500 or exc.code in (408, 429)
        return Attempt(exc.code, False, retryable, f"HTTP {exc.code}", excerpt, elapsed)
    except (urllib.error.URLError, OSError) as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        return Attempt(None, False, True, str(getattr(exc, "reason", exc))[:2000], "", elapsed)
    elapsed = int((time.monotonic() - started) * 1000)
    return Attempt(status, 200 <= status < 300, False, "", excerpt, elapsed)
