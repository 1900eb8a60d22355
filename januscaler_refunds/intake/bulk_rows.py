"""The bulk import's first pass: read a billing CSV row by row and check every value in Python.

Nothing here touches the database. Each row is checked the way the row-by-row import
(``intake.resources``) checks it, with the same widgets and the same model field validation, so
the messages are the ones that path gives (``file, line N: column: reason``); what needs the
database (a customer or invoice that must exist, a frozen invoice, a key repeated in the file) is
checked afterwards in SQL (``bulk_import``). A row that passes becomes a tuple for ``COPY``.

Lines are numbered like the row-by-row import: the header is line 1, blank lines are not counted.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from januscaler_refunds.billing.models import (
    Customer,
    Invoice,
    InvoiceLine,
    UsageRecord,
    normalize_invoice_number,
)
from januscaler_refunds.intake.resources import (
    ChoiceWidget,
    IsoDateTimeWidget,
    IsoDateWidget,
    MoneyWidget,
    YesNoBlankWidget,
)

Row = tuple[Any, ...]


class RowError(Exception):
    """A row refused in the first pass; ``message`` is what follows ``file, line N: ``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnreadableFile(Exception):
    pass


# --- value checks shared by the files ------------------------------------------------------------

DATE = IsoDateWidget()
DATETIME = IsoDateTimeWidget()
MONEY = MoneyWidget()
YES_NO = YesNoBlankWidget()


def whole_number(raw: str) -> int | None:
    """``widgets.IntegerWidget``: blank is None, ``12`` and ``12.0`` are 12."""
    if raw == "":
        return None
    try:
        number = Decimal(raw)
        if not number.is_finite():
            raise InvalidOperation
        return int(number)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{raw!r} is not a whole number") from exc


class FieldRule:
    """``Field.clean`` without its overhead for the usual valid value; anything else asks
    ``Field.clean`` itself, so a refusal carries Django's own message."""

    def __init__(self, field: models.Field[Any, Any]) -> None:
        self.field = field
        self.choices = frozenset(str(c) for c, _ in field.flatchoices) if field.choices else None
        self.validators = tuple(field.validators)

    def passes(self, value: Any) -> bool:
        if value is None:
            return self.field.null
        if value == "":
            return self.field.blank
        if self.choices is not None and value not in self.choices:
            return False
        try:
            for validator in self.validators:
                validator(value)
        except ValidationError:
            return False
        return True


_RULES: dict[type[models.Model], dict[str, FieldRule]] = {}


def _rules(model: type[models.Model]) -> dict[str, FieldRule]:
    if model not in _RULES:
        _RULES[model] = {f.name: FieldRule(f) for f in model._meta.fields}
    return _RULES[model]


