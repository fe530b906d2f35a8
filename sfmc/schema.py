"""SFMC's Data Extension schema rules, checked locally before anything is sent.

`check_new_data_extension` guards a Create; `plan_field_changes` turns a wanted field list into
the fields an Update must send (new ones, lengthened ones), refusing changes SFMC would refuse.
Field-level rules themselves live in `sfmc.fieldrules`; whether a default value fits its type is
a value rule (`store.fieldtypes`, outside the client), which the engine adds through
`sync.values.schema_problems` before it creates a Data Extension.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sfmc import fieldrules
from sfmc.errors import SfmcConfigError
from sfmc.types import DataExtension, DeField

MAX_KEY_LENGTH = 36


def check_new_data_extension(de: DataExtension) -> None:
    """Raise `SfmcConfigError` (kind "schema") naming every rule the new DE breaks."""
    problems = []
    if not de.name.strip():
        problems.append("The Data Extension needs a name.")
    if not de.customer_key.strip() or len(de.customer_key) > MAX_KEY_LENGTH:
        problems.append(
            f"The external key must be 1-{MAX_KEY_LENGTH} characters (got {len(de.customer_key)}): shorten it."
        )
    if not de.fields:
        problems.append("The Data Extension needs at least one field.")
    problems.extend(p for p in fieldrules.check_schema(de.fields) if p not in problems)
    if problems:
        raise SfmcConfigError(
            " ".join(problems), operation=f"create Data Extension {de.name}", kind="schema"
        )


def plan_field_changes(
    current: DataExtension,
    fields: Sequence[DeField],
    *,
    has_rows: Callable[[], bool],
    object_ids: Mapping[str, str],
) -> list[tuple[DeField, str | None]]:
    """Fields to send in the Update: new ones (no ObjectID) and lengthened ones (with ObjectID)."""
    existing = {f.name.lower(): f for f in current.fields}
    problems = fieldrules.check_schema(fields) if fields else []
    changes: list[tuple[DeField, str | None]] = []
    rows_known: bool | None = None
    for new in fields:
        old = existing.get(new.name.lower())
        if old == new or (old is not None and _same_field(old, new)):
            continue
        if old is None and (new.is_primary_key or new.is_required) and rows_known is None:
            rows_known = has_rows()
        problem = fieldrules.check_field_change(old, new, de_has_rows=bool(rows_known))
        if problem:
            problems.append(problem)
            continue
        changes.append((new, None if old is None else object_ids.get(new.name.lower())))
    if problems:
        raise SfmcConfigError(
            " ".join(problems), operation=f"add fields to {current.customer_key}", kind="schema"
        )
    return changes


def _same_field(old: DeField, new: DeField) -> bool:
    return (
        old.field_type == new.field_type
        and (new.max_length is None or old.max_length == new.max_length)
        and old.is_primary_key == new.is_primary_key
        and old.is_required == new.is_required
        and (
            new.field_type != "Decimal" or (old.precision, old.scale) == (new.precision, new.scale)
        )
    )
