"""Stored Markdown injection (issue 21 item 4): hostile names never become links or images.

A name such as `![a](http://host/aud.png) [Re-login here](javascript:alert(1))`, typed by one
role or coming from SFMC (folder paths, DE names), made another role's page fetch images from an
outside host. Every value from users or SFMC is escaped before it reaches Markdown
(`ui.text.md`, `ui.text.code`). Here a demo store is seeded with hostile names for every kind of
value, every page is rendered for every role (the wizard step by step), and every Markdown body
Streamlit was given is parsed: no image, link, HTML tag or bare-URL autolink may come from the
hostile text. Then Manage Pathways, the page of the audit, in a real browser: no request reaches
the host the hostile names point at.
"""

from __future__ import annotations

import http.server
import io
import re
import string
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from sfmc.types import ConnectionReport, ScopeCheck
from tests.browser.test_push_wizard import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_push_wizard import app_url as app_url  # fixture: demo app, real browser
from tests.browser.test_push_wizard import shots as shots  # fixture: screenshot folder
from tests.pages.conftest import PAGES, ROLES, page_app
from tests.pages.conftest import demo_env as demo_env  # the demo store and simulator (fixture)
from ui.text import code, md

EVIL = "http://127.0.0.1:9/"
AUDIENCE = f"![a]({EVIL}aud.png) [Re-login here](javascript:alert(1))"
DATASET = f"![d]({EVIL}ds.png) <img src={EVIL}ds2.png> www.evil.example"
CONNECTION = f"[Conn]({EVIL}conn) ![c]({EVIL}conn.png)"
DE_NAME = f"![n]({EVIL}de.png) **DE**"
DE_KEY = f"k`![k]({EVIL}key.png)`"
FOLDER = f"![f]({EVIL}folder.png)"
HEADER = f"![h]({EVIL}col.png)"
FILTER_VALUE = f"`![v]({EVIL}filter.png)`"
ERROR = f"Failed: ![e]({EVIL}err.png) [fix]({EVIL}phish) me@evil.example"
ERROR_TYPE = f"![t]({EVIL}type.png)"
SCOPE = f"![s]({EVIL}scope.png)"
HOSTILE = (AUDIENCE, DATASET, CONNECTION, DE_NAME, DE_KEY, FOLDER, HEADER, ERROR, ERROR_TYPE)

# Proto string fields that Streamlit renders as Markdown (labels, bodies, help, progress text);
# radio options too. Selectbox options, text inputs and table cells are plain text.
_MARKDOWN_FIELDS = frozenset({"body", "label", "help", "text", "title"})
_RADIO_FIELDS = frozenset({"options", "captions"})
_PUNCT = frozenset(string.punctuation)
# GitHub's bare-URL and e-mail autolinks, as Streamlit's Markdown makes them: after "http://" or
# "www.", a letter, digit, "-", "_" or any non-ASCII character that is not a space starts a domain
# (so a word joiner there does not stop the link; one inside "http://" does).
_BARE_URL = re.compile(r"(?<![^\W_])(https?://|www\.)(?:[\w-]|[^\x00-\x7f\s])", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![^\W_])[-.\w+]+@[-\w]+(?:\.[-\w]+)+")


