"""Template filters of the console and the emails: money, time and the labels of stored values.

``{% load console %}`` then ``{{ amount|money:currency }}``, ``{{ at|when }}``,
``{{ code|code_label }}``, ``{{ code|coded }}`` (the label, with the code in a ``code-detail``
element for those who know the codes). The labels live beside the values they name
(``policy.codes``, the models' ``TextChoices``); nothing here invents wording.
"""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from januscaler_refunds import formatting
from januscaler_refunds.billing.models import InvoiceLine
from januscaler_refunds.policy import codes as policy_codes
from januscaler_refunds.refunds.models import MessageKind, Recommendation, State, Transition

register = template.Library()

_CHOICE_LABELS: dict[str, dict[str, str]] = {
    "category": {str(k): str(v) for k, v in InvoiceLine.Category.choices},
    "state": {str(k): str(v) for k, v in State.choices},
    "recommendation": {str(k): str(v) for k, v in Recommendation.choices},
    "message_kind": {str(k): str(v) for k, v in MessageKind.choices},
    "transition": {str(k): str(v) for k, v in Transition.choices},
}
_CODE_WORD = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


@register.filter
def money(amount: Any, currency: str | None = None) -> str:
    return formatting.money(amount, currency)


@register.filter
def amount(value: Any, currency: str) -> str:
    return formatting.number(value, currency)


@register.filter
def when(value: Any) -> str:
    return formatting.when(value)


@register.filter
def day(value: Any) -> str:
    return formatting.day(value)


@register.filter
def code_label(code: Any) -> str:
    return policy_codes.label_of(str(code))


@register.filter
def code_wording(code: Any) -> str:
    """What the customer reads for a reason code."""
    try:
        return policy_codes.describe(str(code)).description
    except (KeyError, ValueError):
        return ""


@register.filter
def clause_label(name: Any) -> str:
    return policy_codes.clause_label(str(name))


@register.filter
def verdict_label(verdict: Any) -> str:
    return policy_codes.VERDICT_LABELS.get(str(verdict), str(verdict).replace("_", " ").capitalize())


@register.filter
def effect_label(effect: Any) -> str:
    try:
        return policy_codes.EFFECT_LABELS[policy_codes.Effect(str(effect))]
    except ValueError:
        return str(effect).capitalize()


@register.filter
def choice_label(value: Any, kind: str) -> str:
    """``{{ line.category|choice_label:"category" }}``: the TextChoices label of a stored value."""
    if value in (None, ""):
        return formatting.MISSING
    labels = _CHOICE_LABELS.get(kind, {})
    return labels.get(str(value), str(value).replace("_", " ").capitalize())


def _coded(label: str, code: str) -> SafeString:
    return format_html('<span class="jc-coded" title="{}">{}<code class="code-detail">{}</code></span>', code, label, code)


@register.filter
def coded(code: Any) -> SafeString:
    """A reason code as its label, the code itself in a ``code-detail`` element."""
    return _coded(policy_codes.label_of(str(code)), str(code))


@register.filter
def coded_choice(value: Any, kind: str) -> SafeString:
    return _coded(choice_label(value, kind), str(value))


@register.simple_tag
def zone_note() -> str:
    return formatting.ZONE_NOTE


@register.filter
def humanize_codes(text: Any) -> SafeString:
    """Free text (a log note) with each reason code in it shown as its label, the code kept aside."""
    known = {str(c) for c in policy_codes.REASON_CODES}
    out, last = [], 0
    raw = str(text or "")
    for match in _CODE_WORD.finditer(raw):
        if match.group(0) in known:
            out.append(conditional_escape(raw[last:match.start()]))
            out.append(coded(match.group(0)))
            last = match.end()
    out.append(conditional_escape(raw[last:]))
    return mark_safe("".join(str(part) for part in out))  # noqa: S308 - every piece escaped above


@register.filter
def no_final_stop(text: Any) -> str:
    """Quoted text followed by our own full stop: drop the quote's, so no ".." appears."""
    return str(text or "").rstrip().rstrip(".")
