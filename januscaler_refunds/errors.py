"""Error responses for people: an empty 405 (Django's ``require_POST`` and friends) gets the
console's styled page, so the browser never shows its own bare error.

403, 404 and 500 need nothing here: Django renders templates/403.html, 404.html, 500.html and
403_csrf.html itself.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


class StyledErrorPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not getattr(response, "streaming", False) and not response.content:
            response.content = render_to_string("405.html", {"request": request}, request=request).encode()
            response["Content-Type"] = "text/html; charset=utf-8"
        return response
