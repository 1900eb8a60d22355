"""Re-evaluate one request, store the evaluation, print it (text, or --json for machines)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from januscaler_refunds.policy import render_text
from januscaler_refunds.policy.facts import PolicyInputError
from januscaler_refunds.refunds import evaluation
from januscaler_refunds.refunds.models import RefundRequest


class Command(BaseCommand):
    help = "Re-evaluate one refund request under its policy version, store the evaluation and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", help="The request's reference, e.g. RR-000042.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of text.")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = options["reference"].strip().upper()
        request = RefundRequest.objects.filter(reference=reference).first()
        if request is None:
            raise CommandError(f"No refund request with reference {reference}.")
        try:
            with transaction.atomic():
                request = RefundRequest.objects.select_for_update().get(pk=request.pk)
                # Stored unless the request is already decided: a decision keeps the snapshot it saw.
                result = evaluation.evaluate_and_store(request)
        except PolicyInputError as exc:
            raise CommandError(f"{reference} cannot be evaluated: {exc}") from exc
        if options["json"]:
            payload = result.to_dict()
            payload["state"] = request.state
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(render_text(result))
