"""Local validation of mapped rows against a DE's fields, with SFMC's own error shapes.

A row rejected here never leaves the machine; the reason recorded is the one SFMC's async
results would give (the value rules of `store.fieldtypes`, via `sync.values`), so the
rejected-rows file reads the same either way.

Every row of a push passes here, so the per-row path is a tuple of (field, fast test) built once
per run: each fast test is specialised for its field's type and limits and only says "surely
valid"; the first field it is not sure of sends the row to the full check, which alone decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sfmc.types import DeField, RowOutcome
from store import fieldtypes
from store.fieldchecks import FieldShape, Violation
from sync.keyset import KeySet
from sync.mapping import key_function
from sync.values import shape_of


def violation_outcome(violation: Violation) -> RowOutcome:
    """A `RowOutcome` carrying a value rule's `Violation` (never retryable: the data is wrong)."""
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
        shapes = [shape_of(f) for f in self.fields]
        # Field i's fast test, then the full check of fields i.. in order (the first
        # violation in field order is the one reported).
        self._steps = tuple(
            (shape.name, fieldtypes.sure_check(shape) or _never_sure, tuple(shapes[i:]))
            for i, shape in enumerate(shapes)
        )
        self._key = key_function(self.key_fields)
        # The keys themselves, never their hash(): two keys whose hashes collide are two rows.
        # On disk beyond a few thousand keys (`sync.keyset`): memory stays flat at any size.
        self.seen = KeySet()

    def key_of(self, values: Mapping[str, object]) -> str:
        """The case-insensitive identity of a mapped row ("" when a key value is missing)."""
        return self._key(values)

    def remember(self, key: str) -> None:
        """Mark a key as already used by an earlier audience row (used when resuming)."""
        if key:
            self.seen.add(key)

    def duplicate(self) -> RowOutcome:
        """The refusal of a row whose key an earlier audience row already uses."""
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

    def claim(self, keys: Sequence[str]) -> list[bool]:
        """Mark a chunk's keys ("" skipped) as used, in order; True where an earlier row used it.

        Pass each flag to `check` as `duplicate`: one round trip to the key store per chunk.
        """
        present = [k for k in keys if k]
        used = iter(self.seen.claim(present))
        return [next(used) if k else False for k in keys]

    def check(
        self, values: Mapping[str, object], key: str | None = None, duplicate: bool | None = None
    ) -> RowOutcome | None:
        """Check one mapped row.

        Args:
            values: DE field -> value, as the converter produced it.
            key: the row's key string when already computed.
            duplicate: the row's flag from `claim` (None: checked and marked here).

        Returns:
            None when the row may be sent, else a failed `RowOutcome` with SFMC's error type.
            The first row with a key wins; later rows with the same key (letter case ignored,
            like SFMC) are `DuplicateKey`.
        """
        if key is None:
            key = self.key_of(values)
        if duplicate is None:
            duplicate = bool(key) and not self.seen.add(key)
        if duplicate:
            return self.duplicate()
        get = values.get
        for name, sure, rest in self._steps:
            if not sure(get(name)):
                return self._full_check(get, rest)
        return None

    @staticmethod
    def _full_check(
        get: Callable[[str], object], shapes: Sequence[FieldShape]
    ) -> RowOutcome | None:
        check = fieldtypes.check
        for shape in shapes:
            violation = check(shape, get(shape.name))
            if violation is not None:
                return violation_outcome(violation)
        return None


def _never_sure(_value: object) -> bool:
    return False