class Checker:
    """Collects one row's errors as the row-by-row import orders them: the widgets' errors in the
    resource's column order, then the model's field validation for the columns still valid."""

    def __init__(self, model: type[models.Model]) -> None:
        self.rules = _rules(model)
        self.errors: dict[str, list[str]] = {}

    def widget(self, column: str, clean: Callable[[str], Any], raw: str) -> Any:
        try:
            return clean(raw)
        except ValueError as exc:
            self.errors.setdefault(column, []).append(str(exc))
            return None

    def model_field(self, column: str, name: str, value: Any) -> Any:
        rule = self.rules[name]
        if column in self.errors or rule.passes(value):
            return value
        try:
            return rule.field.clean(value, None)
        except ValidationError as exc:
            self.errors.setdefault(column, []).extend(exc.messages)
            return value

    def add(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            parts = [
                " ".join(texts) if column == NON_FIELD_ERRORS else f"{column}: {' '.join(texts)}"
                for column, texts in self.errors.items()
            ]
            raise RowError("; ".join(parts))


# --- one function a file: the CSV row (stripped) -> the staging row ------------------------------


def customer_row(v: dict[str, str]) -> Row:
    check = Checker(Customer)
    email = v["email"].lower()
    status = check.widget("status", ChoiceWidget(Customer.Status.values).clean, v["status"] or "active")
    verified = check.widget("identity_verified", YES_NO.clean, v["identity_verified"])
    check.model_field("email", "email", email)
    check.model_field("name", "name", v["name"])
    check.model_field("status", "status", status)
    check.raise_if_any()
    return (email, v["name"], status, verified)


INVOICE_KINDS = ChoiceWidget(Invoice.Kind.values)
PAYMENT_METHODS = ChoiceWidget(Invoice.PaymentMethod.values)


def invoice_row(v: dict[str, str]) -> Row:
    check = Checker(Invoice)
    number = normalize_invoice_number(v["number"])
    email = v["customer_email"].lower()
    if not email:
        check.add("customer_email", "a customer email is required")
    issued_on = check.widget("issued_on", DATE.clean, v["issued_on"])
    kind = check.widget("kind", INVOICE_KINDS.clean, v["kind"])
    method = check.widget("payment_method", PAYMENT_METHODS.clean, v["payment_method"])
    currency = v["currency"].upper()
    amount_paid = check.widget("amount_paid", MONEY.clean, v["amount_paid"])
    paid_at = check.widget("paid_at", DATETIME.clean, v["paid_at"])
    check.model_field("number", "number", number)
    check.model_field("issued_on", "issued_on", issued_on)
    check.model_field("kind", "kind", kind)
    check.model_field("payment_method", "payment_method", method)
    check.model_field("currency", "currency", currency)
    check.model_field("amount_paid", "amount_paid", amount_paid)
    check.raise_if_any()
    return (number, email, issued_on, kind, method, currency, amount_paid, paid_at)


LINE_CATEGORIES = ChoiceWidget(InvoiceLine.Category.values)


def _key_number(v: dict[str, str]) -> str:
    # The invoice is part of the row's key: without it the row-by-row import stops at this error.
    if not v["invoice_number"]:
        raise RowError("an invoice number is required")
    return normalize_invoice_number(v["invoice_number"])


def invoice_line_row(v: dict[str, str]) -> Row:
    number = _key_number(v)
    try:
        line_no = whole_number(v["line_no"])
    except ValueError as exc:
        raise RowError(f"line_no: {exc}") from exc
    check = Checker(InvoiceLine)
    category = check.widget("category", LINE_CATEGORIES.clean, v["category"])
    amount = check.widget("amount", MONEY.clean, v["amount"])
    units = check.widget("units", whole_number, v["units"])
    period_start = check.widget("period_start", DATE.clean, v["period_start"])
    period_end = check.widget("period_end", DATE.clean, v["period_end"])
    check.model_field("line_no", "line_no", line_no)
    check.model_field("category", "category", category)
    check.model_field("description", "description", v["description"])
    check.model_field("amount", "amount", amount)
    check.model_field("units", "units", units)
    check.model_field("service", "service", v["service"])
    # InvoiceLine.clean(), then its constraints (only over columns that are valid so far).
    if category == InvoiceLine.Category.PREPAID_API_CREDIT and not units:
        check.add("units", "A prepaid API credit line needs the number of units bought.")
    if (
        period_start is not None and period_end is not None and period_end < period_start
        and not {"period_start", "period_end"} & check.errors.keys()
    ):
        check.add(NON_FIELD_ERRORS, "Constraint “invoice_line_period_ordered” is violated.")
    check.raise_if_any()
    return (number, line_no, category, v["description"], amount, units, v["service"], period_start, period_end)


def usage_row(v: dict[str, str]) -> Row:
    number = _key_number(v)
    try:
        line_no = int(v["line_no"])
    except (TypeError, ValueError) as exc:
        raise RowError(f"line_no {v['line_no']!r} is not a whole number") from exc
    try:
        at = DATETIME.clean(v["at"])
    except ValueError as exc:
        raise RowError(str(exc)) from exc
    check = Checker(UsageRecord)
    units = check.widget("units", whole_number, v["units"])
    check.model_field("at", "at", at)
    check.model_field("units", "units", units)
    check.raise_if_any()
    return (number, line_no, at, units)


@dataclass(frozen=True)
class RowSpec:
    columns: tuple[str, ...]  # the documented columns; a file missing one takes the row-by-row path
    parse: Callable[[dict[str, str]], Row]


ROW_SPECS: dict[str, RowSpec] = {
    "customers.csv": RowSpec(("email", "name", "status", "identity_verified"), customer_row),
    "invoices.csv": RowSpec(
        ("number", "customer_email", "issued_on", "kind", "payment_method", "currency", "amount_paid", "paid_at"),
        invoice_row,
    ),
    "invoice_lines.csv": RowSpec(
        ("invoice_number", "line_no", "category", "description", "amount", "units", "service", "period_start",
         "period_end"),
        invoice_line_row,
    ),
    "usage.csv": RowSpec(("invoice_number", "line_no", "at", "units"), usage_row),
}


def read_header(path: Path) -> list[str] | None:
    with path.open(encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), None)


def handles(name: str, path: Path) -> bool:
    """Does the bulk path take this file? Known name and every documented column in the header."""
    spec = ROW_SPECS.get(name)
    if spec is None:
        return False
    try:
        header = read_header(path)
    except (UnicodeDecodeError, csv.Error):
        return False
    return header is not None and set(spec.columns) <= set(header)


def parsed_rows(name: str, path: Path) -> Iterator[tuple[int, Row | RowError]]:
    """(line, staging row or the row's error) for every data row of the file, streamed.

    The text is read like ``importing.read_csv`` reads it (UTF-8 with an optional byte-order mark,
    universal newlines, blank lines skipped, short rows padded); a row longer than the header or
    text that is not UTF-8 raises UnreadableFile.
    """
    spec = ROW_SPECS[name]
    with path.open(encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
            # As tablib builds each row's dict: the last column of a repeated name wins.
            index = {column: position for position, column in enumerate(header)}
            wanted = [(column, index[column]) for column in spec.columns]
            width = len(header)
            number = 1
            for cells in reader:
                if not cells:
                    continue
                number += 1
                if len(cells) > width:
                    raise UnreadableFile(f"line {number} has {len(cells)} columns, the header {width}")
                if len(cells) < width:
                    cells += [""] * (width - len(cells))
                values = {column: cells[position].strip() for column, position in wanted}
                try:
                    yield number, spec.parse(values)
                except RowError as error:
                    yield number, error
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UnreadableFile(str(exc)) from exc
