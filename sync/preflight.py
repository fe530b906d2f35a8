"""Local validation of mapped rows against a DE's fields, with SFMC's own error shapes.

A row rejected here never leaves the machine; the reason recorded is the one SFMC's async
results would give (`sfmc.fieldrules`), so the rejected-rows file reads the same either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from sfmc import fieldrules
from sfmc.types import DeField, RowOutcome
from sync.mapping import key_function

_INT_RE = re.compile(r"[+-]?[0-9]{1,9}")
_ISO_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")


@lru_cache(maxsize=32_768)
def _date_ok(text: str) -> bool:
    return fieldrules.parse_date(text) is not None


def _quick_expr(field: DeField, var: str) -> str | None:
    """Source of a quick "surely valid" test of one value for the common case, or None.

    It never accepts a value `check_value` would refuse; it only spares the full check for the
    usual well-formed value. False means: run `check_value`.
    """
    needs_value = field.is_primary_key or (field.is_required and field.default_value is None)
    blank_ok = "" if needs_value else f'{var} == "" or '
    ftype = field.field_type
    limit = fieldrules.max_length(field)
    is_str = f"{var}.__class__ is str"
    if ftype == "EmailAddress":
        return f"({is_str} and ({blank_ok}(len({var}) <= {limit or 254} and _email({var}))))"
    if ftype == "Text":
        nonempty = f' and {var} != ""' if needs_value else ""
        return f"({is_str} and len({var}) <= {limit or 50}{nonempty})"
    if ftype == "Number":
        return f"({is_str} and ({blank_ok}_int({var})))"
    if ftype == "Phone":
        return f"({is_str} and ({blank_ok}(len({var}) <= {limit or 50} and _phone({var}))))"
    if ftype == "Locale":
        return f"({is_str} and ({blank_ok}(len({var}) <= {limit or 5} and _locale({var}))))"
    if ftype == "Boolean":
        choices = '("true", "false")' if needs_value else '("true", "false", "")'
        return f"({is_str} and {var} in {choices})"
    if ftype == "Date":
        return f"({is_str} and ({blank_ok}(_iso({var}) and _date_ok({var}))))"
    if ftype == "Decimal":
        precision, scale = fieldrules.decimal_shape(field)
        # One regex: sign, at most precision-scale integer digits (leading zeros free), fraction.
        env_name = f"_dec{precision - scale}"
        _DEC_BY_DIGITS.setdefault(
            env_name,
            re.compile(rf"[+-]?0*(?:[0-9]{{1,{precision - scale}}})?(?:\.[0-9]*)?").fullmatch
            if precision - scale > 0
            else re.compile(r"[+-]?0*(?:\.[0-9]*)?").fullmatch,
        )
        return f"({is_str} and ({blank_ok}(_dec({var}) and {env_name}({var}))))"
    return None


_DEC_BY_DIGITS: dict[str, Callable[[str], object]] = {}
_DEC_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _compile_quick(fields: Sequence[DeField]) -> Callable[[Mapping[str, object]], bool]:
    env: dict[str, object] = {
        "_email": fieldrules._EMAIL_RE.match,  # noqa: SLF001 - the very same rule, reused
        "_int": _INT_RE.fullmatch,
        "_iso": _ISO_RE.fullmatch,
        "_dec": _DEC_RE.fullmatch,
        "_date_ok": _date_ok,
        "_phone": fieldrules._phone_ok,  # noqa: SLF001
        "_locale": fieldrules._LOCALE_RE.match,  # noqa: SLF001
        **_DEC_BY_DIGITS,
    }
    lines = ["def quick(values):", "    g = values.get"]
    tests = []
    for i, field in enumerate(fields):
        expr = _quick_expr(field, f"v{i}")
        if expr is None:
            return lambda _values: False
        lines.append(f"    v{i} = g({field.name!r})")
        tests.append(expr)
    lines.append("    return bool(" + (" and ".join(tests) or "True") + ")")
    env.update(_DEC_BY_DIGITS)
    exec(compile("\n".join(lines) + "\n", "<preflight>", "exec"), env)  # noqa: S102
    return env["quick"]  # type: ignore[return-value]


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
        self._key = key_function(self.key_fields)
        self._quick = _compile_quick(self.fields)
        self.seen: set[int] = set()

    def key_of(self, values: Mapping[str, object]) -> str:
        """The case-insensitive identity of a mapped row ("" when a key value is missing)."""
        return self._key(values)

    def remember(self, key: str) -> None:
        """Mark a key as already used by an earlier audience row (used when resuming)."""
        if key:
            self.seen.add(hash(key))

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
                return self.duplicate()
            self.seen.add(hashed)
        if self._quick(values):
            return None
        get = values.get
        check_value = fieldrules.check_value
        for name, field in self._checks:
            violation = check_value(field, get(name))
            if violation is not None:
                return violation_outcome(violation)
        return None
