"""The destination rules the wizard and the engine share: kinds, messages and facts."""

from __future__ import annotations

import pytest

from sfmc.contacts import AttributeDefinition, AttributeSetDefinition
from sfmc.journeys import EventDefinition
from sfmc.types import DataExtension, DeField
from sync import destination_rules as rules
from sync.mapping import FieldMap
from sync.types import SETUP_KINDS, SetupError

KEY = FieldMap("id", "ContactKey", is_primary_key=True)
SHARED = DataExtension(
    "Shared",
    "shared",
    fields=(
        DeField("ContactKey", "Text", 254, is_primary_key=True),
        DeField("Email", "EmailAddress"),
        DeField("Region", "Number"),
    ),
)
SETS = (
    AttributeSetDefinition(
        "s1",
        "email",
        "Email Addresses",
        (
            AttributeDefinition("Email Addresses", "Email Address", "EmailAddress"),
            AttributeDefinition("Email Addresses", "HTML Enabled", "Boolean", is_required=True),
            AttributeDefinition("Email Addresses", "Contact ID", is_read_only=True),
        ),
    ),
)
EVENT = EventDefinition("e1", "APIEvent-1", "Welcome", "APIEvent", "d1", "Welcome entry")
EVENT_DE = DataExtension(
    "Welcome entry",
    "welcome_de",
    fields=(DeField("ContactKey", "Text", 50, is_primary_key=True), DeField("Email", "Text")),
)


def _kinds(problems):
    assert all(p.kind in SETUP_KINDS for p in problems)
    return [(p.kind, p.detail) for p in problems]


def test_contact_key_exactly_one_marked_and_chosen():
    assert rules.contact_key_problems([KEY]) == []
    two = [KEY, FieldMap("email", "Email", is_primary_key=True)]
    assert _kinds(rules.contact_key_problems(two)) == [("contact_key", {"marked": 2})]
    assert _kinds(rules.contact_key_problems([FieldMap("email", "Email")])) == [
        ("contact_key", {"marked": 0})
    ]
    unchosen = rules.contact_key_problems([FieldMap("", "ContactKey", is_primary_key=True)])
    assert [p.message for p in unchosen] == [
        "Choose the contact key column: the one that identifies each supporter."
    ]


def test_the_engine_raises_the_first_problem_with_its_kind_and_facts():
    mapping = [KEY, FieldMap("grp", "In X")]
    problems = rules.membership_problems("shared", SHARED, "In X", mapping)
    assert [p.message for p in problems] == [
        "'In X' is not a field of the shared DE 'Shared'; add it in SFMC or remove it from the "
        "mapping (a shared DE's fields are not changed here)."
    ]
    with pytest.raises(SetupError) as raised:
        rules.raise_first(problems)
    assert (raised.value.kind, raised.value.detail) == ("membership_mapping", {"field": "In X"})
    assert raised.value.message == problems[0].message
    rules.raise_first([])  # no problem: nothing raised


def test_membership_flag_rules():
    # No flag name and no DE: both said, the flag name first.
    assert _kinds(rules.membership_problems("gone", None, "", [KEY])) == [
        ("membership_settings", {}),
        ("shared_de_missing", {"customer_key": "gone"}),
    ]
    wrong_key = [FieldMap("email", "Email", is_primary_key=True)]
    assert _kinds(rules.membership_problems("shared", SHARED, "In X", wrong_key)) == [
        ("membership_mapping", {"field": "Email", "primary_key": ["ContactKey"]})
    ]
    clash = rules.membership_problems("shared", SHARED, "region", [KEY])
    assert _kinds(clash) == [
        ("membership_settings", {"flag_field": "Region", "field_type": "Number"})
    ]
    two_keys = DataExtension("Two", "two", fields=(DeField("A", is_primary_key=True),) * 2)
    assert [p.kind for p in rules.membership_problems("two", two_keys, "In X", [])] == [
        "membership_mapping"
    ]
    assert rules.shared_de_problems(SHARED) == []


def test_contacts_rules():
    ok = [KEY, FieldMap("e", "Email Addresses.Email Address"), FieldMap("h", "email addresses.html enabled")]  # fmt: skip
    assert rules.contacts_problems(SETS, ok) == []
    bad = [KEY, FieldMap("e", "Email Addresses.Email Address"), FieldMap("n", "Email Addresses.Nick"),
           FieldMap("c", "Email Addresses.Contact ID")]  # fmt: skip
    assert _kinds(rules.contacts_problems(SETS, bad)) == [
        ("contacts_mapping", {"field": "Email Addresses.Nick"}),
        ("contacts_mapping", {"field": "Email Addresses.Contact ID", "read_only": True}),
        ("contacts_mapping", {"set": "Email Addresses", "fields": ["HTML Enabled"]}),
    ]
    assert rules.incomplete_sets(SETS, ["Email Addresses.Email Address"]) == {
        "Email Addresses": ["HTML Enabled"]
    }


def test_journey_rules():
    ok = [KEY, FieldMap("email", "Email")]
    assert rules.journey_problems("APIEvent-1", EVENT, EVENT_DE, ok) == []
    assert _kinds(rules.journey_problems("", None, None, ok)) == [("journey_settings", {})]
    assert _kinds(rules.journey_problems("gone", None, None, ok)) == [
        ("journey_settings", {"event_definition_key": "gone"})
    ]
    assert _kinds(rules.journey_problems("APIEvent-1", EVENT, None, ok)) == [
        ("journey_settings", {"data_extension": "Welcome entry"})
    ]
    odd = [
        FieldMap("id", "Key", is_primary_key=True),
        FieldMap("a", "Email"),
        FieldMap("b", "email"),
    ]
    problems = rules.journey_problems("APIEvent-1", EVENT, EVENT_DE, odd)
    assert _kinds(problems) == [
        ("journey_mapping", {"field": "email"}),
        ("journey_mapping", {"field": "Key"}),
        ("journey_mapping", {"fields": ["ContactKey"]}),
    ]
    assert problems[-1].message == (
        "The event's Data Extension requires ContactKey: map a column to it."
    )
