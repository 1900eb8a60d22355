"""Forms of the review console. They collect input; the services decide and refuse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from unfold import widgets as uw

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.policy.codes import REASON_CODES
from januscaler_refunds.refunds.models import Payout, Reason, RefundRequest


def _text(**kwargs: Any) -> forms.CharField:
    return forms.CharField(widget=uw.UnfoldAdminTextareaWidget(attrs={"rows": 3}), **kwargs)


def _money(**kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        widget=uw.UnfoldAdminDecimalFieldWidget(),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        **kwargs,
    )


class TransitionForm(forms.Form):
    """Base: built with the request being worked and the user acting on it."""

    def __init__(self, *args: Any, refund: RefundRequest, user: Any, **kwargs: Any) -> None:
        self.refund = refund
        self.user = user
        super().__init__(*args, **kwargs)

    def service_kwargs(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class ConfirmForm(TransitionForm):
    """Start review / claim: nothing to ask."""


class NoteForm(TransitionForm):
    note = forms.CharField(required=False, widget=uw.UnfoldAdminTextInputWidget(), label="Note (optional)")


class RequestInformationForm(TransitionForm):
    missing = _text(label="What is missing", help_text="Sent to the customer word for word.")


def reason_code_choices() -> list[tuple[str, str]]:
    return [(str(code), f"{code} — § {info.section}: {info.description}") for code, info in REASON_CODES.items()]


class DenyForm(TransitionForm):
    codes = forms.MultipleChoiceField(
        choices=reason_code_choices,
        widget=uw.UnfoldAdminSelectMultipleWidget(attrs={"size": 8}),
        label="Reason codes",
        help_text="Each code is explained to the customer with its policy section.",
    )
    message = _text(label="Message to the customer")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Prefill with the blocking codes the evaluation raised.
        blocking = [c for c in self.refund.evaluation_codes if c in REASON_CODES and REASON_CODES[c].effect == "block"]
        self.fields["codes"].initial = blocking


def proposed_amount(refund: RefundRequest) -> Decimal | None:
    """What the approve form proposes: min(requested, refundable); the refundable amount when the
    customer named none (a money guard: never more than asked without saying so)."""
    requested, refundable = refund.requested_amount, refund.refundable_amount
    if requested is None or refundable is None:
        return refundable if refundable is not None else requested
    return min(requested, refundable)


class ApproveForm(TransitionForm):
    amount = _money(label="Amount to approve")
    override_reason = _text(
        required=False,
        label="Override reason",
        help_text="Required when the amount is above the refundable amount (managers only).",
    )
    confirm_above_requested = forms.BooleanField(
        required=False,
        label="I am approving more than the customer asked for",
        widget=uw.UnfoldBooleanWidget(),
    )
    above_requested_reason = _text(
        required=False,
        label="Why more than requested",
        help_text="Required with the confirmation when the amount is above the requested amount; kept in the log.",
    )
    note = forms.CharField(required=False, widget=uw.UnfoldAdminTextInputWidget(), label="Internal note (optional)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].initial = proposed_amount(self.refund)
        if not self.user.has_perm("refunds.override_refundrequest"):
            # Agents never see the override; approving above the refundable amount is refused.
            del self.fields["override_reason"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        # Form.clean() returns cleaned_data (typed Optional in the stubs); read it directly.
        data = self.cleaned_data
        amount, refundable = data.get("amount"), self.refund.refundable_amount
        if (
            "override_reason" in self.fields
            and amount is not None
            and refundable is not None
            and amount > refundable
            and not data.get("override_reason", "").strip()
        ):
            self.add_error(
                "override_reason",
                f"{amount} is above the refundable {refundable} {self.refund.currency}: write why you override.",
            )
        # Above the requested amount: the service's own guard refuses without the confirmation and
        # the reason (refunds.services._above_requested_guard), after the refundable-amount rules.
        return data


class RecordPayoutForm(TransitionForm):
    method = forms.ChoiceField(choices=Payout.Method.choices, widget=uw.UnfoldAdminSelectWidget())
    reference = forms.CharField(
        max_length=120, widget=uw.UnfoldAdminTextInputWidget(), label="Processor reference"
    )
    amount = _money()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].initial = self.refund.approved_amount
        method = self.refund.invoice.payment_method
        self.fields["method"].initial = method if method in Payout.Method.values else Payout.Method.OTHER
        # Section 4.3: the original method; another one only with a manager's recorded exception.
        self.fields["method"].help_text = (
            f"The invoice was paid by {self.refund.invoice.get_payment_method_display().lower()}; refunds go "
            "back to it unless a manager recorded an exception for another method."
        )


class PayoutMethodExceptionForm(TransitionForm):
    """A manager allows finance to pay an approved request by another method (section 4.3)."""

    method = forms.ChoiceField(choices=Payout.Method.choices, widget=uw.UnfoldAdminSelectWidget(), label="Pay by")
    reason = _text(label="Why not the original payment method", help_text="Kept in the log and shown to finance.")


class GrantCreditForm(TransitionForm):
    amount = _money()
    note = forms.CharField(required=False, widget=uw.UnfoldAdminTextInputWidget(), label="Note to the customer")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].initial = self.refund.approved_amount


# --- edits on the review page --------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"class": "jc-file"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []




class ChangeReasonForm(TransitionForm):
    reason = forms.ChoiceField(choices=Reason.choices, widget=uw.UnfoldAdminSelectWidget())
    note = forms.CharField(required=False, widget=uw.UnfoldAdminTextInputWidget(), label="Why")


class VerifiedOverchargeForm(TransitionForm):
    amount = forms.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
        widget=uw.UnfoldAdminDecimalFieldWidget(),
        label="Verified overcharge",
        help_text="Billing errors: the overcharge you verified. Leave empty to clear it.",
    )


class AddDocumentsForm(TransitionForm):
    documents = MultipleFileField(
        label="Documents",
        help_text="PDF, PNG, JPEG, GIF, WebP, plain text or EML; judged by content, not by name.",
    )


class InternalNoteForm(TransitionForm):
    body = _text(label="Internal note")


class AssignForm(forms.Form):
    # The queryset is per request (the agents this user may assign to), so it is set in __init__.
    assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, widget=uw.UnfoldAdminSelectWidget(), label="Agent"
    )

    def __init__(self, *args: Any, agents: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)  # declared just above
        field.queryset = agents


# --- manual intake -----------------------------------------------------------------------


class ManualIntakeForm(forms.Form):
    invoice = forms.ModelChoiceField(
        queryset=Invoice.objects.select_related("customer"),
        widget=AutocompleteSelect(RefundRequest._meta.get_field("invoice"), admin.site),
        help_text="Search by invoice number or customer email.",
    )
    reason = forms.ChoiceField(choices=Reason.choices, widget=uw.UnfoldAdminSelectWidget())
    received_at = forms.SplitDateTimeField(
        widget=uw.UnfoldAdminSplitDateTimeWidget(),
        label="Received at",
        help_text="When the customer sent it (company time, Asia/Kolkata).",
    )
    requester_email = forms.EmailField(widget=uw.UnfoldAdminEmailInputWidget(), label="Requester email")
    message = _text(required=False, label="Customer's message")
    requested_amount = forms.DecimalField(
        required=False, max_digits=14, decimal_places=2, min_value=Decimal("0"),
        widget=uw.UnfoldAdminDecimalFieldWidget(), label="Requested amount",
        help_text="In the invoice's currency; leave empty when the customer named none.",
    )
    documents = MultipleFileField(
        required=False,
        help_text="Invoices, error logs, screenshots (several at once): PDF, PNG, JPEG, GIF, WebP, plain text or EML.",
    )