def _chars(body: str) -> list[tuple[str, bool]]:
    """The characters of a Markdown body outside code spans, each with "was it escaped"."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] in _PUNCT:
            out.append((body[i + 1], True))
            i += 2
        elif char == "`":
            run = len(re.match(r"`+", body[i:]).group())
            close = re.compile(rf"(?<!`)`{{{run}}}(?!`)").search(body, i + run)
            if close:  # a code span: shown literally
                out.append((" ", True))
                i = close.end()
            else:
                out.extend(("`", True) for _ in range(run))
                i += run
        else:
            out.append((char, False))
            i += 1
    return out


def markdown_problems(body: str) -> list[str]:
    """Links, images, HTML and autolinks that Markdown would make of `body` (empty = none)."""
    chars = _chars(body)
    found = []
    for (a, a_esc), (b, b_esc) in zip(chars, chars[1:], strict=False):
        pair = a + b
        if not a_esc and not b_esc and pair in ("![", "](", "]["):
            found.append(f"{pair!r} starts a link or image")
        if a == "<" and not a_esc and (b.isalpha() or b in "/!?"):
            found.append("'<' starts HTML or an autolink")
    text = "".join(c for c, _ in chars)
    found += [f"bare URL {m.group()!r} is autolinked" for m in _BARE_URL.finditer(text)]
    found += [f"e-mail {m.group()!r} is autolinked" for m in _EMAIL.finditer(text)]
    return found


def markdown_bodies(at: Any) -> list[str]:
    """Every string of the rendered page that Streamlit interprets as Markdown."""
    bodies: list[str] = []

    def visit(msg: Any, kind: str) -> None:
        for field, value in msg.ListFields():
            values = value if field.is_repeated else [value]
            if field.type == field.TYPE_MESSAGE:
                for item in values:
                    visit(item, kind)
            elif field.type == field.TYPE_STRING and (
                field.name in _MARKDOWN_FIELDS or (kind == "radio" and field.name in _RADIO_FIELDS)
            ):
                bodies.extend(values)

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            visit(proto, getattr(node, "type", ""))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    bodies += [t.value for t in at.toast]
    return bodies


def assert_no_links(at: Any, where: str) -> list[str]:
    assert not at.exception, at.exception
    bodies = markdown_bodies(at)
    bad = {body: markdown_problems(body) for body in bodies}
    bad = {body: p for body, p in bad.items() if p}
    assert not bad, f"{where}: {bad}"
    return bodies


# --- the escaping functions themselves ----------------------------------------------------------


@pytest.mark.parametrize("value", [*HOSTILE, FILTER_VALUE, "x]]>`<a href=y>", "a\n\n# b"])
def test_md_and_code_leave_no_link_image_or_html(value):
    assert markdown_problems(f"**{md(value)}**  \n{md(value)}") == []
    assert markdown_problems(f"{code(value)} · {code(value)}") == []
    assert "\n" not in md(value) + code(value)


def test_normal_names_keep_their_text():
    for name in ("Monthly givers", "avid_roles_test", "Spring appeal (2024)", "O'Brien, J."):
        assert md(name) == name
    assert md("_x_") == "\\_x\\_"  # would be italics
    assert md("1. Foo") == "1\\. Foo"  # would be a numbered list
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"


# --- every page, every role, with hostile names in the store ------------------------------------


@pytest.fixture
def demo_dir(tmp_path):
    return tmp_path / "demo"


@pytest.fixture
def seeded(request):
    """The demo workspace (built by a first page run), then the hostile values (`_seed`)."""
    request.getfixturevalue("demo_env")
    page_app("pages/manage_pathways.py", "analyst", timeout=60).run()
    return _seed()


def _seed() -> dict[str, Any]:
    """Hostile names everywhere: data set, columns, audience, connection, pathway, runs, SFMC."""
    from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from store.audiences import create_audience
    from store.connections import create_connection, list_connections
    from store.models import RejectedRow, SyncRun
    from store.pathways import create_pathway
    from ui import audiences as uaud
    from ui import state as deps

    engine = deps.get_engine()
    sim = deps.get_simulator()
    folder = sim.state.add_folder(FOLDER, sim.state.root_folder_id)
    csv = f"email,{HEADER},note\na@example.org,=1+1,{AUDIENCE}\nb@example.org,@SUM(1),-2\n"
    report = uaud.import_dataset(
        engine, io.BytesIO(csv.encode()), name=DATASET, filename="evil.csv", who="test"
    )
    with Session(engine) as session:
        demo_conn = list_connections(session=session)[0]
        conn = create_connection(
            CONNECTION,
            demo_conn.auth_base_uri,
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            allow_modeled=True,
            session=session,
        )
        aud = create_audience(
            AUDIENCE,
            report["dataset_id"],
            [{"column": "note", "op": "not_contains", "value": FILTER_VALUE}],
            session=session,
        )
        pathway = create_pathway(
            aud.id,
            conn.id,
            DE_NAME,
            DE_KEY,
            category_id=folder.id + 1000,
            category_path=f"Data Extensions / {FOLDER}",
            primary_keys=["email"],
            session=session,
        )
        failed = SyncRun(
            pathway_id=pathway.id,
            state="failed",
            error=ERROR,
            message=ERROR,
            error_kind="folder_missing",
            rows_failed=1,
        )
        dry = SyncRun(
            pathway_id=pathway.id,
            state="succeeded",
            dry_run=True,
            plan={
                "create": 1,
                "reject": 1,
                "notes": [ERROR],
                "first_rejects": [{"error_type": ERROR_TYPE, "details": ERROR}],
            },
        )
        session.add_all([failed, dry])
        session.commit()
        session.add(RejectedRow(run_id=failed.id, row_values={"email": AUDIENCE},
                                error_type=ERROR_TYPE, error_details=ERROR))  # fmt: skip
        session.commit()
        ids = {"audience": aud.id, "connection": conn.id, "pathway": pathway.id}
        ids |= {"failed": failed.id, "dry": dry.id}
    return {**ids, "report": report}


def _hostile_session(at: Any, seeded: dict[str, Any]) -> Any:
    """Session values other roles' actions leave behind: an import report, filters, a report."""
    at.session_state["aud_import_report"] = seeded["report"] | {"notes": [HEADER, ERROR]}
    at.session_state["aud_filters"] = [
        {"column": "note", "op": "contains", "value": FILTER_VALUE},
        {"column": HEADER, "op": "contains", "value": "x"},  # unknown column: an error message
    ]
    at.session_state["mapping_pathway_id"] = seeded["pathway"]
    at.session_state["conn_report"] = (
        seeded["connection"],
        ConnectionReport(
            ok=False,
            reason=ERROR,
            fix=ERROR,
            auth_url=f"{EVIL}`![u]({EVIL}url.png)`",
            scopes=(ScopeCheck(SCOPE, False, SCOPE, ERROR),),
        ),
    )
    return at


