"""The transition log is append-only, through the ORM and the admin alike."""

from __future__ import annotations

import pytest
from factories import make_request

from januscaler_refunds.refunds.models import AppendOnlyError, TransitionLog

pytestmark = pytest.mark.django_db


def test_a_log_row_cannot_be_updated() -> None:
    row = TransitionLog.objects.filter(request=make_request()).get()
    row.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        row.save()


def test_a_log_row_cannot_be_deleted() -> None:
    row = TransitionLog.objects.filter(request=make_request()).get()
    with pytest.raises(AppendOnlyError):
        row.delete()


def test_log_querysets_refuse_update_and_delete() -> None:
    request = make_request()
    with pytest.raises(AppendOnlyError):
        TransitionLog.objects.filter(request=request).update(note="x")
    with pytest.raises(AppendOnlyError):
        TransitionLog.objects.filter(request=request).delete()
    assert TransitionLog.objects.filter(request=request).count() == 1
