"""The attribute sets every tenant has and the demo event definitions with their entry DEs."""

from __future__ import annotations

from simulator.contacts_journeys.model import (
    Attribute,
    AttributeSet,
    EventDefinition,
)
from simulator.fields import SimField


def system_attribute_sets() -> list[AttributeSet]:
    """The system sets every tenant has (a trimmed "Email Addresses" and "Email Demographics")."""
    return [
        AttributeSet(
            name="Email Addresses",
            key="EmailAddresses",
            attributes=[
                Attribute("Email Address", "EmailAddress", length=254, is_nullable=False),
                Attribute("HTML Enabled", "Boolean", is_nullable=False),
            ],
        ),
        AttributeSet(
            name="Email Demographics",
            key="EmailDemographics",
            attributes=[
                Attribute("Contacts ID", "LongNumber", is_primary_key=True, is_read_only=True),
                Attribute("First Name", "Text", length=100),
                Attribute("Last Name", "Text", length=100),
                Attribute("Locale", "Text", length=10),
            ],
        ),
    ]


def demo_event_definitions() -> list[tuple[EventDefinition, list[SimField]]]:
    """Two API event definitions (welcome, lapsed reactivation) with their entry DEs."""
    welcome = EventDefinition(
        name="Pathways - Welcome Series",
        event_definition_key="APIEvent-3f2a9c1e-77d0-4b5e-9c1a-0d9e2b7c4a11",
        data_extension_key="pathways_welcome_entry",
        data_extension_name="Pathways Welcome Entry",
    )
    lapsed = EventDefinition(
        name="Pathways - Lapsed Donor Reactivation",
        event_definition_key="APIEvent-8b41d2f0-1c3e-4a5b-9d6f-7e8a9b0c1d22",
        data_extension_key="pathways_lapsed_entry",
        data_extension_name="Pathways Lapsed Entry",
    )
    welcome_fields = [
        SimField("ContactKey", "Text", max_length=254, is_required=True),
        SimField("EmailAddress", "EmailAddress", max_length=254),
        SimField("FirstName", "Text", max_length=100),
        SimField("AudienceName", "Text", max_length=100),
    ]
    lapsed_fields = [
        SimField("ContactKey", "Text", max_length=254, is_required=True),
        SimField("EmailAddress", "EmailAddress", max_length=254),
        SimField("LastGiftDate", "Date"),
        SimField("LifetimeGiving", "Decimal", precision=18, scale=2),
    ]
    return [(welcome, welcome_fields), (lapsed, lapsed_fields)]
