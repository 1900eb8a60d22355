"""Reason codes: the public names from the table in policy-decisions.md.

Each code has the policy section(s) it comes from, an effect, a plain-words description an agent
can paste to a customer (the customer wording), and a short label for the console (the agent
wording). Effects: ``block`` makes the recommendation "deny", ``info`` makes it "needs
information", ``adjust`` changes the amount, ``note`` only informs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Code(StrEnum):
    WINDOW_EXPIRED = "window_expired"
    MISSING_DOCUMENTATION = "missing_documentation"
    ACCOUNT_UNPAID_INVOICES = "account_unpaid_invoices"
    ACCOUNT_VIOLATION = "account_violation"
    ACCOUNT_SUSPENDED = "account_suspended"
    IDENTITY_VERIFICATION_PENDING = "identity_verification_pending"
    INVOICE_NOT_PAID = "invoice_not_paid"
    INVOICE_CUSTOMER_MISMATCH = "invoice_customer_mismatch"
    DUPLICATE_REQUEST = "duplicate_request"
    NOT_A_GROUND_DISSATISFACTION = "not_a_ground_dissatisfaction"
    NOT_A_GROUND_THIRD_PARTY = "not_a_ground_third_party"
    NOT_A_GROUND_FORCE_MAJEURE = "not_a_ground_force_majeure"
    SLA_NO_QUALIFYING_DOWNTIME = "sla_no_qualifying_downtime"
    MBG_NOT_NEW_CUSTOMER = "mbg_not_new_customer"
    MBG_NOT_INITIAL_PURCHASE = "mbg_not_initial_purchase"
    MBG_ALREADY_USED = "mbg_already_used"
    MBG_CRYPTO_PAYMENT = "mbg_crypto_payment"
    MBG_EXTENSIVE_USE = "mbg_extensive_use"
    MBG_ABUSE_REPORT = "mbg_abuse_report"
    CRYPTO_CREDIT_ONLY = "crypto_credit_only"
    BILLING_ERROR_NEEDS_VERIFICATION = "billing_error_needs_verification"
    BILLING_ERROR_VERIFIED = "billing_error_verified"
    BILLING_ERROR_AMOUNT_MISSING = "billing_error_amount_missing"
    PARTIAL_PRORATED_UNUSED = "partial_prorated_unused"
    PARTIAL_SLA_DISRUPTION = "partial_sla_disruption"
    NONREFUNDABLE_USAGE = "nonrefundable_usage"
    NONREFUNDABLE_THIRD_PARTY_FEES = "nonrefundable_third_party_fees"
    NONREFUNDABLE_SETUP_FEES = "nonrefundable_setup_fees"
    CHARGEBACK_OPEN = "chargeback_open"
    NOTHING_REFUNDABLE = "nothing_refundable"
    CAP_REDUCED_BY_EARLIER_REFUNDS = "cap_reduced_by_earlier_refunds"


class Effect(StrEnum):
    BLOCK = "block"
    INFO = "info"
    ADJUST = "adjust"
    NOTE = "note"


@dataclass(frozen=True)
class CodeInfo:
    code: Code
    sections: tuple[str, ...]
    effect: Effect
    description: str  # customer wording
    label: str = ""  # agent wording: what the console shows beside the code

    @property
    def customer_wording(self) -> str:
        return self.description

    @property
    def agent_wording(self) -> str:
        return self.label or self.description

    @property
    def section(self) -> str:
        """The sections as the policy-decisions table writes them, e.g. "1, 3"."""
        return ", ".join(self.sections)


def _entry(code: Code, sections: str, effect: str, description: str, label: str = "") -> tuple[Code, CodeInfo]:
    parts = tuple(section.strip() for section in sections.split(","))
    return code, CodeInfo(code, parts, Effect(effect), description, label)


# code, section(s), effect, description - in the order of the policy-decisions.md table.
REASON_CODES: Mapping[Code, CodeInfo] = MappingProxyType(
    dict(
        [
            _entry(
                Code.WINDOW_EXPIRED,
                "3",
                "block",
                "The request arrived after the filing window: 7 days from the invoice date for "
                "the money-back guarantee, 15 days for billing errors and service outages.",
            ),
            _entry(
                Code.MISSING_DOCUMENTATION,
                "3",
                "info",
                "Please send supporting documents (invoice, error logs, screenshots or other "
                "evidence of the issue).",
            ),
            _entry(
                Code.ACCOUNT_UNPAID_INVOICES,
                "3",
                "block",
                "The account has earlier invoices that are not fully paid, so it is not in good "
                "standing.",
            ),
            _entry(
                Code.ACCOUNT_VIOLATION,
                "1, 3",
                "block",
                "The account has an open violation of the Terms and Conditions or the Acceptable "
                "Use Policy.",
            ),
            _entry(
                Code.ACCOUNT_SUSPENDED,
                "6.1",
                "block",
                "The account is suspended.",
            ),
            _entry(
                Code.IDENTITY_VERIFICATION_PENDING,
                "3, 4.3",
                "info",
                "We asked for identity verification for this cryptocurrency payment and are still "
                "waiting for it.",
            ),
            _entry(
                Code.INVOICE_NOT_PAID,
                "1",
                "block",
                "Nothing has been paid on this invoice, so there is nothing to refund.",
            ),
            _entry(
                Code.INVOICE_CUSTOMER_MISMATCH,
                "4.1",
                "info",
                "The request came from an address that is not on the invoice's account; the "
                "account holder must confirm it.",
            ),
            _entry(
                Code.DUPLICATE_REQUEST,
                "4",
                "block",
                "An earlier refund request for the same invoice is still open; it is handled "
                "there.",
            ),
            _entry(
                Code.NOT_A_GROUND_DISSATISFACTION,
                "1",
                "block",
                "Dissatisfaction with features or performance alone is not a ground for a refund.",
            ),
            _entry(
                Code.NOT_A_GROUND_THIRD_PARTY,
                "1",
                "block",
                "The downtime was caused by third-party services or infrastructure, which the "
                "policy does not refund.",
            ),
            _entry(
                Code.NOT_A_GROUND_FORCE_MAJEURE,
                "1",
                "block",
                "The downtime was caused by a force majeure event, which the policy does not "
                "refund.",
            ),
            _entry(
                Code.SLA_NO_QUALIFYING_DOWNTIME,
                "1",
                "block",
                "Downtime attributable to Januscaler in the service period did not exceed the "
                "Service Level Agreement.",
            ),
            _entry(
                Code.MBG_NOT_NEW_CUSTOMER,
                "2.1",
                "block",
                "The money-back guarantee is for new customers; this account was invoiced before.",
            ),
            _entry(
                Code.MBG_NOT_INITIAL_PURCHASE,
                "2.1",
                "block",
                "The money-back guarantee covers the first Service order only, not renewals or "
                "later orders.",
            ),
            _entry(
                Code.MBG_ALREADY_USED,
                "2.1",
                "block",
                "The money-back guarantee applies once per customer and has already been granted.",
            ),
            _entry(
                Code.MBG_CRYPTO_PAYMENT,
                "2.2",
                "block",
                "The money-back guarantee does not cover payments made by cryptocurrency.",
            ),
            _entry(
                Code.MBG_EXTENSIVE_USE,
                "2.2",
                "block",
                "The Service was used extensively during the first 7 days, which voids the "
                "money-back guarantee.",
            ),
            _entry(
                Code.MBG_ABUSE_REPORT,
                "2.2",
                "block",
                "Abuse reports were received within the first 7 days, which voids the money-back "
                "guarantee.",
            ),
            _entry(
                Code.CRYPTO_CREDIT_ONLY,
                "4.3",
                "note",
                "Cryptocurrency payments are not refunded; an account credit may be offered "
                "instead at our discretion.",
            ),
            _entry(
                Code.BILLING_ERROR_NEEDS_VERIFICATION,
                "1, 4.2",
                "note",
                "The billing team verifies the overcharge before any refund.",
                "Overcharge not yet verified",
            ),
            _entry(
                Code.BILLING_ERROR_VERIFIED,
                "1, 4.2",
                "note",
                "The billing team has checked your invoice and confirmed the overcharge.",
                "Overcharge verified by an agent",
            ),
            _entry(
                Code.BILLING_ERROR_AMOUNT_MISSING,
                "4.1",
                "info",
                "Please tell us the amount you believe was overcharged.",
            ),
            _entry(
                Code.PARTIAL_PRORATED_UNUSED,
                "4.4",
                "adjust",
                "Prepaid API credit is refunded for the unused share only.",
            ),
            _entry(
                Code.PARTIAL_SLA_DISRUPTION,
                "4.4",
                "adjust",
                "The credit covers the service disruption as the SLA table sets it, not the whole "
                "invoice.",
            ),
            _entry(
                Code.NONREFUNDABLE_USAGE,
                "1, 5",
                "adjust",
                "Usage-based fees for API calls or services already consumed are not refundable.",
            ),
            _entry(
                Code.NONREFUNDABLE_THIRD_PARTY_FEES,
                "2.2, 5",
                "adjust",
                "Third-party fees (software licences, payment gateway charges) are not "
                "refundable.",
            ),
            _entry(
                Code.NONREFUNDABLE_SETUP_FEES,
                "5",
                "adjust",
                "Setup fees, onboarding charges and custom development work are not refundable.",
            ),
            _entry(
                Code.CHARGEBACK_OPEN,
                "6",
                "block",
                "A chargeback on this invoice is open or already returned the money; a refund "
                "would pay twice.",
            ),
            _entry(
                Code.NOTHING_REFUNDABLE,
                "4.4, 5",
                "block",
                "Nothing on this invoice can be refunded under the policy: the charges are "
                "non-refundable or have already been refunded.",
                "Nothing refundable",
            ),
            _entry(
                Code.CAP_REDUCED_BY_EARLIER_REFUNDS,
                "4.4",
                "adjust",
                "Part of this invoice was already refunded or credited on an earlier request, so "
                "only the rest can be refunded now.",
                "Earlier refunds on the invoice lower the cap",
            ),
        ]
    )
)


def describe(code: Code | str) -> CodeInfo:
    """The section, effect and description of a code; ``ValueError`` for an unknown name."""
    return REASON_CODES[Code(code)]


def effect_of(code: Code | str) -> Effect:
    return describe(code).effect