CASES = [(title, role) for title in PAGES for role in ROLES]


@pytest.mark.parametrize(("title", "role"), CASES, ids=[f"{t}-{r}" for t, r in CASES])
def test_every_page_escapes_hostile_names(seeded, title, role):
    path, allowed = PAGES[title]
    at = _hostile_session(page_app(path, role, timeout=60), seeded).run()
    bodies = assert_no_links(at, f"{title} as {role}")
    if role not in allowed or title == "Push Audiences":  # step 1 names only in plain text
        return
    shown = " ".join(bodies)
    rendered = [v for v in HOSTILE if md(v) in shown or code(v) in shown]
    assert rendered, f"{title}: the hostile names were not rendered"
    if title == "Manage Pathways":  # the audit's page: names, key, SFMC folder, run error
        for value in (md(AUDIENCE), md(DE_NAME), code(DE_KEY), md(FOLDER), md(ERROR)):
            assert value in shown, value
        assert md(ERROR_TYPE) in shown  # the rejected rows' SFMC error types


def test_connections_page_actions_escape_hostile_names(seeded):
    at = _hostile_session(page_app("pages/connections.py", "admin", timeout=60), seeded).run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Name"].input(CONNECTION)  # taken: the problem quotes the name
    inputs["Auth Base URI"].input("https://mc0123456789abcd.auth.marketingcloudapis.com/")
    inputs["Client ID"].input("abc")
    inputs["Client Secret"].input("s3cret-value")
    at = next(b for b in at.button if b.label == "Save connection").click().run()
    bodies = assert_no_links(at, "Connections after a save")
    assert any("exists" in b and "Conn" in b for b in bodies), bodies
    at = next(b for b in at.button if b.key == f"conn_del_{seeded['connection']}").click().run()
    assert_no_links(at, "Connections delete dialog")


