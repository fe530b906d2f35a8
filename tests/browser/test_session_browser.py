"""Real browser: the sign-in survives a reload, bookmarked page URLs open, other roles are told.

Reuses the demo app of `test_push_wizard` (fresh data dir, fast simulator). Screenshots go to a
temp dir, and also to `$PATHWAYS_SCREENSHOTS` when it is set.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.browser.test_push_wizard import CHROMIUM, CHROMIUM_ARGS, app_url, shots  # noqa: F401

pytestmark = pytest.mark.browser

COOKIE = "pathways_demo_auth"


def test_reload_and_bookmarks_keep_the_session(app_url, shots):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    def idle(page) -> None:
        page.wait_for_timeout(300)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=90_000)

    def shot(page, name: str) -> None:
        idle(page)
        page.wait_for_timeout(400)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    def sign_in(page, username: str) -> None:
        page.get_by_label("Username").wait_for(timeout=90_000)  # the first start builds the demo
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password", exact=True).fill("pathways-demo")
        page.get_by_role("button", name="Sign in").click()

    def cookie_of(context) -> str | None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = [c for c in context.cookies() if c["name"] == COOKIE]
            if found:
                return found[0]["value"]
            time.sleep(0.2)
        return None

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        context.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page = context.new_page()
        try:
            # A bookmarked page while signed out: the sign-in form, at the same URL...
            page.goto(app_url + "manage_pathways", wait_until="commit")
            sign_in(page, "staff")  # whose home page is Audiences
            # ...and that page right after signing in.
            expect(page.get_by_role("heading", name="Manage Pathways", exact=True)).to_be_visible()
            assert page.url.endswith("/manage_pathways")
            assert cookie_of(context), "the sign-in cookie was never written"
            shot(page, "session_01_bookmark_after_sign_in")

            # A reload keeps the session (the cookie signs the new session in).
            page.reload(wait_until="commit")
            expect(page.get_by_role("heading", name="Manage Pathways", exact=True)).to_be_visible()
            expect(page.get_by_label("Username")).to_have_count(0)

            # A page of another role, by URL: a clear refusal that names the role needed.
            page.goto(app_url + "connections", wait_until="commit")
            expect(page.get_by_text("This page needs the admin role")).to_be_visible()
            expect(page.get_by_text("you are signed in as staff")).to_be_visible()
            expect(page.get_by_role("link", name="Connections")).to_have_count(0)
            shot(page, "session_02_wrong_role")

            # A bookmarked page with a valid cookie opens directly, in a new tab.
            other = context.new_page()
            other.goto(app_url + "manage_pathways", wait_until="commit")
            expect(other.get_by_role("heading", name="Manage Pathways", exact=True)).to_be_visible()
            expect(other.get_by_label("Username")).to_have_count(0)
            other.close()

            # Log out ends it: the cookie goes, a reload shows the sign-in form.
            idle(page)
            page.get_by_role("button", name="Log out").click()
            page.get_by_label("Username").wait_for()
            deadline = time.monotonic() + 30
            while any(c["name"] == COOKIE for c in context.cookies()):
                assert time.monotonic() < deadline, "Log out left the sign-in cookie"
                time.sleep(0.2)
            page.reload(wait_until="commit")
            page.get_by_label("Username").wait_for()
            shot(page, "session_03_after_log_out")

            # An admin finds these sign-ins in the Audit log, and can download them.
            sign_in(page, "admin")
            expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
            idle(page)
            page.get_by_role("link", name="Audit log").click()
            expect(page.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()
            expect(page.get_by_text("Events 1–")).to_be_visible()
            grid = page.locator('[data-testid="stDataFrame"]')
            expect(grid).to_be_visible()
            with page.expect_download() as download:
                page.get_by_role("button", name=re.compile("Download these")).click()
            text = Path(download.value.path()).read_text(encoding="utf-8")
            assert "staff,sign in,with password" in text
            assert "admin,sign in,with password" in text
            shot(page, "session_04_audit_log")
        except Exception:
            shot(page, "session_failure")
            raise
        finally:
            browser.close()
