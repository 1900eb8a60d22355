"""Reason codes are public names: the table in policy-decisions.md, exactly."""

from __future__ import annotations

import pytest

from januscaler_refunds.policy import REASON_CODES, Code, Effect, describe

# Copied from the table in policy-decisions.md: code -> (section, effect).
DECIDED = {
    "window_expired": ("3", "block"),
    "missing_documentation": ("3", "info"),
    "account_unpaid_invoices": ("3", "block"),
    "account_violation": ("1, 3", "block"),
    "account_suspended": ("6.1", "block"),
    "identity_verification_pending": ("3, 4.3", "info"),
    "invoice_not_paid": ("1", "block"),
    "invoice_customer_mismatch": ("4.1", "info"),
    "duplicate_request": ("4", "block"),
    "not_a_ground_dissatisfaction": ("1", "block"),
    "not_a_ground_third_party": ("1", "block"),
    "not_a_ground_force_majeure": ("1", "block"),
    "sla_no_qualifying_downtime": ("1", "block"),
    "mbg_not_new_customer": ("2.1", "block"),
    "mbg_not_initial_purchase": ("2.1", "block"),
    "mbg_already_used": ("2.1", "block"),
    "mbg_crypto_payment": ("2.2", "block"),
    "mbg_extensive_use": ("2.2", "block"),
    "mbg_abuse_report": ("2.2", "block"),
    "crypto_credit_only": ("4.3", "note"),
    "billing_error_needs_verification": ("1, 4.2", "note"),
    "billing_error_verified": ("1, 4.2", "note"),
    "billing_error_amount_missing": ("4.1", "info"),
    "partial_prorated_unused": ("4.4", "adjust"),
    "partial_sla_disruption": ("4.4", "adjust"),
    "nonrefundable_usage": ("1, 5", "adjust"),
    "nonrefundable_third_party_fees": ("2.2, 5", "adjust"),
    "nonrefundable_setup_fees": ("5", "adjust"),
    "chargeback_open": ("6", "block"),
    "nothing_refundable": ("4.4, 5", "block"),
    "cap_reduced_by_earlier_refunds": ("4.4", "adjust"),
}


def test_the_codes_are_exactly_the_decided_table() -> None:
    assert {str(code): (info.section, str(info.effect)) for code, info in REASON_CODES.items()} == DECIDED


def test_every_code_has_a_plain_words_description() -> None:
    for info in REASON_CODES.values():
        assert info.description.endswith(".") and len(info.description) > 20
        assert "_" not in info.description  # written for customers, not in code names


@pytest.mark.parametrize(
    "code", ["billing_error_verified", "nothing_refundable", "cap_reduced_by_earlier_refunds"]
)
def test_the_codes_added_in_this_release_have_agent_and_customer_wording(code: str) -> None:
    info = describe(code)
    assert info.agent_wording and info.agent_wording != info.customer_wording
    assert "_" not in info.agent_wording and "_" not in info.customer_wording


def test_codes_compare_equal_to_their_public_names() -> None:
    assert Code.WINDOW_EXPIRED == "window_expired"
    assert "window_expired" in REASON_CODES
    assert describe("chargeback_open").effect is Effect.BLOCK


def test_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError):
        describe("no_such_code")
