"""The wizard's DE key input is validated by its use case before a pathway can be saved.

Issue 21 item 7: keys went into REST paths as typed. They are encoded now (`sfmc.transport`);
keys SFMC cannot address at all are refused where the user types them.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ui import pathways as upath


def _choice(de_key: str) -> upath.DataExtensionChoice:
    mapping = pd.DataFrame(
        [
            {
                "Source column": "email",
                "Destination field": "Email",
                "Type": "EmailAddress",
                "Length": None,
                "Required": False,
            }
        ]
    )
    return upath.DataExtensionChoice(
        method="upsert",
        de_name="AVID - X",
        de_key=de_key,
        primary_keys=["email"],
        category_id=5,
        category_path="F",
        guard_pct=50,
        mapping=mapping,
    )


@pytest.mark.parametrize("key", ["", "k" * 37, "a\nb"])
def test_unusable_keys_stop_the_wizard(key):
    _, problems = upath.data_extension_settings(_choice(key))
    assert problems
    assert "external key" in problems[0]


@pytest.mark.parametrize("key", ["avid_x", " odd key#1 ", "x?ignored=1#"])
def test_usable_keys_pass_stripped(key):
    settings, problems = upath.data_extension_settings(_choice(key))
    assert problems == []
    assert settings["de_key"] == key.strip()
