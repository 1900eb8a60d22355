"""Database CHECK constraints that back the models' ``choices``.

A ``choices=`` list is only enforced by forms; a raw ``UPDATE ... SET state='bogus_state'``, a
``queryset.update()`` or a bulk load would store anything. ``choice_checks`` adds one CHECK per
named field, built from the field's own choices (plus "" where the field may be blank), so the
database refuses a value that has no label (house style 12) on SQLite and PostgreSQL alike and the
list cannot drift from the choices: adding a choice makes ``makemigrations`` alter the constraint.

It runs right after the model class because a nested ``TextChoices`` (``Customer.Status``) is not
visible from inside ``class Meta``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


def choice_checks(model: type[models.Model], *fields: str) -> None:
    """Add ``<table>_<field>_valid`` CHECK constraints to ``model`` for each field in ``fields``."""
    opts = model._meta
    constraints = list(opts.constraints)
    for name in fields:
        field = opts.get_field(name)
        assert isinstance(field, models.Field) and field.choices, f"{opts.label}.{name} has no choices"
        values = [str(value) for value, _label in field.flatchoices]
        if field.blank:
            values.append("")
        constraints.append(
            models.CheckConstraint(condition=Q(**{f"{name}__in": values}), name=f"{opts.db_table}_{name}_valid")
        )
    opts.constraints = constraints
    # The migration autodetector reads constraints from the Meta it was given (original_attrs).
    opts.original_attrs["constraints"] = constraints