def test_push_wizard_escapes_hostile_names_from_users_and_sfmc(seeded):
    from store.connections import list_connections
    from store.pathways import update_pathway
    from ui import state as deps

    with deps.session() as session:  # a new pathway: the folder path comes from the simulator
        demo_conn = list_connections(session=session)[0]
        update_pathway(seeded["pathway"], connection_id=demo_conn.id, session=session)
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    box = at.selectbox[0]
    box.select_index(next(i for i, o in enumerate(box.options) if o.startswith(AUDIENCE))).run()
    assert_no_links(at, "wizard step 1")
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    radio = at.radio[0]
    radio.set_value(seeded["connection"]).run()
    assert_no_links(at, "wizard step 2")
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    bodies = assert_no_links(at, "wizard step 3")
    assert at.session_state["push_step"] == 3, bodies
    assert any(md(CONNECTION) in b for b in bodies), bodies  # "Connection … verified"
    category = next(s for s in at.selectbox if s.label.startswith("Category"))
    category.select_index(next(i for i, o in enumerate(category.options) if FOLDER in o))
    name = next(t for t in at.text_input if t.label == "Data Extension name")
    name.input("AVID hostile test")
    next(b for b in at.button if b.label == "Next: summary").click().run()
    bodies = assert_no_links(at, "wizard step 4")
    assert at.session_state["push_step"] == 4, bodies
    assert any(md(FOLDER) in b for b in bodies), "the SFMC folder path is not on the summary"
    at.session_state["push_dry_run_id"] = seeded["dry"]
    at.session_state["push_run_id"] = seeded["failed"]
    at.run()
    bodies = assert_no_links(at, "wizard step 4 with runs")
    assert any(md(ERROR) in b for b in bodies), "the failed run's error is not shown"


# --- the real page in a browser: no request to the hostile host ------------------------------


class _Listener(http.server.ThreadingHTTPServer):
    """The outside host of the hostile names: counts every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def _seed_store(db: Path, port: int) -> None:
    """The hostile pathway of `_seed`, written into the running app's store, aimed at `port`."""
    from store.audiences import create_audience
    from store.connections import list_connections
    from store.datasets import list_datasets
    from store.db import make_engine
    from store.models import RejectedRow, SyncRun
    from store.pathways import create_pathway

    def aim(text: str) -> str:
        return text.replace(EVIL, f"http://127.0.0.1:{port}/")

    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as session:
            conn = list_connections(session=session)[0]
            conn.name = aim(CONNECTION)
            session.add(conn)
            dataset = list_datasets(session=session)[0]
            aud = create_audience(aim(AUDIENCE), dataset.id, session=session)
            pathway = create_pathway(
                aud.id,
                conn.id,
                aim(DE_NAME),
                aim(DE_KEY),
                category_path=f"Data Extensions / {aim(FOLDER)}",
                session=session,
            )
            run = SyncRun(pathway_id=pathway.id, state="failed", error=aim(ERROR), rows_failed=1)
            session.add(run)
            session.commit()
            session.add(RejectedRow(run_id=run.id, row_values={"email": aim(AUDIENCE)},
                                    error_type=aim(ERROR_TYPE), error_details=aim(ERROR)))  # fmt: skip
            session.commit()
    finally:
        engine.dispose()


@pytest.mark.browser
def test_manage_pathways_in_a_browser_requests_nothing_from_hostile_names(app_url, shots, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    listener = _Listener()
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    port = listener.server_address[1]

    def idle(page: Any) -> None:
        page.wait_for_timeout(300)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=90_000)

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)
            page.goto(app_url, wait_until="commit")
            page.get_by_label("Username").wait_for(timeout=90_000)  # the demo workspace is built
            _seed_store(tmp_path / "data" / "pathways.db", port)
            page.get_by_label("Username").fill("analyst")
            page.get_by_label("Password", exact=True).fill("pathways-demo")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Manage Pathways", exact=True)).to_be_visible()
            idle(page)
            page.get_by_text("Run history and rejected rows").click()
            idle(page)
            expect(page.get_by_text(re.compile(r"1 × !\[t\]")).first).to_be_visible()
            expect(page.get_by_text("Re-login here").first).to_be_visible()
            expect(page.get_by_text(re.compile(r"Failed: !\[e\]")).first).to_be_visible()
            page.wait_for_timeout(1500)  # time for any image to be fetched
            page.screenshot(path=str(shots / "manage_pathways_hostile.png"), full_page=True)
            links = page.locator(
                f'a[href*="{port}"], a[href^="javascript"], a[href^="mailto"], img[src*="{port}"]'
            )
            assert links.count() == 0, links.evaluate_all("els => els.map(e => e.outerHTML)")
            browser.close()
    finally:
        listener.shutdown()
    assert listener.hits == [], f"the page fetched {listener.hits} from the hostile host"
