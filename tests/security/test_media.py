"""No URL serves MEDIA_ROOT directly, in any mode: documents only through the checked download view.

Issue 12, finding 6: with DEBUG on (the default) /media/... returned documents and exports to
anyone, and an emailed page.html was served inline as text/html on the console's origin.
"""

from __future__ import annotations

import importlib

import pytest
from django.test import Client
from django.urls import clear_url_caches
from factories import agent, make_request

from januscaler_refunds.refunds import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_urls(settings):  # type: ignore[no-untyped-def]
    """The URLconf as a DEBUG=true process builds it (the test runner forces DEBUG off)."""
    import januscaler_refunds.urls as urls

    settings.DEBUG = True
    importlib.reload(urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(urls)
    clear_url_caches()


@pytest.mark.usefixtures("debug_urls")
def test_a_stored_document_is_not_served_from_its_media_path(settings) -> None:  # type: ignore[no-untyped-def]
    request = make_request()
    document = services.document_attach(
        request=request,
        upload=services.DocumentUpload(name="receipt.pdf", content=b"%PDF-1.4\n% receipt\n%%EOF", content_type="application/pdf"),
    )
    assert document is not None
    path = f"/{settings.MEDIA_URL.lstrip('/')}{document.file.name}"
    assert Client().get(path).status_code == 404
    staff = Client()
    staff.force_login(agent())
    assert staff.get(path).status_code == 404
