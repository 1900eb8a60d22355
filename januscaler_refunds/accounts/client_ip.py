"""The client address django-axes locks on (settings.AXES_CLIENT_IP_CALLABLE).

Without a proxy it is REMOTE_ADDR. Behind exactly one trusted proxy (TRUSTED_PROXY_COUNT=1) it is
the last X-Forwarded-For entry: the one our proxy appended. Earlier entries come from the client
and can be forged, so they are never used; a forged header cannot dodge or move a lockout.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    if settings.TRUSTED_PROXY_COUNT == 1:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return remote
