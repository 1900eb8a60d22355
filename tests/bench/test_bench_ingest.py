"""bench/ingest.py on a small seed: the Maildir it writes ingests to exactly the outcomes it expects,
in a constant number of statements per message, and the bench removes what it wrote. No speed is
asserted (benchmarks measure speed; tests check the code that measures it)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from django.utils import timezone

from januscaler_refunds.intake.models import InboundMessage, TriageItem
from januscaler_refunds.refunds.models import (
    CustomerMessage,
    RefundDocument,
    RefundRequest,
    TransitionLog,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
BENCH = Path(__file__).resolve().parents[2] / "bench"
# Statements per message, whatever the Maildir's size: reads in two round trips (lookup, history),
# then nextval, request, log, acknowledgement and message INSERTs; replies and documents a few more.
STATEMENTS_PER_MESSAGE = 9


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")  # the project's bench/ (pythonpath ".")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load("ingest")


@pytest.fixture
def seeded() -> None:
    _load("seed").seed(2_000, verbose=False)


def test_the_maildir_ingests_to_its_expected_outcomes_in_constant_statements(
    bench: ModuleType, seeded: None, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    per_message = []
    for n in (100, 200):
        maildir = tmp_path / f"Maildir-{n}"
        expected = bench.build_maildir(maildir, n, bench.sample_invoices(n), now=timezone.now())
        assert expected.reply >= n // 10 and expected.triage >= 1 and expected.pdfs >= 1
        marks = bench.watermarks()
        result = bench.ingest_once(maildir)

        assert {k: result.counts.get(k, 0) for k in expected.counts()} == expected.counts()
        assert not result.counts.get("errors")
        new = RefundRequest.objects.filter(pk__gt=marks["refunds_refundrequest"])
        assert new.count() == expected.request
        # Each request logged (who, when), evaluated, and acknowledged (the row; sent after commit).
        assert TransitionLog.objects.filter(request__in=new, transition="create", actor_label="system").count() == expected.request
        assert not new.filter(evaluated_at__isnull=True).exists() and not new.filter(recommendation="").exists()
        assert CustomerMessage.objects.filter(request__in=new, kind="acknowledgement").count() == expected.request
        # Every message kept (the duplicates are the same messages), triage with a reason.
        assert InboundMessage.objects.filter(pk__gt=marks["intake_inboundmessage"]).count() == n - expected.duplicate
        reasons = TriageItem.objects.filter(pk__gt=marks["intake_triageitem"]).values_list("reason", flat=True)
        assert sorted(reasons) == sorted(expected.triage_reasons.elements())
        assert RefundDocument.objects.filter(pk__gt=marks["refunds_refunddocument"]).count() == expected.pdfs

        per_message.append(result.queries / n)
        assert result.queries <= STATEMENTS_PER_MESSAGE * n, result.queries / n

        deleted = bench.clean_up(marks)
        assert deleted["refunds_refundrequest"] == expected.request
        assert bench.watermarks() == marks
        assert bench.floor_once(maildir) > 0
    # Constant: twice the messages, not more statements per message (within the mix's noise).
    assert per_message[1] <= per_message[0] * 1.15, per_message


def test_the_big_message_is_kept_as_too_large_triage(bench: ModuleType, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from januscaler_refunds.intake.management.commands.ingest_mail import ingest_paths

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INTAKE_MAX_MESSAGE_BYTES = 1024 * 1024  # the same path as 30 MB against 25 MB, smaller
    path = tmp_path / "big.eml"
    bench.make_big_message(path, size=3 * 1024 * 1024)
    assert ingest_paths([str(path)]) == {"triage": 1}
    message = InboundMessage.objects.get()
    assert message.triage.reason == TriageItem.Reason.TOO_LARGE
    assert message.raw and message.raw.size == path.stat().st_size  # kept whole
