"""The queue's worklist filters and saved views, and labelled filters for the record lists.

Presentation only: which rows a filter selects is a plain queryset filter; the labels come from
the TextChoices beside the stored values.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from januscaler_refunds.refunds import selectors
from januscaler_refunds.refunds.models import MessageKind, RefundRequest, Transition

QUEUE_PAGE_FLAG = "jc_queue_page"


class OpenClosedFilter(admin.SimpleListFilter):
    """The queue is a worklist: open requests unless the user asks for closed or all of them.

    A state chosen in the state filter (e.g. "Approved" for payouts) wins over the default. The
    default applies to the queue page only (``QUEUE_PAGE_FLAG`` set by its changelist_view): the
    report export replays the queue's query string, where no ``status`` has always meant every
    request, and the queue's export links carry the ``status`` the user sees.
    """

    title = "open or closed"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("closed", "Closed"), ("all", "All")]

    def value(self) -> str | None:
        return super().value() or None

    def choices(self, changelist: Any) -> Any:
        explicit = changelist.params.get("state__exact") or changelist.params.get("payout_deadline")
        current = self.value() or ("all" if explicit else "open")
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
        value = self.value()
        if value is None:
            on_page = getattr(request, QUEUE_PAGE_FLAG, False)
            # An explicit state filter already says which requests; a payout-deadline filter is
            # about approved requests, which are not open work either: neither is narrowed here.
            explicit = request.GET.get("state__exact") or request.GET.get("payout_deadline")
            value = "open" if on_page and not explicit else "all"
        if value == "open":
            return queryset.filter(state__in=selectors.OPEN_STATES)
        if value == "closed":
            return queryset.exclude(state__in=selectors.OPEN_STATES)
        return queryset


# The queue's saved views: (key, title, query). Links on the admin index use the same queries.
QUEUE_VIEWS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("mine", "My work", {"assignee": "mine"}),
    ("unassigned", "Unassigned", {"assignee": "unassigned"}),
    ("near", "Due in 2 business days", {"deadline": "near"}),
    ("overdue", "Overdue", {"deadline": "overdue"}),
    ("payout", "Awaiting payout", {"state__exact": "approved"}),
)
QUEUE_SCOPES: tuple[tuple[str, str], ...] = (("open", "Open"), ("closed", "Closed"), ("all", "All"))


def queue_views(request: HttpRequest) -> dict[str, Any]:
    """The saved-view and open/closed links above the queue, marking the one in use."""
    params = {k: v for k, v in request.GET.items() if k not in {"p", "o", "_changelist_filters"}}
    views = []
    for key, title, query in QUEUE_VIEWS:
        views.append({"key": key, "title": title, "url": "?" + urlencode(query), "active": params == query})
    scope = params.get("status") or ("all" if params.get("state__exact") else "open")
    rest = {k: v for k, v in params.items() if k != "status"}
    scopes = [
        {"key": key, "title": title, "url": "?" + urlencode({**rest, "status": key}), "active": scope == key}
        for key, title in QUEUE_SCOPES
    ]
    return {"queue_views": views, "queue_scopes": scopes}


class _LabelledValueFilter(admin.SimpleListFilter):
    """A filter over a free-text column whose values have labels (TextChoices kept beside them)."""

    choices_of: Any = None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in self.choices_of.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{str(self.parameter_name): value}) if value else queryset


class TransitionFilter(_LabelledValueFilter):
    title = "what happened"
    parameter_name = "transition"
    choices_of = Transition


class MessageKindFilter(_LabelledValueFilter):
    title = "kind"
    parameter_name = "kind"
    choices_of = MessageKind
