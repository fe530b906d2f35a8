"""SFMC's rules for sendable Data Extensions and data retention, as the simulator enforces them.

Written from `../shared/reference/sfmc-api.md` §4.1 (the `DataExtension` properties; the
subscriber attribute a send relationship names is "Subscriber Key" or "Email Address", retrieved
as "_SubscriberKey") and from what SFMC's Contact Builder form allows [I]: the relationship
field must exist, be required (or the primary key) and be EmailAddress for "Email Address", Text
for "Subscriber Key"; a DE is testable only when sendable; a sendable DE keeps its relationship;
retention deletes individual rows or the whole DE's rows (and then maybe the DE), and only the
whole-DE kind restarts its period on import. The SOAP handlers answer 310007 with these texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.fields import SimField

SUBSCRIBER_ATTRIBUTES = {"Subscriber Key": "Text", "Email Address": "EmailAddress"}
# What a Create or Update may name, and the system form a Retrieve answers with [C: MCDEV].
ATTRIBUTE_ALIASES = {"_SubscriberKey": "Subscriber Key", "_EmailAddress": "Email Address"}
RETRIEVED_NAME = {"Subscriber Key": "_SubscriberKey", "Email Address": "Email Address"}
RETENTION_UNITS = ("Days", "Weeks", "Months", "Years")
MAX_RETENTION = 999  # [I]


@dataclass
class SendSetup:
    """A DE's "Used for Sending" setting: the DE field and the subscriber attribute it matches."""

    field: str
    attribute: str
    testable: bool = False


@dataclass
class RetentionSetup:
    """`DataRetentionPeriodLength` + `DataRetentionPeriod` and the three retention flags."""

    length: int
    unit: str
    row_based: bool = False
    delete_de: bool = False
    reset_on_import: bool = False

    def describe(self) -> dict[str, object]:
        return {
            "length": self.length,
            "unit": self.unit,
            "rowBased": self.row_based,
            "deleteAtEnd": self.delete_de,
            "resetOnImport": self.reset_on_import,
        }


def attribute_name(text: str | None) -> str | None:
    """The subscriber attribute a request names, in its Create/Update form."""
    if not text:
        return None
    return ATTRIBUTE_ALIASES.get(text, text)


def check_send_setup(fields: Sequence[SimField], setup: SendSetup) -> list[str]:
    """Why SFMC would refuse a DE with `fields` being sendable on `setup`; empty when it may."""
    wanted = SUBSCRIBER_ATTRIBUTES.get(setup.attribute)
    if wanted is None:
        names = " or ".join(SUBSCRIBER_ATTRIBUTES)
        return [f"SendableSubscriberField must be {names}, not {setup.attribute!r}."]
    field = next((f for f in fields if f.name.casefold() == setup.field.casefold()), None)
    if field is None:
        return [f"SendableDataExtensionField {setup.field!r} is not a field of the data extension."]
    problems = []
    if field.field_type != wanted:
        problems.append(
            f"Field {field.name} is {field.field_type}; a relationship on {setup.attribute} "
            f"needs a field of type {wanted}."
        )
    if not (field.is_required or field.is_primary_key):
        problems.append(f"Field {field.name} relates to subscribers, so it must be required.")
    return problems


def check_send_change(current: SendSetup | None, wanted: SendSetup) -> str | None:
    """A sendable DE cannot be related to subscribers on another field or attribute."""
    if current is None:
        return None
    same = (current.field.casefold(), current.attribute) == (
        wanted.field.casefold(),
        wanted.attribute,
    )
    if same:
        return None
    return (
        f"The data extension is sendable on {current.attribute} -> {current.field}; its send "
        "relationship cannot be changed."
    )


def check_retention(setup: RetentionSetup) -> list[str]:
    """Why SFMC would refuse this retention setting; empty when it may."""
    problems = []
    if not 1 <= setup.length <= MAX_RETENTION:
        problems.append(f"DataRetentionPeriodLength must be 1-{MAX_RETENTION}.")
    if setup.unit not in RETENTION_UNITS:
        problems.append(f"DataRetentionPeriod must be one of {', '.join(RETENTION_UNITS)}.")
    if setup.row_based and setup.delete_de:
        problems.append("RowBasedRetention cannot be combined with DeleteAtEndOfRetentionPeriod.")
    if setup.row_based and setup.reset_on_import:
        problems.append("RowBasedRetention cannot be combined with ResetRetentionPeriodOnImport.")
    return problems


def send_setup_of(
    is_sendable: bool | None, is_testable: bool | None, field: str | None, attribute: str | None
) -> tuple[SendSetup | None, list[str]]:
    """The send setting a Create asks for (None: not sendable), and why SFMC would refuse it."""
    if not is_sendable:
        if is_testable:
            return None, [
                "IsTestable needs IsSendable: only a sendable data extension is testable."
            ]
        return None, []
    if not field or not attribute:
        return None, [
            "A sendable data extension needs SendableDataExtensionField and "
            "SendableSubscriberField."
        ]
    return SendSetup(field, attribute, bool(is_testable)), []


def retention_of(sent: dict[str, object]) -> tuple[RetentionSetup | None, list[str]]:
    """The retention a request asks for (None: none; false flags alone ask for none)."""
    if "length" not in sent and "unit" not in sent and not any(sent.values()):
        return None, []
    length, unit = sent.get("length"), sent.get("unit")
    if length is None or unit is None:
        return None, ["Data retention needs DataRetentionPeriodLength and DataRetentionPeriod."]
    setup = RetentionSetup(
        length=int(str(length)),
        unit=str(unit),
        row_based=bool(sent.get("RowBasedRetention")),
        delete_de=bool(sent.get("DeleteAtEndOfRetentionPeriod")),
        reset_on_import=bool(sent.get("ResetRetentionPeriodOnImport")),
    )
    return setup, check_retention(setup)
