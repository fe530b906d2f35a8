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

MAX_KEY_LENGTH = 36  # SFMC's CustomerKey limit (sfmc-api.md §4.1)
# `[` and `]` cannot be addressed: SOAP names a DE's rows `DataExtensionObject[key]` (§6).
_KEY_BRACKETS = frozenset("[]")


def key_problem(customer_key: str) -> str | None:
    """What makes `customer_key` unusable as a DE external key, or None when it is fine.

    The reference names only the length rule (1-36). Control characters cannot travel in SOAP's
    XML 1.0 and brackets break `DataExtensionObject[key]`, so both are refused too. Anything else
    (spaces, `#`, `?`, `/`, `%`...) is allowed: REST paths encode it (`sfmc.transport.rest_path`).
    """
    if not customer_key.strip() or len(customer_key) > MAX_KEY_LENGTH:
        return (
            f"The external key must be 1-{MAX_KEY_LENGTH} characters (got {len(customer_key)}): "
            "shorten it."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in customer_key):
        return "The external key contains a control character (a tab or line break): remove it."
    if _KEY_BRACKETS & set(customer_key):
        return "The external key cannot contain [ or ]: SFMC addresses rows as DataExtensionObject[key]."
    return None


def check_new_data_extension(de: DataExtension) -> None:
    """Raise `SfmcConfigError` (kind "schema") naming every rule the new DE breaks."""
    problems = []
    if not de.name.strip():
        problems.append("The Data Extension needs a name.")
    key = key_problem(de.customer_key)
    if key:
        problems.append(key)
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
