"""Validation of the non-DE destination kinds into problems and settings (pure functions)."""

from __future__ import annotations

from sfmc.contacts import AttributeDefinition, AttributeSetDefinition
from sfmc.journeys import EventDefinition
from sfmc.types import DataExtension, DeField
from sync import destinations as dest
from ui import destinations as udest

COLUMNS = [
    {"name": "donor_id", "type": "text"},
    {"name": "email", "type": "email"},
    {"name": "first_name", "original": "First Name", "type": "text"},
]
SHARED = DataExtension(
    "All donors",
    "all_donors",
    fields=(
        DeField("SubscriberKey", "Text", 50, is_primary_key=True, is_required=True),
        DeField("Email", "EmailAddress"),
        DeField("Region", "Number"),
        DeField("Active", "Boolean"),
    ),
)
EVENT_DE = DataExtension(
    "Welcome entry",
    "welcome_de",
    fields=(
        DeField("EmailAddress", "EmailAddress", is_required=True),
        DeField("ContactKey", "Text", 50, is_primary_key=True),
        DeField("FirstName", "Text"),
    ),
)
EVENT = EventDefinition("e1", "APIEvent-1", "Welcome", "APIEvent", "d1", "Welcome entry")
SETS = [
    AttributeSetDefinition(
        "s1",
        "email",
        "Email Addresses",
        (
            AttributeDefinition("Email Addresses", "Email Address", "EmailAddress"),
            AttributeDefinition("Email Addresses", "HTML Enabled", "Boolean", is_required=True),
        ),
    ),
    AttributeSetDefinition(
        "s2",
        "demo",
        "Email Demographics",
        (AttributeDefinition("Email Demographics", "First Name"),),
    ),
]


def test_membership_flag_settings_and_problems():
    target = udest.target_for(dest.MEMBERSHIP_FLAG, de=SHARED)
    assert [f.name for f in target.key_fields] == ["SubscriberKey"]
    assert "SubscriberKey" not in target.value_fields()
    ok = udest.Choice("donor_id", "SubscriberKey", [("email", "Email")], flag_field=" In X ")
    settings, problems = udest.validate(target, ok)
    assert problems == []
    assert settings["options"] == {"flag_field": "In X"}
    assert (settings["de_key"], settings["de_name"]) == ("all_donors", "All donors · flag 'In X'")
    assert [r["is_primary_key"] for r in settings["mapping"]] == [True, False]
    for flag, problem in [
        (
            "",
            "Name the True/False field that marks this audience's members (e.g. 'In Lapsed 2023').",
        ),
        ("region", "'Region' exists in 'All donors' as Number; pick another flag name."),
        ("active", "'active' is the membership flag; do not map a column to it."),
    ]:
        pairs = [("email", "Email"), ("first_name", "Active")]
        choice = udest.Choice("donor_id", "SubscriberKey", pairs, flag_field=flag)
        assert udest.validate(target, choice)[1] == [problem]


def test_shared_de_needs_one_key_field():
    assert udest.shared_de_problem(SHARED) is None
    two = DataExtension("Two", "two", fields=(DeField("A", is_primary_key=True),) * 2)
    assert "has 2 primary key fields" in udest.shared_de_problem(two)


def test_journey_event_needs_its_required_fields():
    target = udest.target_for(dest.JOURNEY_EVENT, de=EVENT_DE, event=EVENT)
    assert target.key_fields[0].name == "ContactKey"  # a usual key name comes first
    settings, problems = udest.validate(target, udest.Choice("donor_id", "ContactKey", []))
    assert problems == ["The event's Data Extension requires EmailAddress: map a column to it."]
    assert settings["options"] == {"event_definition_key": "APIEvent-1", "send_to": "new"}
    full = udest.Choice("donor_id", "ContactKey", [("email", "EmailAddress")], send_to="all")
    settings, problems = udest.validate(target, full)
    assert problems == []
    assert settings["options"]["send_to"] == "all"
    assert settings["de_name"] == "Welcome (event)"


def test_contacts_need_complete_attribute_sets_and_one_column_per_field():
    target = udest.target_for(dest.CONTACTS, sets=SETS)
    assert [f.name for f in target.key_fields] == ["ContactKey"]
    # The suggestion leaves out "Email Addresses": the data cannot fill "HTML Enabled".
    assert udest.suggested_pairs(target, COLUMNS) == [
        ("first_name", "Email Demographics.First Name")
    ]
    pairs = [
        ("email", "Email Addresses.Email Address"),
        ("first_name", "Email Addresses.Email Address"),
    ]
    _settings, problems = udest.validate(target, udest.Choice(None, "ContactKey", pairs))
    assert problems == [
        "Choose the contact key column: the one that identifies each supporter.",
        "Two columns are sent to 'email addresses.email address': remove one.",
        "Attribute set 'Email Addresses' also needs HTML Enabled for new contacts: map a column "
        "to it, or remove the set's other attributes.",
    ]


def test_default_key_column_and_summary_lines():
    names = [c["name"] for c in COLUMNS]
    assert udest.default_key_column(names, None) == "donor_id"
    assert udest.default_key_column(names, "email") == "email"
    assert udest.default_key_column(["x"], "gone") is None
    target = udest.target_for(dest.JOURNEY_EVENT, de=EVENT_DE, event=EVENT)
    settings, _ = udest.validate(target, udest.Choice("donor_id", "ContactKey", []))
    assert udest.summary_lines(settings) == [
        "**Target**  \nWelcome (event)",
        "**Who enters**  \nNew members only",
        "**Contact key**  \ndonor_id → ContactKey",
    ]
