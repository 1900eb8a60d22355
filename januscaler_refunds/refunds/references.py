"""Request references: ``RR-`` + six digits, numbered by the database, never by the last row.

The number comes from a PostgreSQL ``SEQUENCE`` (``refunds_reference_seq``); on SQLite from one
counter row bumped with a single ``UPDATE ... RETURNING`` (SQLite serialises writers, so two
creators never read the same value). Both are created by migration ``0004_reference_sequence``.

Deriving the number from the newest row (the old way) broke all intake as soon as an imported
reference such as ``RR-12`` or ``RR-PROBE-6`` became the newest row (issue 12, finding 3).

Imported references live in their own namespace: anything that does not start with ``RR-`` (the
generator's prefix), of letters, digits, ``-``, ``_``, ``/`` and ``.``. A reference that this
system generated is accepted on import only when it already exists (a re-import skips it).
"""

from __future__ import annotations

import re

from django.db import connection

PREFIX = "RR-"
GENERATED_RE = re.compile(r"^RR-(\d{6,})$")
IMPORTED_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,19}$")
SEQUENCE = "refunds_reference_seq"
COUNTER_TABLE = "refunds_reference_counter"


def format_reference(number: int) -> str:
    return f"{PREFIX}{number:06d}"


def next_reference_number() -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(%s)", [SEQUENCE])
        else:
            # Upsert: the row may be missing (a flushed test database); one statement either way.
            cursor.execute(
                f"INSERT INTO {COUNTER_TABLE} (name, value) VALUES ('reference', 1) "  # noqa: S608 - constant
                "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value"
            )
        row = cursor.fetchone()
    return int(row[0])


def next_reference() -> str:
    return format_reference(next_reference_number())


def imported_reference_error(reference: str) -> str | None:
    """Why an imported reference cannot be used as given, or None when it can."""
    if len(reference) > 20:
        return "at most 20 characters"
    if reference.upper().startswith(PREFIX):
        return (
            f"{reference!r} uses the {PREFIX} prefix, which belongs to references this system "
            "assigns; leave the column blank to get one, or keep the old system's own reference "
            "(e.g. LEGACY-123)"
        )
    if not IMPORTED_RE.match(reference):
        return f"{reference!r} may hold only letters, digits, '-', '_', '/' and '.' (starting with a letter or digit)"
    return None


def highest_generated_number(references: list[str]) -> int:
    numbers = [int(m.group(1)) for m in map(GENERATED_RE.match, references) if m]
    return max(numbers, default=0)
