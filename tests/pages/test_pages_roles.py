"""Every page renders for the roles that may use it and refuses the others (AppTest)."""

from __future__ import annotations

import pytest

from tests.pages.conftest import PAGES, ROLES, page_app

CASES = [(title, role) for title in PAGES for role in ROLES]
# What each page says on an empty store instead of showing an empty table.
EMPTY_HINTS = {
    "Connections": "No connections yet. Add your first Marketing Cloud connection below.",
    "Audiences": "No data sets yet. Upload a CSV or Excel file above to start.",
    "Push Audiences": "No audiences yet.",
    "Column Mapping": "No pathways yet.",
    "Manage Pathways": "No pathways yet.",
}


@pytest.mark.parametrize(("title", "role"), CASES, ids=[f"{t}-{r}" for t, r in CASES])
def test_page_role_limits_on_empty_store(store_env, title, role):
    path, allowed = PAGES[title]
    at = page_app(path, role).run()
    assert not at.exception, at.exception
    refusals = [e.value for e in at.error if "needs the" in e.value]
    if role in allowed:
        assert not refusals
        assert [t.value for t in at.title] == [title]
        # An empty store says what to do next instead of showing an empty table.
        assert at.info, f"{title} shows no empty-state hint for {role}"
        assert any(i.value.startswith(EMPTY_HINTS[title]) for i in at.info), [
            i.value for i in at.info
        ]
    else:
        assert refusals, f"{role} was not refused on {title}"
        assert not at.title
        assert not at.button
        assert not at.dataframe


@pytest.mark.parametrize("title", list(PAGES))
def test_page_refuses_anonymous_visitor(store_env, title):
    path, _allowed = PAGES[title]
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import ROOT

    at = AppTest.from_file(str(ROOT / path), default_timeout=20).run()
    assert not at.exception
    assert any("log in" in e.value for e in at.error)
    assert not at.title
