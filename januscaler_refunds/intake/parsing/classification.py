"""Proposals for an agent: the refund reason and the requested amount, from the customer's own words."""

from __future__ import annotations

import re

from .amounts import read_requested_amount
from .headers import strip_subject_prefixes
from .replies import customer_text
from .results import _CLASSIFY_CHARS, _Draft


def _keyword_patterns(*phrases: str) -> list[re.Pattern[str]]:
    return [re.compile(phrase, re.IGNORECASE) for phrase in phrases]


# Phrases per reason. Counting matches decides; ties go to the earlier reason in this table, so
# "charged twice during the outage" is a billing error. Documented for agents as a proposal only.
REASON_KEYWORDS: dict[str, list[re.Pattern[str]]] = {
    "billing_error": _keyword_patterns(
        r"\bover-?charg(?:e|ed|es|ing)\b",
        r"\bcharged\s+(?:me\s+)?(?:twice|two\s+times|double|2x)\b",
        r"\bbilled\s+(?:me\s+)?(?:twice|two\s+times|double)\b",
        r"\bdouble[-\s]?(?:charged?|billed|billing)\b",
        r"\bduplicate\s+(?:charge|payment|invoice|billing)\b",
        r"\bwrong\s+(?:invoice|amount|charge|bill|price|plan)\b",
        r"\bincorrect(?:ly)?\s+(?:amount|invoice|charge[ds]?|bill(?:ed|ing)?|price)\b",
        r"\bbilling\s+(?:error|mistake|issue)\b",
    ),
    "service_unavailability": _keyword_patterns(
        r"\boutages?\b",
        r"\bdown-?time\b",
        r"\b(?:is|was|were|are|went|been|being|goes|go)\s+(?:completely\s+|totally\s+)?down\b",
        r"\b(?:service|site|server|servers|platform|app|api|system|website|dashboard)\s+down\b",
        r"\bunavailab(?:le|ility)\b",
        r"\bnot\s+available\b",
        r"\bSLA\b",
        r"\bnot\s+working\b",
        r"\b(?:can'?t|cannot|could\s*n[o']t|couldn'?t|unable\s+to|not\s+able\s+to)\s+"
        r"(?:connect|log\s*in|login|access|reach|use)\b",
        r"\bnot\s+connect(?:ing)?\b",
        r"\bservice\s+interruption\b",
    ),
    "money_back_guarantee": _keyword_patterns(
        r"\bmoney[-\s]?back\b",
        r"\b(?:7|seven)[-\s]?days?\b",
        r"\bguarantee[ds]?\b",
        r"\bcancel(?:l?ed|l?ing)?\s+within\b",
        r"\bjust\s+signed\s+up\b",
        r"\bchanged\s+my\s+mind\b",
        r"\bfirst\s+purchase\b",
    ),
}


def propose_reason(text: str) -> str:
    """``billing_error``, ``service_unavailability``, ``money_back_guarantee`` or ``other``.

    The reason whose phrases occur most often wins; ties go to the order above. Deterministic.
    """
    best, best_score = "other", 0
    for reason, patterns in REASON_KEYWORDS.items():
        score = sum(len(pattern.findall(text)) for pattern in patterns)
        if score > best_score:
            best, best_score = reason, score
    return best



def _classify_reason(draft: _Draft) -> None:
    own = customer_text(draft.body_text[: _CLASSIFY_CHARS * 2])[:_CLASSIFY_CHARS]
    text = f"{strip_subject_prefixes(draft.subject)}\n{own}"
    draft.proposed_reason = propose_reason(text)
    reading = read_requested_amount(text)
    draft.requested_amount, draft.requested_currency = reading.amount, reading.currency
    draft.requested_amount_context, draft.requested_amount_note = reading.context, reading.note
