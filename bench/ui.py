"""`python -m bench ui`: the dashboard in a real browser: first start, every page, peak memory.

Starts `streamlit run app.py` in demo mode on a fresh data folder (the first start of the demo:
`first_start_seconds` is from the start of the process until the sign-in form shows), signs in
as admin, then opens every page of the menu and times each from the click until the page has
settled (Streamlit's running indicator gone and the page's heading shown): `page_seconds`.
`peak_rss_mb` is the app process's peak resident memory (its `VmHWM`).

With `--pathways/--runs/--rows`, the store is generated before the app starts (a demo store
with a data set of that many rows, pathways and finished runs with rejected rows), so the
pages are timed at that scale; `python -m bench ui --json --rows 1000000 --pathways 300
--runs 30000` is issue 17's size. Without them the demo is timed as a new user meets it; the
smoke test (`tests/test_bench_smoke.py`) runs that with a small demo.

With a scaled store, `live_count_seconds` is from a click on "Add filter" on the Audiences
page until the new count shows, and `dry_run_seconds` from the click on "Dry run preview" on
the Push Audiences wizard's summary of a Mirror pathway (`bench.ui_world`: a 100,000-row
audience at 1M donors, against a DE of as many rows in the app's simulator) until its plan
shows. `dry_run_plan` is the plan the run stored, `dry_run_expected` what the DE was seeded
for. The figure includes the worker's pickup (it is woken by the page) and the wizard's live
progress, which re-reads the run every 0.3 s in its first 15 s (`ui.runs.refresh_every`).

Driven through Debian's chromium (`/usr/bin/chromium`) with Playwright.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import app_process, common

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PASSWORD = "pathways-demo"
SETTLE_MS = 60_000
NAV_LINKS = '[data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]'


def _app_env(data_dir: Path, args: argparse.Namespace, sim_port: int) -> dict[str, str]:
    env = dict(
        os.environ,
        PATHWAYS_DEMO="1",
        PATHWAYS_DATA_DIR=str(data_dir),
        PATHWAYS_SIM_PORT=str(sim_port),
    )
    env.pop("DATABASE_URL", None)
    env.pop("PATHWAYS_SECRET_KEY", None)
    if args.demo_rows is not None:
        env["PATHWAYS_DEMO_ROWS"] = str(args.demo_rows)
    return env


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _settle(page: Any) -> None:
    """Wait until Streamlit has finished the script run the last action started."""
    page.wait_for_timeout(50)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=SETTLE_MS)


def _sign_in(page: Any, url: str, started: float) -> float:
    """Open the app, wait for the sign-in form (seconds since `started`), sign in as admin."""
    page.goto(url)
    page.get_by_label("Username").wait_for(timeout=SETTLE_MS * 2)
    first_start = time.monotonic() - started
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Username").wait_for(state="hidden", timeout=SETTLE_MS)
    _settle(page)
    return first_start


def _time_pages(page: Any) -> dict[str, float]:
    """Seconds from the click on each menu entry until its page has settled."""
    links = page.locator(NAV_LINKS)
    titles = [t.split("\n")[-1].strip() for t in links.all_inner_texts()]
    seconds: dict[str, float] = {}
    for title in titles[1:] + titles[:1]:  # the page shown after sign-in last, so it is a change
        started = time.monotonic()
        links.filter(has_text=title).first.click()
        page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=SETTLE_MS)
        _settle(page)
        seconds[title] = round(time.monotonic() - started, 2)
    return seconds


def _live_count(page: Any) -> float:
    """Seconds from adding a filter on the Audiences page until the new count shows."""
    page.locator(NAV_LINKS).filter(has_text="Audiences").first.click()
    page.get_by_role("heading", name="Audiences", exact=True).first.wait_for(timeout=SETTLE_MS)
    _settle(page)
    metric = page.get_by_test_id("stMetricValue").first
    metric.wait_for(timeout=SETTLE_MS)
    before = metric.inner_text()
    page.get_by_role("textbox", name="Value").fill("00000001")  # the first column: the donor id
    started = time.monotonic()
    page.get_by_role("button", name="Add filter").click()
    while metric.inner_text() == before:
        if time.monotonic() - started > SETTLE_MS / 1000:
            msg = "the count did not change within a minute"
            raise RuntimeError(msg)
        page.wait_for_timeout(10)
    return round(time.monotonic() - started, 2)


def _wizard_to_summary(page: Any, audience: str) -> None:
    """Push Audiences: pick `audience`, the first connection, its saved pathway: step 4."""
    page.locator(NAV_LINKS).filter(has_text="Push Audiences").first.click()
    page.get_by_role("heading", name="1. Select audience").wait_for(timeout=SETTLE_MS)
    _settle(page)
    page.get_by_label("Audience (type to search)").click()
    page.keyboard.type(audience)
    page.keyboard.press("Enter")
    _settle(page)
    for button in ("Next: choose destination", "Next: review pathway", "Next: summary"):
        page.get_by_role("button", name=button).wait_for(timeout=SETTLE_MS)
        _settle(page)
        page.get_by_role("button", name=button).click()
    page.get_by_role("heading", name="4. Summary").wait_for(timeout=SETTLE_MS)
    _settle(page)


def _dry_run(page: Any, sim_url: str) -> dict[str, Any]:
    """Seconds from the click on "Dry run preview" until the plan shows; the plans."""
    from bench import ui_world

    expected = ui_world.seed_dry_run_de(sim_url)
    _wizard_to_summary(page, ui_world.DRY_RUN_AUDIENCE)
    started = time.monotonic()
    page.get_by_role("button", name="Dry run preview").click()
    done = page.get_by_text("Dry run finished").or_(page.get_by_text("The dry run failed"))
    done.first.wait_for(timeout=SETTLE_MS * 10)
    seconds = round(time.monotonic() - started, 2)
    if page.get_by_text("The dry run failed").count():
        msg = "the dry run failed: " + page.get_by_text("The dry run failed").first.inner_text()
        raise RuntimeError(msg)
    return {
        "dry_run_seconds": seconds,
        "dry_run_plan": ui_world.last_dry_run_plan(),
        "dry_run_expected": expected,
    }


def _drive(url: str, started: float, *, pages: bool, live: bool, sim_url: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            figures: dict[str, Any] = {"start_seconds": round(_sign_in(page, url, started), 2)}
            if pages:
                figures["page_seconds"] = _time_pages(page)
            if live:
                figures["live_count_seconds"] = _live_count(page)
                figures |= _dry_run(page, sim_url)
            return figures
        finally:
            browser.close()


def _run_app(
    data_dir: Path, args: argparse.Namespace, *, pages: bool, live: bool
) -> dict[str, Any]:
    """Start the app on `data_dir`, drive it, stop it; fail on a traceback in its log."""
    log_path = data_dir.parent / f"{data_dir.name}.log"
    with log_path.open("w") as log:
        sim_port = app_process.free_port() if live else 0  # the bench seeds the dry run's DE there
        started = time.monotonic()
        proc, url = app_process.start_app(_app_env(data_dir, args, sim_port), log)
        try:
            sim_url = f"http://127.0.0.1:{sim_port}"
            figures = _drive(url, started, pages=pages, live=live, sim_url=sim_url)
            figures["peak_rss_mb"] = _peak_rss_mb(proc.pid)
        finally:
            app_process.stop_app(proc)
    text = log_path.read_text(errors="replace")
    if "Traceback" in text:
        print(text[-4000:], file=sys.stderr)
        msg = "the app logged a traceback (above)"
        raise RuntimeError(msg)
    return figures


def _main(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()[0]
    at_scale = bool(args.rows or args.pathways or args.runs)
    with tempfile.TemporaryDirectory(prefix="pathways-bench-ui-") as tmp:
        fresh = _run_app(Path(tmp) / "fresh", args, pages=not at_scale, live=False)
        result: dict[str, Any] = {"first_start_seconds": fresh.pop("start_seconds"), **fresh}
        if at_scale:
            from bench import ui_world

            world = Path(tmp) / "world"
            result["world"] = {
                "rows": args.rows or 50_000, "pathways": args.pathways, "runs": args.runs,
                **ui_world.build(
                    world, rows=args.rows or 50_000, pathways=args.pathways, runs=args.runs
                ),
            }  # fmt: skip
            scaled = _run_app(world, args, pages=True, live=True)
            result.update(page_seconds=scaled["page_seconds"], peak_rss_mb=scaled["peak_rss_mb"])
            for name in ("live_count_seconds", "dry_run_seconds", "dry_run_plan"):
                result[name] = scaled[name]
            result["dry_run_expected"] = scaled["dry_run_expected"]
    result |= {
        "demo_rows": args.demo_rows,
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **common.machine(),
    }
    human = [f"first start (to the sign-in form): {result['first_start_seconds']:.1f} s"]
    human += [f"  {title}: {s:.2f} s" for title, s in result["page_seconds"].items()]
    if "live_count_seconds" in result:
        human.append(f"live count after a filter change: {result['live_count_seconds']:.2f} s")
        human.append(f"Mirror dry run: {result['dry_run_seconds']:.2f} s, {result['dry_run_plan']}")
    human.append(f"peak RSS of the app: {result['peak_rss_mb']:.0f} MB")
    common.emit(result, args.json, human)
    return 0


def register(subparsers: Any) -> None:
    """Add `ui` to `python -m bench`."""
    parser = subparsers.add_parser("ui", help="the dashboard in chromium: first start, pages")
    parser.add_argument(
        "--demo-rows", type=int, default=None, help="demo donors (default: the demo's 50,000)"
    )
    parser.add_argument("--rows", type=int, default=0, help="donors of the scaled store")
    parser.add_argument("--pathways", type=int, default=0, help="pathways of the scaled store")
    parser.add_argument("--runs", type=int, default=0, help="finished runs of the scaled store")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(func=_main)
