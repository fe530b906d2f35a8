"""Real browser: upload a data set, then a new version of it matched on a key column, and see
what changed (issue 14). Same app start as `test_push_wizard.py` (demo mode, Debian chromium)."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_push_wizard import CHROMIUM, CHROMIUM_ARGS, app_url, shots  # noqa: F401

pytestmark = pytest.mark.browser


def test_staff_uploads_a_new_version_and_sees_what_changed(app_url, shots, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    def idle(page) -> None:
        page.wait_for_timeout(300)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=90_000)

    v1 = tmp_path / "supporters.csv"
    v1.write_text("id,email,tier\n1,a@x.org,in\n2,b@x.org,in\n3,c@x.org,in\n", encoding="utf-8")
    v2 = tmp_path / "supporters_week2.csv"
    v2.write_text(
        "id,email,tier\n1,a@x.org,in\n2,b.new@x.org,in\n4,d@x.org,in\n5,e@x.org\n",
        encoding="utf-8",
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        try:
            page.goto(app_url)
            page.get_by_label("Username").wait_for(timeout=90_000)
            page.get_by_label("Username").fill("staff")
            page.get_by_label("Password", exact=True).fill("pathways-demo")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Audiences", exact=True)).to_be_visible()
            idle(page)
            page.get_by_text("Upload a data set").click()
            page.get_by_label("File", exact=True).locator("input[type=file]").set_input_files(
                str(v1)
            )
            idle(page)
            page.get_by_role("button", name="Import", exact=True).first.click()
            expect(page.get_by_text(re.compile(r"Imported 3 rows"))).to_be_visible()
            idle(page)

            page.get_by_text("Upload a new version").click()
            idle(page)
            page.get_by_label("New version (CSV or Excel)").locator(
                "input[type=file]"
            ).set_input_files(str(v2))
            idle(page)
            keys = page.locator('[data-testid="stMultiSelect"]').filter(
                has_text="Key column(s) that identify a row"
            )
            keys.locator("input").click()
            page.get_by_role("option", name="id", exact=True).click()
            page.keyboard.press("Escape")
            idle(page)
            page.get_by_role("button", name="Upload new version").click()
            expect(
                page.get_by_text(
                    re.compile(r"is now version 2: \+1 new · 1 changed · 1 removed \(3 rows\)")
                )
            ).to_be_visible()
            expect(page.get_by_text(re.compile(r"could not be imported")).first).to_be_visible()
            idle(page)
            page.get_by_role("tab", name="Versions").click()
            idle(page)
            page.screenshot(path=str(shots / "r1_new_version.png"), full_page=True)
            expect(page.get_by_text("supporters_week2.csv").first).to_be_visible()
        finally:
            browser.close()
