"""The review page's amount breakdown and checklist order, shaped from the stored evaluation.

The breakdown reads as arithmetic a billing agent can check by eye: what each line allows and
why, the basis the reason gives (the lines' sum, the SLA credit, or the overcharge), the cap
(paid on the invoice, less what earlier requests on it already returned when the evaluation
says so) and the result, which is the smaller of the basis and the cap. It only reads the
snapshot ``refunds.evaluation`` stored; it decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from januscaler_refunds.policy.codes import VERDICT_LABELS

# The checklist leads with what decides the request: failures, then what waits for information
# or deserves a note; passing clauses are collapsed and not-applicable ones behind a toggle.
DECISIVE = ("fail", "needs_information", "note")


@dataclass(frozen=True)
class Step:
    label: str
    amount: Decimal | None
    note: str = ""
    kind: str = "step"  # "step" | "minus" | "cap" | "result"


def _dec(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def group_clauses(clauses: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    decisive = [c for c in clauses if c.get("verdict") in DECISIVE]
    decisive.sort(key=lambda c: DECISIVE.index(str(c.get("verdict"))))
    return {
        "decisive": decisive,
        "passed": [c for c in clauses if c.get("verdict") == "pass"],
        "not_applicable": [c for c in clauses if c.get("verdict") == "not_applicable"],
    }


def verdict_counts(clauses: list[dict[str, Any]]) -> list[tuple[str, int]]:
    counts = [(VERDICT_LABELS[v], sum(1 for c in clauses if c.get("verdict") == v)) for v in VERDICT_LABELS]
    return [(label, n) for label, n in counts if n]


def amount_steps(*, snapshot: dict[str, Any], reason: str, requested: Decimal | None,
                 verified_overcharge: Decimal | None, refundable: Decimal | None) -> list[Step]:
    """The rows under the lines table, top to bottom, ending with the refundable amount."""
    if not snapshot:
        return []
    lines = snapshot.get("lines") or []
    steps: list[Step] = []
    if reason == "billing_error":
        if verified_overcharge is not None:
            steps.append(Step("Overcharge verified by the billing team", verified_overcharge))
        elif requested is not None:
            steps.append(Step("Overcharge named by the customer (not yet verified)", requested))
        else:
            steps.append(Step("No overcharge amount named yet", Decimal(0)))
    elif lines:
        total = sum((_dec(line.get("allowed")) or Decimal(0) for line in lines), Decimal(0))
        what = "SLA credit on the plan lines" if reason == "service_unavailability" else "Allowed on the lines above"
        steps.append(Step(what, total))
    else:
        steps.append(Step("Nothing is refundable for this reason", Decimal(0), "dissatisfaction alone is not a ground (section 1)" if reason == "other" else ""))
    paid = _dec(snapshot.get("amount_paid"))
    earlier = _dec(snapshot.get("earlier_refunded"))
    steps.append(Step("Cap: paid on the invoice", paid, kind="cap"))
    if earlier:
        steps.append(Step("Less already refunded on earlier requests", earlier, kind="minus"))
        if paid is not None:
            steps.append(Step("Cap after earlier refunds", max(paid - earlier, Decimal(0)), kind="cap"))
    steps.append(Step("Refundable (the smaller of the two)", refundable, kind="result"))
    return steps
