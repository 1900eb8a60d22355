"""Section 7: policy versions, their parameters, and the announcement rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from januscaler_refunds.policy import (
    DEFAULT_POLICY_VERSION,
    AnnouncementTooLate,
    NoPolicyInForce,
    PolicyInputError,
    PolicyParameters,
    PolicyVersion,
    check_announcement,
    select_version,
)

FIRST = DEFAULT_POLICY_VERSION
SECOND = PolicyVersion(label="2026-07", effective_date=date(2026, 7, 1), announced_on=date(2026, 6, 1))


def test_the_defaults_are_the_decided_parameters() -> None:
    parameters = PolicyParameters()
    assert (parameters.mbg_window_days, parameters.claim_window_days) == (7, 15)
    assert (parameters.review_business_days, parameters.payout_business_days) == (10, 10)
    assert parameters.near_threshold_business_days == 2
    assert parameters.pause_review_clock_on_info_request is True
    assert parameters.extensive_use_ratio == Decimal("0.25")
    assert parameters.sla_credit_table == (
        (Decimal("99.9"), Decimal("0")),
        (Decimal("99.0"), Decimal("0.10")),
        (Decimal("95.0"), Decimal("0.25")),
        (Decimal("0"), Decimal("0.50")),
    )
    assert FIRST.effective_date == date(2025, 1, 6)


@pytest.mark.parametrize(
    ("availability", "share"),
    [("100", "0"), ("99.9", "0"), ("99.89", "0.10"), ("99.0", "0.10"), ("98.99", "0.25"),
     ("95.0", "0.25"), ("94.99", "0.50"), ("0", "0.50")],
)
def test_sla_table_edges_are_inclusive(availability: str, share: str) -> None:
    assert PolicyParameters().sla_share(Decimal(availability)) == Decimal(share)


def test_an_sla_table_from_the_admin_is_normalised() -> None:
    parameters = PolicyParameters(sla_credit_table=[(0, "0.5"), ("99.9", 0), (99, "0.1")])
    assert parameters.sla_credit_table[0] == (Decimal("99.9"), Decimal("0"))
    assert parameters.sla_share(Decimal("99.5")) == Decimal("0.1")


@pytest.mark.parametrize(
    "table",
    [[("99.9", "0")], [("99.9", "0"), ("99.9", "0.1"), ("0", "0.5")], [("99", 0.1), ("0", "0.5")],
     [("0", "1.5")]],
    ids=["no-zero-band", "repeated-bound", "float", "share-above-one"],
)
def test_a_malformed_sla_table_is_refused(table) -> None:
    with pytest.raises(PolicyInputError):
        PolicyParameters(sla_credit_table=table)


def test_the_filing_window_depends_on_the_reason() -> None:
    parameters = PolicyParameters()
    assert parameters.filing_window_days("money_back_guarantee") == 7
    assert parameters.filing_window_days("billing_error") == 15
    assert parameters.filing_window_days("service_unavailability") == 15
    assert parameters.filing_window_days("other") == 15


def test_the_version_in_force_on_the_received_date_is_selected() -> None:
    assert select_version([SECOND, FIRST], date(2026, 6, 30)) is FIRST
    assert select_version([SECOND, FIRST], date(2026, 7, 1)) is SECOND
    assert select_version([FIRST], date(2025, 1, 6)) is FIRST


def test_a_date_before_the_first_version_is_refused_clearly() -> None:
    with pytest.raises(NoPolicyInForce, match="no refund policy was in force on 2025-01-05.*2025-01-06"):
        select_version([FIRST, SECOND], date(2025, 1, 5))
    with pytest.raises(NoPolicyInForce):
        select_version([], date(2026, 1, 1))


def test_two_versions_on_the_same_day_are_refused() -> None:
    twin = PolicyVersion(label="twin", effective_date=FIRST.effective_date)
    with pytest.raises(PolicyInputError, match="twin"):
        select_version([FIRST, twin], date(2026, 1, 1))


def test_a_material_change_announced_seven_days_ahead_is_accepted() -> None:
    check_announcement(date(2026, 12, 8), date(2026, 12, 1), True)


def test_a_material_change_announced_six_days_ahead_is_refused() -> None:
    with pytest.raises(AnnouncementTooLate, match="6 days ahead; section 7 requires at least 7"):
        check_announcement(date(2026, 12, 8), date(2026, 12, 2), True)


def test_a_material_change_never_announced_is_refused() -> None:
    with pytest.raises(AnnouncementTooLate):
        check_announcement(date(2026, 12, 8), None, True)


def test_a_non_material_change_needs_no_notice() -> None:
    check_announcement(date(2026, 12, 8), date(2026, 12, 8), False)
    check_announcement(date(2026, 12, 8), None, False)
