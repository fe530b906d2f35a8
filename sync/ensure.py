"""Ensure the Data Extension a pathway writes to: create it, add new fields, detect drift.

Run before every sync (and, read-only, before a dry run). Changes SFMC cannot make (type change,
other primary key) are refused with a message that says what to change in the pathway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sfmc import fieldrules
from sfmc.errors import SfmcFatalError
from sfmc.schema import MAX_KEY_LENGTH
from sfmc.types import DataExtension, DeField, Retention, Sending
from sync import sending as send_rules
from sync import values
from sync.mapping import FieldMap
from sync.types import SetupError

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

# ---------------------------------------------------------------------------------------------
# Ensure the Data Extension


@dataclass(frozen=True)
class EnsureResult:
    """The DE as the run will write it, and what ensuring it did or would do.

    Attributes:
        de: the Data Extension (as SFMC describes it after any change).
        fields: the DE fields the mapping writes, in mapping order, as SFMC defines them.
        mapping: the mapping with destination names spelled as in the DE.
        created: the DE was (or, in a dry run, would be) created.
        added: names of fields added (or to add).
        recreated: the DE existed at the last run and has been deleted in SFMC since.
        notes: drift and other facts worth telling the user.
    """

    de: DataExtension
    fields: tuple[DeField, ...]
    mapping: tuple[FieldMap, ...]
    created: bool = False
    added: tuple[str, ...] = ()
    recreated: bool = False
    notes: tuple[str, ...] = ()


def _field_label(f: DeField) -> str:
    if f.field_type in ("Text", "EmailAddress", "Phone") and f.max_length:
        return f"{f.field_type}({f.max_length})"
    if f.field_type == "Decimal":
        precision, scale = fieldrules.decimal_shape(f)
        return f"Decimal({precision},{scale})"
    return f.field_type


def field_to_dict(f: DeField) -> dict[str, Any]:
    """A DE field as JSON (for `Pathway.remote_fields`)."""
    return dict(f.__dict__)


def field_from_dict(data: Mapping[str, Any]) -> DeField:
    """Inverse of `field_to_dict`, tolerant of unknown keys."""
    known = {k: v for k, v in data.items() if k in DeField.__dataclass_fields__}
    return DeField(**known)


def _drift_notes(
    previous: Sequence[DeField], remote: Mapping[str, DeField], customer_key: str
) -> list[str]:
    notes = []
    for old in previous:
        now = remote.get(old.name.casefold())
        if now is None:
            notes.append(
                f"Field {old.name!r} was removed from the Data Extension {customer_key!r} in "
                "Marketing Cloud since the last sync."
            )
        elif now.field_type != old.field_type or now.max_length != old.max_length:
            notes.append(
                f"Field {old.name!r} changed in Marketing Cloud since the last sync: "
                f"{_field_label(old)} -> {_field_label(now)}."
            )
    return notes


def _find_by_key(client: SfmcClient, customer_key: str) -> DataExtension | None:
    # A real client (any SfmcTransport) retrieves the DE and its fields in one round trip;
    # other clients (test doubles) get the plain public method.
    if hasattr(client, "_retrieve"):
        from sfmc.data_extensions import find_data_extension_concurrently

        return find_data_extension_concurrently(client, customer_key)
    return client.find_data_extension(customer_key=customer_key)


def ensure_data_extension(
    client: SfmcClient,
    *,
    name: str,
    customer_key: str,
    category_id: int | None,
    mapping: Sequence[FieldMap],
    previous_fields: Sequence[DeField] = (),
    dry_run: bool = False,
    sending: Sending | None = None,
    retention: Retention | None = None,
) -> EnsureResult:
    """Make sure the DE exists with every mapped field; create it or add new fields.

    Args:
        client: the SFMC client.
        name: DE name used when creating it.
        customer_key: the DE's external key (at most 36 characters).
        category_id: folder (DataFolder ID) used when creating it.
        mapping: the pathway's column mapping.
        previous_fields: the DE's fields as seen by the last run (to detect drift).
        dry_run: only look; report what would be created or added.
        sending: the send relationship the DE needs ("Used for Sending"); None: not sendable.
            A new DE is created with it; an existing one is made sendable when SFMC allows.
        retention: data retention of a new DE (an existing DE keeps its own).

    Returns:
        An `EnsureResult`.

    Raises:
        SetupError: the mapping cannot be written to this DE (type change, other primary
            key, invalid schema, no folder, a send relationship or retention SFMC refuses);
            the message says what to fix, the kind which.
    """
    _check_request(mapping, customer_key)
    wanted = [m.to_de_field() for m in mapping]
    send_rules.check_settings(wanted, sending, retention)
    de = _find_by_key(client, customer_key)
    if de is None:
        return _create(
            client,
            DataExtension(
                name=name,
                customer_key=customer_key,
                category_id=category_id,
                fields=tuple(wanted),
                sending=sending,
                retention=retention,
            ),
            mapping,
            previously_seen=bool(previous_fields),
            dry_run=dry_run,
        )
    notes = _drift_notes(previous_fields, {f.name.casefold(): f for f in de.fields}, customer_key)
    _check_primary_key(de, wanted)
    fields, to_add, more_notes = _fit_fields(de, wanted)
    notes.extend(more_notes)
    if to_add:
        notes.append("New fields added to the Data Extension: " + ", ".join(f.name for f in to_add))
        if not dry_run:
            de = client.add_fields(customer_key, to_add)
    # A dry run judges the DE as the real run would see it: with the new fields added.
    checked = replace(de, fields=(*de.fields, *to_add)) if dry_run else de
    made, sent_notes = send_rules.make_existing_sendable(client, checked, sending, dry_run=dry_run)
    de = de if dry_run else made
    notes.extend(sent_notes)
    renamed = tuple(
        replace(m, destination_field=f.name) for m, f in zip(mapping, fields, strict=True)
    )
    return EnsureResult(
        de=de,
        fields=tuple(fields),
        mapping=renamed,
        added=tuple(f.name for f in to_add),
        notes=tuple(notes),
    )


def _check_request(mapping: Sequence[FieldMap], customer_key: str) -> None:
    """Refuse a mapping without columns or key, and a DE key SFMC would refuse."""
    if not mapping:
        msg = "The pathway has no mapped columns; map at least the primary key column."
        raise SetupError(msg, kind="no_mapping")
    if not any(m.is_primary_key for m in mapping):
        msg = "No mapped column is marked as primary key; mark the column that identifies a row (e.g. Email)."
        raise SetupError(msg, kind="no_primary_key")
    if len(customer_key) > MAX_KEY_LENGTH:
        msg = f"The Data Extension key {customer_key!r} is longer than {MAX_KEY_LENGTH} characters; shorten it."
        raise SetupError(msg, kind="key_too_long", detail={"customer_key": customer_key})


def _create(
    client: SfmcClient,
    new: DataExtension,
    mapping: Sequence[FieldMap],
    *,
    previously_seen: bool,
    dry_run: bool,
) -> EnsureResult:
    """Create the missing DE (or, in a dry run, say that it would be)."""
    notes = []
    if previously_seen:
        notes.append(
            f"The Data Extension {new.customer_key!r} was deleted in Marketing Cloud since the "
            "last sync; it is created again and every row is sent again."
        )
    if new.sending is not None:
        notes.append(f"The Data Extension is created {send_rules.describe(new.sending)}.")
    problems = values.schema_problems(list(new.fields))
    if problems:
        msg = "The mapping cannot become a Data Extension: " + " ".join(problems)
        raise SetupError(msg, kind="schema", detail={"problems": list(problems)})
    if new.category_id is None:
        msg = "Choose a category (Data Extension folder) for the pathway before syncing."
        raise SetupError(msg, kind="no_folder")
    made = new
    if not dry_run:
        made = _create_in_folder(client, new)
        made = made if made.fields else replace(made, fields=new.fields)
    return EnsureResult(
        de=made,
        fields=new.fields,
        mapping=tuple(mapping),
        created=True,
        added=tuple(f.name for f in new.fields),
        recreated=previously_seen,
        notes=tuple(notes),
    )


def _create_in_folder(client: SfmcClient, new: DataExtension) -> DataExtension:
    try:
        return client.create_data_extension(new)
    except SfmcFatalError as exc:
        if "categoryid" not in str(exc).lower():
            raise
        # The folder was deleted or renamed in SFMC since it was picked (DESIGN §2).
        msg = (
            f"The Data Extension folder (category {new.category_id}) chosen for this pathway "
            "no longer exists in Marketing Cloud: it was deleted or renamed. Pick a valid "
            "folder for the pathway, then sync again."
        )
        raise SetupError(
            msg,
            kind="folder_missing",
            operation=f"create Data Extension {new.name}",
            detail={"category_id": new.category_id},
        ) from exc


def _check_primary_key(de: DataExtension, wanted: Sequence[DeField]) -> None:
    """SFMC cannot change a DE's primary key: the pathway's must be the DE's."""
    remote_pk = {f.name.casefold() for f in de.fields if f.is_primary_key}
    wanted_pk = {f.name.casefold() for f in wanted if f.is_primary_key}
    if remote_pk == wanted_pk:
        return
    have = [f.name for f in de.fields if f.is_primary_key]
    want = [f.name for f in wanted if f.is_primary_key]
    msg = (
        f"The Data Extension {de.customer_key!r} has primary key ({', '.join(have) or 'none'}) in "
        f"Marketing Cloud but the pathway uses ({', '.join(want)}). Change the pathway's primary "
        "key to match, or use a new Data Extension key."
    )
    raise SetupError(msg, kind="primary_key_mismatch", detail={"de": have, "mapping": want})


