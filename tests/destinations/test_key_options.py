"""DE push key options that live in sync.destinations (generated UUID keys)."""

from sfmc.contacts import contact_key_problem
from sync.destinations import GENERATED_KEY_COLUMN, with_generated_keys


def source(after):
    rows = [{"_row": i, "name": f"n{i}"} for i in range(1, 6)]
    return [[r for r in rows if r["_row"] > after]]


def test_generated_keys_are_stable_on_resume_and_new_per_run():
    run1 = [
        r[GENERATED_KEY_COLUMN]
        for c in with_generated_keys(source, namespace="p:1:run:1")(0)
        for r in c
    ]
    resumed = [
        r[GENERATED_KEY_COLUMN]
        for c in with_generated_keys(source, namespace="p:1:run:1")(3)
        for r in c
    ]
    run2 = [
        r[GENERATED_KEY_COLUMN]
        for c in with_generated_keys(source, namespace="p:1:run:2")(0)
        for r in c
    ]
    assert len(set(run1)) == 5
    assert all(len(k) == 36 for k in run1)
    assert resumed == run1[3:]
    assert not set(run1) & set(run2)


def test_contact_key_preflight_messages_say_what_to_fix():
    assert contact_key_problem("D-1") is None
    assert contact_key_problem(" ").error_type == "ContactKeyRequired"
    assert "colon" in contact_key_problem("a:b").error_details
    assert "tab" in contact_key_problem("a\tb").error_details
    assert "trim" in contact_key_problem(" a").error_details
    assert "254" in contact_key_problem("k" * 255).error_details
