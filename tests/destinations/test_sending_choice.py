"""The wizard's sending choice (ui.sending) and the options JSON the engine reads (sync.sending).

No Streamlit, no SFMC: the suggestion, the default, the rules the wizard shares with the engine.
"""

import pytest

from sfmc.types import EMAIL_ADDRESS, SUBSCRIBER_KEY, DataExtension, DeField, Retention, Sending
from sync import sending as rules
from sync.types import SetupError
from ui import sending as usend


def _row(source, dest, field_type="Text", *, pk=False, required=False):
    return {
        "source_column": source,
        "destination_field": dest,
        "field_type": field_type,
        "length": 254 if field_type == "EmailAddress" else 50,
        "precision": None,
        "scale": None,
        "required": required or pk,
        "is_primary_key": pk,
    }


EMAIL_ROWS = [_row("donor_id", "Donor Id"), _row("email", "Email", "EmailAddress")]
KEY_ROWS = [_row("donor_id", "Donor Id"), _row("name", "Name")]
EMAIL_COLUMNS = [{"name": "email", "type": "email"}, {"name": "donor_id", "type": "text"}]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (EMAIL_ROWS, ("Email", EMAIL_ADDRESS)),
        (KEY_ROWS, ("Donor Id", SUBSCRIBER_KEY)),
        ([_row("x", "Code", pk=True), _row("n", "Note")], ("Code", SUBSCRIBER_KEY)),
        ([_row("n", "Amount", "Decimal")], (None, EMAIL_ADDRESS)),
    ],
)
def test_the_relationship_is_suggested_from_the_mapping(rows, expected):
    assert usend.suggest(rows) == expected


def test_on_by_default_only_with_an_email_column():
    assert usend.initial_choice(None, EMAIL_COLUMNS, EMAIL_ROWS).used_for_sending
    off = usend.initial_choice(None, [{"name": "donor_id", "type": "text"}], KEY_ROWS)
    assert (off.used_for_sending, off.field, off.relates_to) == (False, "Donor Id", SUBSCRIBER_KEY)


def test_a_saved_choice_comes_back_as_saved():
    options, _, problems = usend.apply(
        usend.SendChoice(True, "Email", EMAIL_ADDRESS, True, True, 2, "Weeks", "de"), EMAIL_ROWS
    )
    assert problems == []
    again = usend.initial_choice(options, EMAIL_COLUMNS, EMAIL_ROWS)
    assert again == usend.SendChoice(True, "Email", EMAIL_ADDRESS, True, True, 2, "Weeks", "de")
    assert rules.retention_from_options(options) == Retention(2, "Weeks", delete_de=True)
    turned_off, _, _ = usend.apply(usend.SendChoice(False, "Email"), EMAIL_ROWS)
    assert usend.initial_choice(turned_off, EMAIL_COLUMNS, EMAIL_ROWS).used_for_sending is False


def test_apply_makes_the_relationship_field_required():
    options, rows, problems = usend.apply(usend.SendChoice(True, "Email"), EMAIL_ROWS)
    assert problems == []
    assert [r["required"] for r in rows] == [False, True]
    assert rules.sending_from_options(options) == Sending("Email", EMAIL_ADDRESS)
    assert usend.sending_text(options) == "Sendable on Email Address → Email"


@pytest.mark.parametrize(
    ("choice", "fix"),
    [
        (usend.SendChoice(True, "Email", SUBSCRIBER_KEY), "needs a field of type Text"),
        (usend.SendChoice(True, "Donor Id", EMAIL_ADDRESS), "needs a field of type EmailAddress"),
        (usend.SendChoice(True, None), "(none chosen)"),
        (usend.SendChoice(retention=True, length=0), "1-999"),
    ],
)
def test_the_wizard_and_the_engine_refuse_the_same(choice, fix):
    options, rows, problems = usend.apply(choice, EMAIL_ROWS)
    assert any(fix in p for p in problems), problems
    fields = [DeField(r["destination_field"], r["field_type"], is_required=r["required"])
              for r in rows]  # fmt: skip
    with pytest.raises(SetupError, match=fix.replace("(", r"\(").replace(")", r"\)")):
        rules.check_settings(
            fields, rules.sending_from_options(options), rules.retention_from_options(options)
        )


def test_reset_on_import_is_dropped_for_row_retention():
    kept = usend.SendChoice(retention=True, scope="rows", reset_on_import=True).kept()
    assert kept == Retention(6, "Months", row_based=True)
    assert usend.retention_text({"retention": rules.retention_options(kept)}) == (
        "Rows deleted after 6 months"
    )


def test_shared_de_warning_only_when_not_sendable():
    plain = DataExtension("Gala <b>", "gala")
    assert "is not sendable" in usend.not_sendable_warning(plain)
    assert "\\<b" in usend.not_sendable_warning(plain)  # the name is escaped Markdown
    sendable = DataExtension("All", "all", sending=Sending("SubscriberKey", SUBSCRIBER_KEY))
    assert usend.not_sendable_warning(sendable) is None
