"""Real mail written by other clients (tests/corpus/mail): none is a refund request, none is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from januscaler_refunds.intake.models import InboundMessage, TriageItem
from januscaler_refunds.intake.sources import iter_messages

# Shipped with the project (tests/corpus/mail/README.md says where it comes from and under which licences).
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "mail"

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"no mail corpus at {CORPUS}")
    return CORPUS


def test_every_corpus_message_ends_in_triage_or_as_a_reply_and_none_is_lost(corpus: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    files = list(iter_messages(corpus))
    call_command("ingest_mail", str(corpus))
    out = capsys.readouterr().out
    assert InboundMessage.objects.count() == len(files)
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) <= {"triage", "reply"}
    assert TriageItem.objects.count() == InboundMessage.objects.filter(outcome="triage").count()
    assert not TriageItem.objects.filter(reason="internal_error").exists()
    assert f"{len(files)} triage items" in out or "replies" in out
    assert "0 errors" in out
    assert set(InboundMessage.objects.values_list("location", flat=True)) == {m.location for m in files}


def test_ingesting_the_corpus_twice_creates_nothing_new(corpus: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("ingest_mail", str(corpus))
    before = (InboundMessage.objects.count(), TriageItem.objects.count())
    capsys.readouterr()
    call_command("ingest_mail", str(corpus))
    assert (InboundMessage.objects.count(), TriageItem.objects.count()) == before
    assert f"{before[0]} duplicates (already ingested)" in capsys.readouterr().out


def test_bounces_and_newsletters_are_triaged_as_automated(corpus: Path) -> None:
    call_command("ingest_mail", str(corpus / "flanker"))
    assert TriageItem.objects.filter(reason="automated", message__automated_kind="bounce").exists()
