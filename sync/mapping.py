"""Pure column transforms: suggest a mapping, convert source rows to SFMC values, hash and key rows.

Nothing here does I/O. The engine builds a `RowConverter` once per run and calls it for every row,
so the per-row path is a list of small precompiled functions rather than a chain of `if`s.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

from sfmc import fieldrules
from sfmc.schema import MAX_KEY_LENGTH
from sfmc.types import DeField
from store.fieldtypes import TYPES, rules_for
from store.fieldvalues import is_blank
from sync.values import date_sender, key_part

DE_NAME_TEMPLATE = "Pathways - {audience}"
DE_KEY_TEMPLATE = "pathways_{clientId}_segment_{audienceId}"
TEXT_DEFAULT_LENGTH = 255
_TEXT_STEPS = (255, 500, 1000, 2000, 4000)
_KEY_SEP = "\x1f"
_KEY_ESC = "\x1e"  # escapes _KEY_SEP (and itself) inside the parts of a composite key

# Inferred data-set column type -> SFMC field type (the table names the importer's column types).
_TYPE_MAP = {t.column_type: t.name for t in TYPES.values() if t.column_type}


@dataclass(frozen=True)
class FieldMap:
    """One mapped column: a source column of the audience and its Data Extension field."""

    source_column: str
    destination_field: str
    field_type: str = "Text"
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    required: bool = False
    is_primary_key: bool = False

    def to_de_field(self) -> DeField:
        """The DE field this mapping creates (a primary key is always required)."""
        length = self.length
        if self.field_type == "Text" and not length:
            length = TEXT_DEFAULT_LENGTH
        if self.field_type == "EmailAddress" and not length:
            length = 254
        return DeField(
            name=self.destination_field,
            field_type=self.field_type,
            max_length=length if self.field_type in ("Text", "EmailAddress", "Phone") else None,
            precision=self.precision if self.field_type == "Decimal" else None,
            scale=self.scale if self.field_type == "Decimal" else None,
            is_primary_key=self.is_primary_key,
            is_required=self.required or self.is_primary_key,
        )


def title_case(name: str) -> str:
    """`first_name` -> `First Name`; keeps existing capitals after the first letter (`ZIP`)."""
    words = [w for w in re.split(r"[_\s]+", name.strip()) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or name


def _clean_field_name(name: str) -> str:
    # SFMC reserves names starting with "_" (sfmc-api.md §4.3).
    cleaned = re.sub(r"\s+", " ", name.strip()).lstrip("_").strip()
    return cleaned[: fieldrules.MAX_FIELD_NAME] or "Field"


def _text_length(max_length: int | None) -> int:
    needed = max_length or 0
    for step in _TEXT_STEPS:
        if needed <= step:
            return step
    return _TEXT_STEPS[-1]


def suggest_mapping(
    columns: Sequence[Mapping[str, Any]],
    *,
    title_case_names: bool = False,
    primary_key: str | None = None,
) -> list[FieldMap]:
    """Suggest a mapping from a data set's inferred columns (`DataSet.columns`).

    Args:
        columns: dicts with `name` (safe column name), `original` (header), `type` and
            `max_length`, as the importer infers them.
        title_case_names: name DE fields in Title Case (`first_name` -> `First Name`).
        primary_key: source column to use as the primary key; default: the first email column.

    Returns:
        One `FieldMap` per column. Text gets 255 characters, or more when the data needs it;
        whole numbers with more than 9 digits become Decimal(18,0) because Number is 32-bit.
    """
    if primary_key is None:
        primary_key = next(
            (c["name"] for c in columns if c.get("type") == "email"),
            next((c["name"] for c in columns if str(c["name"]).lower() == "email"), None),
        )
    result: list[FieldMap] = []
    used: set[str] = set()
    for col in columns:
        source = str(col["name"])
        original = str(col.get("original") or source)
        dest = _clean_field_name(title_case(original) if title_case_names else original)
        base, n = dest, 2
        while dest.casefold() in used:
            dest, n = f"{base} {n}", n + 1
        used.add(dest.casefold())
        kind = _TYPE_MAP.get(str(col.get("type") or "text"), "Text")
        max_len = col.get("max_length")
        fmap = FieldMap(source_column=source, destination_field=dest, field_type=kind)
        if kind == "Text":
            fmap = replace(fmap, length=_text_length(max_len))
        elif kind == "EmailAddress":
            fmap = replace(fmap, length=254)
        elif kind == "Phone":
            fmap = replace(fmap, length=50)
        elif kind == "Decimal":
            fmap = replace(fmap, precision=18, scale=2)
        elif kind == "Number" and max_len and int(max_len) > 9:
            fmap = replace(fmap, field_type="Decimal", precision=18, scale=0)
        if source == primary_key:
            fmap = replace(fmap, is_primary_key=True, required=True)
        result.append(fmap)
    return result


def de_name_for(audience_name: str, template: str = DE_NAME_TEMPLATE) -> str:
    """Default DE name for an audience: `Pathways - <audience name>` (or the connection's)."""
    return template.format(audience=audience_name).strip()[:128]


def de_key_for(client_id: str, audience_id: int, template: str = DE_KEY_TEMPLATE) -> str:
    """Default DE external key, within SFMC's 36 characters.

    A long client id is shortened rather than the end of the key, so the audience id stays in
    it and two audiences never get the same default key.
    """
    cid = client_id
    while True:
        key = template.format(clientId=cid, audienceId=audience_id)
        key = re.sub(r"[^A-Za-z0-9_\-]", "_", key)
        if len(key) <= MAX_KEY_LENGTH or not cid:
            return key[:MAX_KEY_LENGTH]
        cid = cid[: max(len(cid) - (len(key) - MAX_KEY_LENGTH), 0)]


# ---------------------------------------------------------------------------------------------
# Value conversion: source value -> what the async DE API is sent (`store.fieldtypes` per type).


def convert_value(field_type: str, value: object) -> object:
    """Convert one source value to what SFMC is sent: ISO 8601 dates, true/false, plain numbers.

    Blank values become "" (SFMC clears the field; `null` is refused by some tenants).
    A value that cannot be converted is returned as is, so that preflight reports it.
    """
    return rules_for(field_type).convert(value)


class RowConverter:
    """Maps one source row (dict of safe column names) to a dict of DE field -> SFMC value.

    It runs for every row of every push, so the (field, converter, source column) triples are
    looked up once per mapping and the per-row work is one dict comprehension over them.
    """

    def __init__(self, mapping: Sequence[FieldMap], zone: tzinfo | None = None) -> None:
        self.mapping = tuple(mapping)
        self.field_names = tuple(m.destination_field for m in self.mapping)
        # Dates with a zone are sent as the tenant's wall time (`sync.values.date_sender`).
        dates = date_sender(zone) if zone is not None else rules_for("Date").convert
        self._steps = tuple(
            (
                m.destination_field,
                dates if m.field_type == "Date" else rules_for(m.field_type).convert,
                m.source_column,
            )
            for m in self.mapping
        )

    def __call__(self, row: Mapping[str, Any]) -> dict[str, object]:
        get = row.get
        return {name: convert(get(source)) for name, convert, source in self._steps}


class RowHasher:
    """Hash (for the ledger) and byte size (for batching) of converted rows, in one pass.

    The hash is a blake2b digest of the values joined by `_KEY_SEP`. That text identifies the
    row exactly only while no value holds the separator itself (values "a<SEP>b", "c" and "a",
    "b<SEP>c" join alike): such a row is hashed from its JSON list instead, in a separate digest
    domain (`person`), so two different rows never hash the same text and an edit is never
    mistaken for "unchanged". Counting the separators is one C-level scan per row.
    """

    def __init__(self, field_names: Sequence[str]) -> None:
        signature = _KEY_SEP.join(field_names).encode("utf-8")
        self._base = hashlib.blake2b(signature, digest_size=12)
        self._listed = hashlib.blake2b(signature, digest_size=12, person=b"json-list")
        self._separators = len(field_names) - 1
        # JSON overhead per row: quotes, colons, commas and the field names.
        self.overhead = sum(len(n.encode("utf-8")) + 6 for n in field_names) + 2

    def __call__(self, values: Mapping[str, object]) -> tuple[str, int]:
        try:
            payload = _KEY_SEP.join(values.values())  # type: ignore[arg-type]
        except TypeError:  # a value the converter passed through unchanged (not a str)
            payload = _KEY_SEP.join([v if v.__class__ is str else str(v) for v in values.values()])
        data = payload.encode("utf-8")
        if payload.count(_KEY_SEP) == self._separators:
            hasher = self._base.copy()
            hasher.update(data)
        else:
            hasher = self._listed.copy()
            texts = [v if v.__class__ is str else str(v) for v in values.values()]
            hasher.update(json.dumps(texts).encode("utf-8"))
        return hasher.hexdigest(), len(data) + self.overhead


def row_hash(values: Mapping[str, object], field_names: Sequence[str]) -> str:
    """A short stable hash of a converted row, for the incremental ledger."""
    return RowHasher(field_names)({n: values.get(n, "") for n in field_names})[0]


_TEXT_LIKE = frozenset({"Text", "EmailAddress", "Phone", "Locale"})


def key_function(key_fields: Sequence[DeField]) -> Callable[[Mapping[str, object]], str]:
    """A fast `key_string` for these key fields (one text key: a casefold, no loop)."""
    fields = tuple(key_fields)
    if len(fields) == 1 and fields[0].field_type in _TEXT_LIKE:
        name = fields[0].name

        def single(values: Mapping[str, object]) -> str:
            value = values.get(name)
            if value.__class__ is str:
                return value.casefold()  # type: ignore[union-attr]
            return key_string(values, fields)

        return single
    return lambda values: key_string(values, fields)


def key_string(values: Mapping[str, object], key_fields: Sequence[DeField]) -> str:
    """Identity of a row in its DE: the primary key values, case-insensitive like SFMC.

    Returns "" when a key value is missing; values that do not fit their field are keyed by
    their casefolded text so that they still collide with look-alikes.
    """
    parts = []
    for field in key_fields:
        value = values.get(field.name)
        if value.__class__ is str and field.field_type in _TEXT_LIKE:
            if not value:
                return ""
            parts.append(value.casefold())
            continue
        if is_blank(value):
            return ""
        try:
            parts.append(key_part(field, value))
        except ValueError:
            parts.append(str(value).casefold())
    if len(parts) > 1 and any(_KEY_SEP in p or _KEY_ESC in p for p in parts):
        # Several parts joined stay one exact key only if no part holds the separator.
        parts = [
            p.replace(_KEY_ESC, _KEY_ESC + "0").replace(_KEY_SEP, _KEY_ESC + "1") for p in parts
        ]
    return _KEY_SEP.join(parts)


def key_display(values: Mapping[str, object], key_names: Sequence[str]) -> str:
    """Human-readable primary key, e.g. `a@example.com` or `1|a@example.com`."""
    if len(key_names) == 1:  # the usual case, once per rejected row: no generator
        return str(values.get(key_names[0], ""))
    return "|".join([str(values.get(name, "")) for name in key_names])
