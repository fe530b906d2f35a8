"""Contacts API: attribute set definitions and contact upserts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.contacts_journeys.model import (
    AttributeSet,
    Contact,
    SimResponse,
    _contacts_envelope,
    _error,
    _msg,
    _now,
    _paging,
)
from simulator.contacts_journeys.stores import HandlerState
from simulator.contacts_journeys.values import check_typed_value, contact_key_problem


class ContactsMixin(HandlerState):
    """Handlers mixed into `ContactsJourneys` (its lock is held; state lives there)."""

    # -------------------------------------------------------------------- attribute sets
    def _h_list_sets(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        page, size = _paging(query, default_size=50, max_size=500)
        items = [s.to_json() for s in self.attribute_sets]
        body = _contacts_envelope(
            page=page,
            pageSize=size,
            count=len(items),
            items=items[(page - 1) * size : page * size],
            links={
                "self": {"href": "/v1/attributeSetDefinitions"},
                "schema": {"href": "/v1/schema"},
            },
        )
        return SimResponse(200, body)

    def _h_get_set(self, *, args: Mapping[str, str], **_: Any) -> SimResponse:
        ref = args["ref"]
        found = None
        for aset in self.attribute_sets:
            if ref == aset.id or ref.casefold() in (
                f"key:{aset.key}".casefold(),
                f"name:{aset.name}".casefold(),
            ):
                found = aset
        if found is None:
            return _error(404, f"Attribute set definition '{ref}' was not found.", 30003)
        return SimResponse(200, _contacts_envelope(item=found.to_json()))

    def find_set(self, name: str) -> AttributeSet | None:
        wanted = name.casefold()
        return next((s for s in self.attribute_sets if s.name.casefold() == wanted), None)

    # -------------------------------------------------------------------------- contacts
    def _h_upsert_contact(self, *, payload: Any, **_: Any) -> SimResponse:
        if not isinstance(payload, dict):
            return _error(400, "The request body must be a JSON object.", 10004)
        lowered = {str(k).casefold(): v for k, v in payload.items()}
        key = self._contact_key(lowered)
        if isinstance(key, SimResponse):
            return key
        sets = lowered.get("attributesets")
        if not isinstance(sets, list):
            return self._contact_fail(
                key, [_msg("RequiredAttributeMissing", "attributeSets is required.")]
            )
        messages: list[dict[str, Any]] = []
        updates: dict[str, dict[str, str | None]] = {}
        for entry in sets:
            set_name = str((entry or {}).get("name", "")) if isinstance(entry, dict) else ""
            aset = self.find_set(set_name)
            if aset is None:
                messages.append(
                    _msg("AttributeSetNotFound", "Attribute set '{0}' was not found.", set_name)
                )
            elif aset.name in updates:
                messages.append(
                    _msg(
                        "DuplicateAttributeSet",
                        "Attribute set '{0}' appears more than once.",
                        aset.name,
                    )
                )
            else:
                updates[aset.name] = self._set_values(aset, entry, messages)
        existing = self.contacts.get(key)
        if existing is None:
            messages.extend(self._new_contact_problems(updates))
        # Realistic: the good sets are saved and the refusals ride on a 200 with hasErrors [I].
        partial = self.contacts_partial and bool(updates) and bool(messages)
        if messages and not partial:
            return self._contact_fail(key, messages)
        now = _now()
        is_new = existing is None
        if existing is None:
            existing = Contact(key, next(self._contact_ids), created=now)
            self.contacts[key] = existing
        existing.modified = now
        for aset_name, values in updates.items():
            existing.attributes.setdefault(aset_name, {}).update(values)
        body = _contacts_envelope(
            operationStatus="OK",
            rowsAffected=1,
            contactKey=key,
            contactID=existing.contact_id,
            contactTypeID=0,
            isNewContactKey=is_new,
            hasErrors=partial,
        )
        body["resultMessages"] = messages
        return SimResponse(200, body)

    def _contact_key(self, lowered: Mapping[str, Any]) -> str | SimResponse:
        """The contact key of an upsert (given, or found by contactID), or the failure to send."""
        key = lowered.get("contactkey")
        contact_id = lowered.get("contactid")
        if key is None and contact_id is not None:
            key = next(
                (
                    c.contact_key
                    for c in self.contacts.values()
                    if str(c.contact_id) == str(contact_id)
                ),
                None,
            )
            if key is None:
                return self._contact_fail(
                    str(contact_id),
                    [_msg("ContactKeyInvalid", "Contact '{0}' was not found.", str(contact_id))],
                )
        problem = contact_key_problem(key)
        if problem is not None:
            code, text = problem
            return self._contact_fail(str(key or ""), [_msg(code, text)])
        key = str(key)
        if key in self.faults.rejected_contacts:
            return self._contact_fail(
                key, [_msg("InvalidValue", "Contact '{0}' cannot be updated.", key)]
            )
        return key

    def _set_values(
        self, aset: AttributeSet, entry: Mapping[str, Any], messages: list[dict[str, Any]]
    ) -> dict[str, str | None]:
        """The checked values of one attribute set entry; refusals are added to `messages`."""
        values: dict[str, str | None] = {}
        for item in entry.get("items") or []:
            for pair in (item or {}).get("values") or []:
                attr_name = str((pair or {}).get("name", ""))
                attr = aset.attribute(attr_name)
                if attr is None:
                    messages.append(
                        _msg(
                            "AttributeNotFound",
                            "Attribute '{0}' was not found in attribute set '{1}'.",
                            attr_name,
                            aset.name,
                        )
                    )
                    continue
                if attr.is_read_only:
                    messages.append(
                        _msg(
                            "InvalidValue",
                            "Attribute '{0}' of '{1}' is read-only.",
                            attr.name,
                            aset.name,
                        )
                    )
                    continue
                canonical, reason = check_typed_value(
                    attr.data_type, pair.get("value"), length=attr.length
                )
                if reason is not None:
                    messages.append(
                        _msg(
                            "InvalidValue",
                            "Value for attribute '{0}.{1}' " + reason + ".",
                            aset.name,
                            attr.name,
                        )
                    )
                    continue
                values[attr.name] = canonical
        return values

    def _new_contact_problems(
        self, updates: Mapping[str, Mapping[str, str | None]]
    ) -> list[dict[str, Any]]:
        """What a new contact lacks: required attributes, and (strict mode) an email set."""
        problems: list[dict[str, Any]] = []
        for aset_name, values in updates.items():
            aset = self.find_set(aset_name)
            assert aset is not None
            missing = [
                a.name
                for a in aset.attributes
                if not a.is_nullable and not a.is_read_only and values.get(a.name) in (None, "")
            ]
            if missing:
                problems.append(
                    _msg(
                        "RequiredAttributeMissing",
                        "Attribute set '{0}' needs a value for {1}.",
                        aset.name,
                        ", ".join(missing),
                    )
                )
        if self.faults.strict_contacts and "Email Addresses" not in updates:
            problems.append(
                _msg(
                    "RequiredAttributeMissing",
                    "A new contact needs the '{0}' attribute set.",
                    "Email Addresses",
                )
            )
        return problems

    def _contact_fail(self, key: str, messages: list[dict[str, Any]]) -> SimResponse:
        body = _contacts_envelope(
            operationStatus="FAIL",
            rowsAffected=0,
            contactKey=key,
            isNewContactKey=False,
            hasErrors=True,
        )
        body["resultMessages"] = messages
        return SimResponse(400, body)
