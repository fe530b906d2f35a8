"""One test decides whether SFMC's words mean "this package lacks a permission".

SOAP faults, SOAP request errors and per-object results all go through
`sfmc.responses.is_privilege_refusal`; before, three word lists differed, so one refusal could
become kind `scope` on one path and `refused` on another.
"""

import pytest

from sfmc.responses import is_privilege_refusal
from tests.sfmc import fixtures as fx


@pytest.mark.parametrize(
    "text",
    [
        "Insufficient Privileges: the token lacks the saved_content_read scope.",
        fx.INSUFFICIENT["message"],
        "You do not have permission to perform this action.",
        "User is not authorized to perform this action.",
        "Unauthorized",
    ],
)
def test_privilege_words_are_refusals(text):
    assert is_privilege_refusal(text)


@pytest.mark.parametrize(
    "text", ["Rate Limited", "Token Expired", "Data Extension not found", "Invalid field Foo"]
)
def test_other_refusals_are_not_privilege_problems(text):
    assert not is_privilege_refusal(text)
