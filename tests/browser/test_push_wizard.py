"""Real browser: log in as staff, run the whole push wizard (Back on every step), download the
rejected rows (for spreadsheets and raw).

Starts `streamlit run app.py` in demo mode (fresh data dir, simulator with low latency) and
drives Debian's chromium through Playwright. Screenshots go to a temp dir, and also to
`$PATHWAYS_SCREENSHOTS` when it is set.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from bench.app_process import start_app, stop_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def app_url(tmp_path):
    env = {
        **os.environ,
        "PATHWAYS_DEMO": "1",
        "PATHWAYS_DATA_DIR": str(tmp_path / "data"),
        "PATHWAYS_DEMO_ROWS": "3000",
        "PATHWAYS_SIM_PORT": "0",
        "PATHWAYS_SIM_LATENCY_MS": "2",
        "PATHWAYS_SIM_SOAP_LATENCY_MS": "2",
        "PATHWAYS_SIM_ROWSET_MS": "0",
        "PATHWAYS_SIM_ASYNC_ROWS_PER_S": "1000000",
        "PATHWAYS_SIM_RATE_LIMIT": "0",
    }
    env.pop("DATABASE_URL", None)
    env.pop("PATHWAYS_SECRET_KEY", None)
    log = (tmp_path / "streamlit.log").open("w")
    proc, url = start_app(env, log, timeout=60)
    try:
        yield url
    finally:
        stop_app(proc)
        log.close()
        text = (tmp_path / "streamlit.log").read_text(errors="replace")
        assert "Traceback" not in text, text[-4000:]


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    extra = os.environ.get("PATHWAYS_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy(png, Path(extra) / png.name)


def test_staff_pushes_an_audience_and_downloads_rejected_rows(app_url, shots, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    def idle(page) -> None:
        # Streamlit shows its status widget while a script run is in progress.
        page.wait_for_timeout(300)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=90_000)

    def shot(page, name: str) -> None:
        idle(page)
        page.wait_for_timeout(400)  # let the last delta paint
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    def back(page, heading: str) -> None:
        idle(page)
        page.get_by_role("button", name="Back").click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        idle(page)

    def go(page, title: str) -> None:
        idle(page)
        page.get_by_role("link", name=title).first.click()
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        idle(page)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
        # Generous: the suite runs on 2 busy cores next to other tests.
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.goto(app_url, wait_until="commit")
        try:
            # First start (fresh data dir, cold interpreter): Streamlit must never offer the files
            # of pages/ (helpers such as deps, widgets, wizard) as pages, not even for the instant
            # before app.py declares its menu.
            seen: set[str] = set()
            deadline = time.monotonic() + 90
            while not page.get_by_label("Username").count() and time.monotonic() < deadline:
                seen.update(t.strip().lower() for t in page.locator("a").all_inner_texts())
                page.wait_for_timeout(50)
            helpers = {"app", "deps", "widgets", "wizard", "wizard summary", "destinations"}
            assert not seen & helpers, f"pages/ files offered as pages during startup: {seen}"
            # Login, with the demo users listed on the page.
            page.get_by_label("Username").wait_for(timeout=60_000)
            expect(page.get_by_text("Password for all of them")).to_be_visible()
            shot(page, "01_login")
            page.get_by_label("Username").fill("staff")
            page.get_by_label("Password", exact=True).fill("pathways-demo")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Audiences", exact=True)).to_be_visible()
            expect(page.get_by_role("link", name="Connections")).to_have_count(0)  # admin only
            shot(page, "02_audiences")

            # Upload a small CSV with one broken row: it is imported and the bad line reported.
            upload = tmp_path / "spring_appeal.csv"
            upload.write_text(
                "Email,First Name,Amount\nann@example.org,Ann,12.50\nbob@example.org,Bob\n"
                "carl@example.org,Carl,7\n",
                encoding="utf-8",
            )
            idle(page)
            page.get_by_text("Upload a data set").click()
            page.get_by_label("File", exact=True).locator("input[type=file]").set_input_files(
                str(upload)
            )
            idle(page)
            # The first "Data set name" is the upload's (a database source has its own below).
            expect(page.get_by_label("Data set name").first).to_have_value("spring_appeal")
            page.get_by_role("button", name="Import", exact=True).first.click()
            expect(page.get_by_text(re.compile(r"Imported 2 rows"))).to_be_visible()
            expect(page.get_by_text(re.compile(r"could not be imported")).first).to_be_visible()
            shot(page, "02b_upload_report")

            # Step 1: select audience.
            go(page, "Push Audiences")
            expect(page.get_by_role("heading", name="1. Select audience")).to_be_visible()
            idle(page)
            page.get_by_label("Audience (type to search)").click()
            page.keyboard.type("Monthly")
            page.keyboard.press("Enter")
            shot(page, "03_step1_audience")
            idle(page)
            page.get_by_role("button", name="Next: choose destination").click()

            # Step 2: destination. Back on every step returns to the one before it.
            expect(page.get_by_role("heading", name="2. Choose destination")).to_be_visible()
            shot(page, "04_step2_destination")
            back(page, "1. Select audience")
            page.get_by_role("button", name="Next: choose destination").click()
            expect(page.get_by_role("heading", name="2. Choose destination")).to_be_visible()
            idle(page)
            page.get_by_role("button", name="Next: review pathway").click()

            # Step 3: review (connection verified first); key and folder are on the step.
            expect(page.get_by_text(re.compile(r"Connection .* verified"))).to_be_visible()
            back(page, "2. Choose destination")
            page.get_by_role("button", name="Next: review pathway").click()
            expect(page.get_by_text(re.compile(r"Connection .* verified"))).to_be_visible()
            expect(page.get_by_label("Data Extension name")).to_have_value(
                "Pathways - Monthly givers"
            )
            expect(
                page.get_by_text("Choose the folder the Data Extension goes in.")
            ).to_be_visible()
            category = page.get_by_label("Category (Data Extension folder) — required")
            category.click()
            page.get_by_role("option").first.click()
            idle(page)
            expect(page.get_by_text("Choose the folder the Data Extension goes in.")).to_have_count(
                0
            )
            shot(page, "05_step3_review")
            page.get_by_text("Advanced Settings").click()
            expect(page.get_by_text("Update or Create (recommended)")).to_be_visible()
            page.get_by_role("tab", name="Column Mapping").click()
            shot(page, "06_step3_mapping")
            idle(page)
            page.get_by_role("button", name="Next: summary").click()

            # Step 4: summary (Back and forth keeps the choices), dry run, confirm.
            expect(page.get_by_role("heading", name="4. Summary")).to_be_visible()
            back(page, "3. Review Pathway")
            page.get_by_role("button", name="Next: summary").click()
            expect(page.get_by_role("heading", name="4. Summary")).to_be_visible()
            expect(page.get_by_text("Estimated record count")).to_be_visible()
            idle(page)
            page.get_by_role("button", name="Dry run preview").click()
            expect(page.get_by_text("To create")).to_be_visible(timeout=60_000)
            shot(page, "07_step4_dry_run")
            idle(page)
            page.get_by_role("button", name="Confirm and push").click()
            expect(page.get_by_text("Processing").first).to_be_visible()
            shot(page, "08_processing")
            expect(page.get_by_text(re.compile(r"[\d,]+ written, [\d,]+ rejected"))).to_be_visible(
                timeout=90_000
            )
            expect(page.get_by_text("Partly failed").first).to_be_visible()
            shot(page, "09_finished")

            # Manage Pathways: status, history, rejected rows download.
            go(page, "Manage Pathways")
            expect(page.get_by_text("Sync Status")).to_be_visible()
            shot(page, "10_manage")
            idle(page)
            page.get_by_text("Run history and rejected rows").first.click()
            button = page.get_by_role("button", name="rejected rows for Excel").first
            expect(button).to_be_visible()
            shot(page, "11_history")
            with page.expect_download() as info:
                button.click()
            target = tmp_path / "rejected.csv"
            info.value.save_as(target)
            with page.expect_download() as info:
                page.get_by_role("button", name="rejected rows, raw values").first.click()
            raw_target = tmp_path / "rejected_raw.csv"
            info.value.save_as(raw_target)

            # Log out: back to the sign-in form.
            idle(page)
            page.get_by_role("button", name="Log out").click()
            expect(page.get_by_label("Username")).to_be_visible()
        except Exception:
            page.screenshot(path=str(shots / "zz_failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows, "the rejected-rows file is empty"
    assert {"validationErrorType", "validationErrorDetails", "field", "retryable"} <= set(rows[0])
    assert "email" in rows[0]
    assert all(r["validationErrorType"] for r in rows)
    # Dates the importer read (e.g. "12 Mar 2021") are sent as dates, never refused.
    assert not [r for r in rows if r["validationErrorType"] == "InvalidDate"]
    # Spreadsheet formulas are escaped in every cell of the spreadsheet file; the raw file has
    # the same rows with every value as it was.
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values() if v)
    raw = list(csv.DictReader(io.StringIO(raw_target.read_text(encoding="utf-8-sig"))))
    assert len(raw) == len(rows)
    assert [r["email"] for r in raw] == [r["email"].removeprefix("'") for r in rows]
