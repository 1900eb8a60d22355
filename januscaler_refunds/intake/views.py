"""The inbound-mail webhook: a mail relay POSTs one raw RFC 822 message, we ingest it."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from januscaler_refunds.intake.models import InboundMessage
from januscaler_refunds.intake.services import ingest_raw_message

TOKEN_HEADER = "X-Intake-Token"
SIGNATURE_HEADER = "X-Intake-Signature"
ACCEPTED_TYPES = {"message/rfc822", "application/octet-stream", "text/plain"}


def _authorised(request: HttpRequest, body: bytes) -> bool:
    """Either the shared secret itself (``X-Intake-Token``) or ``X-Intake-Signature: sha256=<hex HMAC of the body>``."""
    secret = settings.INBOUND_WEBHOOK_SECRET
    if not secret:
        return False
    token = request.headers.get(TOKEN_HEADER, "")
    if token and hmac.compare_digest(token.encode(), secret.encode()):
        return True
    signature = request.headers.get(SIGNATURE_HEADER, "").removeprefix("sha256=").strip().lower()
    if signature:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, expected)
    return False


@csrf_exempt
@require_POST
def inbound_mail(request: HttpRequest) -> JsonResponse:
    if not settings.INBOUND_WEBHOOK_SECRET:
        return JsonResponse(
            {"error": "The inbound webhook is disabled: INBOUND_WEBHOOK_SECRET is not set."},
            status=403,
        )
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse(
            {"error": "The message is larger than DATA_UPLOAD_MAX_MEMORY_SIZE."}, status=413
        )
    if not _authorised(request, body):
        return JsonResponse({"error": "Missing or wrong token/signature."}, status=403)
    content_type = (request.content_type or "").lower()
    if content_type not in ACCEPTED_TYPES:
        return JsonResponse(
            {"error": f"Send the raw message as message/rfc822, not {content_type}."}, status=415
        )
    if not body:
        return JsonResponse({"error": "Empty body."}, status=400)
    location = request.headers.get("X-Intake-Location", "")[:200] or "webhook"
    result = ingest_raw_message(
        body, location=location, now=timezone.now(), source=InboundMessage.Source.WEBHOOK
    )
    return JsonResponse(result.as_json(), status=202)
