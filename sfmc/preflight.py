"""Local validation of mapped rows against a DE's fields, with SFMC's own error shapes.

A row rejected here never leaves the machine; the reason recorded is the one SFMC's async
results would give (`sfmc.fieldrules`), so the rejected-rows file reads the same either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sfmc import fieldrules
from sfmc.mapping import key_string
from sfmc.types import DeField, RowOutcome


def violation_outcome(violation: fieldrules.Violation) -> RowOutcome:
    """A `RowOutcome` carrying a fieldrules `Violation` (never retryable: the data is wrong)."""
    return RowOutcome(
        ok=False,
        error_type=violation.error_type,
        error_details=violation.message,
        field=violation.field,
        retryable=False,
    )


class Preflight:
    """Validates mapped rows for one DE; remembers keys to catch duplicates within the audience.

    Args:
        fields: the DE's fields that the mapping writes (as SFMC describes them).
        primary_keys: names of the DE's primary key fields.
    """

    def __init__(self, fields: Sequence[DeField], primary_keys: Sequence[str]) -> None:
        by_name = {f.name.casefold(): f for f in fields}
        self.fields = tuple(fields)
        self.key_fields = tuple(
            by_name[k.casefold()] for k in primary_keys if k.casefold() in by_name
        )
        self._checks = [(f.name, f) for f in fields]
        self.seen: set[int] = set()

    def key_of(self, values: Mapping[str, object]) -> str:
        """The case-insensitive identity of a mapped row ("" when a key value is missing)."""
        return key_string(values, self.key_fields)

    def remember(self, key: str) -> None:
        """Mark a key as already used by an earlier audience row (used when resuming)."""
        if key:
            self.seen.add(hash(key))

    def check(self, values: Mapping[str, object], key: str | None = None) -> RowOutcome | None:
        """Check one mapped row.

        Args:
            values: DE field -> value, as the converter produced it.
            key: the row's key string when already computed.

        Returns:
            None when the row may be sent, else a failed `RowOutcome` with SFMC's error type.
            The first row with a key wins; later rows with the same key (letter case ignored,
            like SFMC) are `DuplicateKey`.
        """
        if key is None:
            key = self.key_of(values)
        if key:
            # Python's str hash: 64 bits, far fewer bytes per key than the key itself.
            hashed = hash(key)
            if hashed in self.seen:
                name = self.key_fields[0].name if self.key_fields else None
                return RowOutcome(
                    ok=False,
                    error_type="DuplicateKey",
                    error_details=(
                        "Another row of the audience has the same primary key (letter case "
                        "ignored, as in SFMC); only the first one was sent."
                    ),
                    field=name,
                )
            self.seen.add(hashed)
        get = values.get
        check_value = fieldrules.check_value
        for name, field in self._checks:
            violation = check_value(field, get(name))
            if violation is not None:
                return violation_outcome(violation)
        return None