def _fit_fields(
    de: DataExtension, wanted: Sequence[DeField]
) -> tuple[list[DeField], list[DeField], list[str]]:
    """The DE fields the mapping writes (in mapping order), the ones to add, and notes."""
    remote = {f.name.casefold(): f for f in de.fields}
    has_rows = de.row_count is None or de.row_count > 0
    fields: list[DeField] = []
    to_add: list[DeField] = []
    notes: list[str] = []
    for want in wanted:
        have = remote.get(want.name.casefold())
        if have is None:
            # On a DE with rows a new field must be nullable (SFMC rule, sfmc-api.md §4.3).
            new_field = replace(want, is_required=False) if has_rows else want
            problem = fieldrules.check_field_change(None, new_field, de_has_rows=has_rows)
            if problem:
                raise SetupError(problem, kind="field_not_addable", detail={"field": want.name})
            to_add.append(new_field)
            fields.append(new_field)
            continue
        if have.field_type != want.field_type:
            msg = (
                f"Field {have.name!r} is {_field_label(have)} in the Data Extension but the "
                f"mapping says {_field_label(want)}; SFMC cannot change a field's type. Set the "
                f"mapping back to {have.field_type} or map the column to a new field name."
            )
            detail = {"field": have.name, "de": have.field_type, "mapping": want.field_type}
            raise SetupError(msg, kind="field_type_change", detail=detail)
        limit_have, limit_want = fieldrules.max_length(have), fieldrules.max_length(want)
        if limit_have and limit_want and limit_want > limit_have:
            notes.append(
                f"Field {have.name!r} stays {_field_label(have)} in Marketing Cloud (the mapping "
                f"says {_field_label(want)}); longer values are rejected."
            )
        fields.append(have)
    return fields, to_add, notes
