"""Policy versions and their parameters (section 7).

A request is evaluated under the version in force on the Kolkata date it was received, and keeps it.
The numbers the policy text fixes (windows, business days, the 25% extensive-use limit, the SLA
table) are parameters of a version so that a manager can change them by publishing a new version,
announced at least 7 days ahead when the change is material.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .facts import PolicyInputError, Reason

# Availability lower bound (percent, inclusive) -> share of the plan line refunded as credit.
SlaCreditTable = tuple[tuple[Decimal, Decimal], ...]

DEFAULT_SLA_CREDIT_TABLE: SlaCreditTable = (
    (Decimal("99.9"), Decimal("0")),
    (Decimal("99.0"), Decimal("0.10")),
    (Decimal("95.0"), Decimal("0.25")),
    (Decimal("0"), Decimal("0.50")),
)

FIRST_EFFECTIVE_DATE = date(2025, 1, 6)
ANNOUNCEMENT_NOTICE_DAYS = 7


class NoPolicyInForce(PolicyInputError):
    """No policy version was in force on the date a request was received."""


class AnnouncementTooLate(PolicyInputError):
    """A material change was not announced at least 7 days before taking effect (section 7)."""


def _to_decimal(value: Any, what: str) -> Decimal:
    # Admin forms and JSON give strings; float is refused because 99.9 is not exactly 99.9.
    if isinstance(value, bool) or isinstance(value, float):
        raise PolicyInputError(f"{what} must be a Decimal, int or decimal string, got {value!r}")
    if isinstance(value, Decimal | int | str):
        try:
            result = Decimal(value)
        except ArithmeticError as exc:
            raise PolicyInputError(f"{what}: {value!r} is not a number") from exc
        if result.is_finite():
            return result
    raise PolicyInputError(f"{what} must be a finite number, got {value!r}")


def normalise_sla_table(rows: Iterable[Any]) -> SlaCreditTable:
    """Section 4.4's SLA credit table as Decimal (bound, share) pairs, highest bound first.

    Rows may hold Decimals, ints or decimal strings (admin forms and JSON give strings).
    """
    table = []
    for row in rows:
        bound, share = row
        table.append((_to_decimal(bound, "SLA availability bound"), _to_decimal(share, "SLA share")))
    # Highest bound first, so the first band whose bound the availability reaches is the one.
    table.sort(key=lambda pair: pair[0], reverse=True)
    bounds = [bound for bound, _ in table]
    if not table or bounds[-1] != 0:
        raise PolicyInputError("the SLA credit table needs a band starting at 0% availability")
    if len(set(bounds)) != len(bounds):
        raise PolicyInputError("the SLA credit table has the same availability bound twice")
    for bound, share in table:
        if not Decimal(0) <= bound <= Decimal(100):
            raise PolicyInputError(f"SLA availability bound {bound} is outside 0-100%")
        if not Decimal(0) <= share <= Decimal(1):
            raise PolicyInputError(f"SLA share {share} is outside 0-1")
    return tuple(table)


@dataclass(frozen=True)
class PolicyParameters:
    """The numbers a policy version fixes; defaults are the ones in policy-decisions.md."""

    mbg_window_days: int = 7
    claim_window_days: int = 15  # billing errors, SLA claims and (by choice) reason "other"
    review_business_days: int = 10
    payout_business_days: int = 10
    near_threshold_business_days: int = 2
    pause_review_clock_on_info_request: bool = True
    extensive_use_ratio: Decimal = Decimal("0.25")
    sla_credit_table: SlaCreditTable = field(default=DEFAULT_SLA_CREDIT_TABLE)

    def __post_init__(self) -> None:
        for name in (
            "mbg_window_days",
            "claim_window_days",
            "review_business_days",
            "payout_business_days",
            "near_threshold_business_days",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PolicyInputError(f"{name} must be a non-negative int, got {value!r}")
        ratio = _to_decimal(self.extensive_use_ratio, "extensive_use_ratio")
        if not Decimal(0) <= ratio <= Decimal(1):
            raise PolicyInputError(f"extensive_use_ratio {ratio} is outside 0-1")
        object.__setattr__(self, "extensive_use_ratio", ratio)
        object.__setattr__(self, "sla_credit_table", normalise_sla_table(self.sla_credit_table))

    def filing_window_days(self, reason: Reason) -> int:
        """Section 3: 7 days for the guarantee, 15 for billing errors and SLA claims.

        Reason "other" is not a ground at all; it is measured against the 15-day window so that a
        late "other" request also shows ``window_expired`` if an agent re-classifies it.
        """
        return self.mbg_window_days if reason == "money_back_guarantee" else self.claim_window_days

    def sla_share(self, availability_percent: Decimal) -> Decimal:
        """Share of a plan line credited at this availability; band edges are inclusive."""
        for lower_bound, share in self.sla_credit_table:
            if availability_percent >= lower_bound:
                return share
        return self.sla_credit_table[-1][1]  # unreachable: the table always has a 0% band


@dataclass(frozen=True)
class PolicyVersion:
    label: str
    effective_date: date
    parameters: PolicyParameters = field(default_factory=PolicyParameters)
    announced_on: date | None = None
    material: bool = True


DEFAULT_POLICY_VERSION = PolicyVersion(label="2025-01-06", effective_date=FIRST_EFFECTIVE_DATE)


def select_version(versions: Iterable[PolicyVersion], received_date: date) -> PolicyVersion:
    """The version in force on ``received_date``: the latest one effective on or before it."""
    candidates = sorted(versions, key=lambda version: version.effective_date)
    in_force = [v for v in candidates if v.effective_date <= received_date]
    if not in_force:
        first = candidates[0].effective_date if candidates else FIRST_EFFECTIVE_DATE
        raise NoPolicyInForce(
            f"no refund policy was in force on {received_date}: the first version took effect on "
            f"{first}; requests received before it cannot be evaluated"
        )
    latest = in_force[-1]
    same_day = [v.label for v in in_force if v.effective_date == latest.effective_date]
    if len(same_day) > 1:
        raise PolicyInputError(
            f"policy versions {', '.join(same_day)} all take effect on {latest.effective_date}"
        )
    return latest


def check_announcement(effective_date: date, announced_on: date | None, material: bool) -> None:
    """Section 7: a material change must be announced at least 7 days before it takes effect.

    Announced on the 1st, effective on the 8th is exactly 7 days and allowed. Non-material changes
    need no notice.
    """
    if not material:
        return
    if announced_on is None:
        raise AnnouncementTooLate(
            f"a material change taking effect on {effective_date} must have an announcement date "
            f"at least {ANNOUNCEMENT_NOTICE_DAYS} days earlier (section 7)"
        )
    notice = effective_date - announced_on
    if notice < timedelta(days=ANNOUNCEMENT_NOTICE_DAYS):
        latest = effective_date - timedelta(days=ANNOUNCEMENT_NOTICE_DAYS)
        raise AnnouncementTooLate(
            f"a material change taking effect on {effective_date} was announced on {announced_on}, "
            f"{notice.days} days ahead; section 7 requires at least {ANNOUNCEMENT_NOTICE_DAYS} "
            f"(announce by {latest} or move the effective date)"
        )
