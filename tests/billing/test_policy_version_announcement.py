"""Section 7: a material change announced less than 7 days ahead is refused with a clear error."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from januscaler_refunds.billing.models import PolicyVersion
from januscaler_refunds.policy.versions import AnnouncementTooLate

pytestmark = pytest.mark.django_db


def version(announced: dt.date, material: bool = True) -> PolicyVersion:
    return PolicyVersion(label="next", effective_date=dt.date(2026, 12, 8), announced_on=announced,
                         material_change=material)


def test_announced_exactly_seven_days_ahead_is_saved() -> None:
    v = version(dt.date(2026, 12, 1))
    v.full_clean()
    v.save()
    assert PolicyVersion.objects.filter(label="next").exists()


def test_announced_six_days_ahead_is_refused_on_save() -> None:
    with pytest.raises(AnnouncementTooLate, match="section 7 requires at least 7"):
        version(dt.date(2026, 12, 2)).save()
    assert not PolicyVersion.objects.filter(label="next").exists()


def test_announced_six_days_ahead_is_a_form_error_in_the_admin() -> None:
    with pytest.raises(ValidationError) as error:
        version(dt.date(2026, 12, 2)).full_clean()
    assert "announced_on" in error.value.message_dict


def test_a_non_material_change_needs_no_notice() -> None:
    version(dt.date(2026, 12, 7), material=False).save()
    assert PolicyVersion.objects.filter(label="next").exists()


def test_the_first_version_exists_from_the_effective_date() -> None:
    first = PolicyVersion.objects.order_by("effective_date").first()
    assert first is not None and first.effective_date == dt.date(2025, 1, 6)
