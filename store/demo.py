"""The demo workspace: users, a connection to the in-process simulator, donors, audiences.

Everything is deterministic (seeded) and `ensure_demo_workspace` is idempotent: run it on every
start; it creates what is missing and only refreshes the simulator's address, which changes
with its port.

The demo users share a public password, so they exist only in a demo store: the demo marks a
fresh store as its own before creating anything (`store.settings.is_demo_store`) and refuses a
store it did not make; the app calls it only in demo mode.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import IO, Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from store.audiences import create_audience, get_audience_by_name
from store.audit import record_audit
from store.connections import (
    connection_secret,
    create_connection,
    get_connection_by_name,
    update_connection,
)
from store.crypto import SecretKeyError
from store.datasets import get_dataset_by_name
from store.db import create_db_and_tables
from store.demo_history import build_demo_history
from store.errors import DataSetError
from store.importer import import_file
from store.models import AppUser, Connection, DataSet
from store.settings import DEMO_HOWTO, DEMO_STORE_ACTION, is_demo_store
from store.users import DEMO_PASSWORD, get_user, hash_password, upsert_user

# Same values as simulator.DEMO_CLIENT_ID/SECRET (a test keeps them equal); copied because
# store/ must not import simulator.
DEMO_CLIENT_ID = "pathways-demo"
DEMO_CLIENT_SECRET = "pathways-demo-secret"
DEMO_CONNECTION_NAME = "Demo Marketing Cloud (simulator)"
DEMO_DATASET_NAME = "Demo donors"
DEMO_ROWS = 50_000
DEMO_SEED = 20240601
BUILD_AT_ONCE_ROWS = 10_000  # a demo this small is built before the sign-in page shows

_log = logging.getLogger(__name__)


class NotADemoStoreError(RuntimeError):
    """The demo was started on a store it did not make."""


@dataclass(frozen=True)
class DemoUser:
    """A demo login; `password` is plaintext on purpose, for the login page."""

    username: str
    name: str
    email: str
    role: str
    password: str = field(default=DEMO_PASSWORD, repr=False)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Ada Admin", "admin@pathways.example", "admin"),
    DemoUser("staff", "Sam Staff", "staff@pathways.example", "staff"),
    DemoUser("analyst", "Ana Analyst", "analyst@pathways.example", "analyst"),
)

DEMO_AUDIENCES: tuple[tuple[str, list[dict[str, Any]], bool], ...] = (
    ("All donors", [], False),
    ("Monthly givers", [{"column": "is_monthly", "op": "equals", "value": "true"}], False),
    (
        "Lapsed donors (no gift since 2023)",
        [{"column": "last_gift_date", "op": "before", "value": "2023-01-01"}],
        False,
    ),
    (
        "High propensity (model)",
        [{"column": "propensity_score", "op": "greater_than", "value": "0.8"}],
        True,
    ),
)


@dataclass(frozen=True)
class DemoWorkspace:
    """Ids of what `ensure_demo_workspace` made sure exists."""

    connection_id: int
    dataset_id: int
    audience_ids: dict[str, int]
    created: bool


# --- donor data ------------------------------------------------------------------------------

_FIRST = [
    "Alice", "Ben", "Chloé", "David", "Émile", "Fatima", "George", "Hannah", "Ivan", "José",
    "Zoë", "Björn", "François", "Siobhán", "Łukasz", "Ngozi", "Mary", "Peter", "Olivia", "Noah",
    "Amara", "Søren", "İlkay", "Thảo", "张伟", "Дмитрий", "محمد", "さくら", "Νίκος", "Priya",
]  # fmt: skip
_LAST = [
    "Smith", "Jones", "Müller", "García", "O'Brien", "Nguyễn", "Kowalski", "Dubois", "Okafor",
    "Smith-Jones", "van der Berg", "Brown", "Taylor", "Wilson", "Lee", "Patel", "Rossi",
    "Åberg", "Núñez", "李", "Иванова", "حداد", "山田", "Παπαδόπουλος", "MacDonald",
]  # fmt: skip
_ASCII_FIRST = {"张伟": "wei", "Дмитрий": "dmitry", "محمد": "mohammed", "さくら": "sakura",
                "Νίκος": "nikos"}  # fmt: skip
_ASCII_LAST = {"李": "li", "Иванова": "ivanova", "حداد": "haddad", "山田": "yamada",
               "Παπαδόπουλος": "papadopoulos"}  # fmt: skip
_CITIES = [
    ("London", "GB"), ("Manchester", "GB"), ("Dublin", "IE"), ("Cork", "IE"), ("Paris", "FR"),
    ("Montréal", "CA"), ("Toronto", "CA"), ("New York", "US"), ("São Paulo", "BR"),
    ("München", "DE"), ("Kraków", "PL"), ("Zürich", "CH"), ("Lagos", "NG"), ("Tokyo", "JP"),
    ("Athína", "GR"), ("Москва", "RU"), ("Chicago", "US"), ("", ""), ("Reykjavík", "IS"),
]  # fmt: skip
_DOMAINS = ["example.org", "mail.example.com", "giving.example.net", "example.co.uk"]
_BAD_EMAILS = ["{u}@", "{u}.example.org", "{u}@@example.org", "{u} @example.org", "@example.org"]
_NOTES = [
    "",
    "",
    "",
    "Prefers email, no phone calls.",
    'Met at the "Spring Gala", table 4',
    "Gift in memory of her mother; send a card, not a receipt",
    "Line one\nline two of the note",
    '=HYPERLINK("http://example.org","profile")',
    "+ major donor prospect",
    "Café volunteer — très engagé",
]
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d %b %Y", "%Y/%m/%d")
DONOR_COLUMNS = [
    "donor_id", "email", "first_name", "last_name", "city", "country", "phone", "donor_since",
    "last_gift_date", "total_given", "gift_count", "is_monthly", "propensity_score", "notes",
]  # fmt: skip


def _ascii(name: str, table: dict[str, str]) -> str:
    if name in table:
        return table[name]
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum()) or "donor"


def donor_rows(n: int = DEMO_ROWS, *, seed: int = DEMO_SEED) -> Iterator[list[str]]:
    """Deterministic donor rows (as text, like a CSV export) with the awkward cases of real data.

    Accents and non-Latin names, plus-addressed and upper-case emails, invalid and empty emails,
    the same email twice in different case, several date formats, donor ids with leading zeros,
    boolean words, over-long notes, formula-looking notes.
    """
    rng = random.Random(seed)
    emails: list[str] = []
    start = date(2005, 1, 1)
    for i in range(1, n + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        user = f"{_ascii(first, _ASCII_FIRST)}.{_ascii(last, _ASCII_LAST)}{i}"
        roll = rng.random()
        if roll < 0.01 and emails:
            email = rng.choice(emails).swapcase()  # duplicate in different case
        elif roll < 0.03:
            email = rng.choice(_BAD_EMAILS).format(u=user)
        elif roll < 0.06:
            email = ""
        elif roll < 0.11:
            email = f"{user}+giving@{rng.choice(_DOMAINS)}"
        elif roll < 0.16:
            email = f"{user}@{rng.choice(_DOMAINS)}".upper()
        else:
            email = f"{user}@{rng.choice(_DOMAINS)}"
        if email and len(emails) < 5000:
            emails.append(email)
        city, country = rng.choice(_CITIES)
        phone_roll = rng.random()
        if phone_roll < 0.1:
            phone = ""
        elif phone_roll < 0.4:
            phone = f"+44 20 {rng.randint(7000, 7999)} {rng.randint(1000, 9999)}"
        elif phone_roll < 0.7:
            phone = f"({rng.randint(200, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        else:
            phone = f"+1{rng.randint(2000000000, 9899999999)}"
        since = start + timedelta(days=rng.randint(0, 6500))
        donor_since = since.strftime(rng.choice(_DATE_FORMATS))
        if rng.random() < 0.08:
            last_gift = ""
            total, count = "0", "0"
        else:
            last_gift = (since + timedelta(days=rng.randint(0, 7000))).isoformat()
            last_gift = min(last_gift, "2025-06-30")
            count_n = rng.randint(1, 80)
            total = f"{rng.randint(5, 500) * count_n / 4:.2f}"
            count = str(count_n)
        monthly = rng.choice(["Yes", "No", "No", "TRUE", "false", "Y", "n", ""])
        score = f"{rng.random():.3f}"
        note_roll = rng.random()
        if note_roll < 0.01:
            note = "Long note: " + " ".join(["lorem ipsum dolor sit amet"] * rng.randint(20, 200))
        else:
            note = rng.choice(_NOTES)
        yield [
            f"{i:08d}", email, first, last, city, country, phone, donor_since, last_gift,
            total, count, monthly, score, note,
        ]  # fmt: skip


def write_donor_csv(out: IO[str], n: int = DEMO_ROWS, *, seed: int = DEMO_SEED) -> None:
    """Write `n` donor rows with a header as CSV to a text stream (opened with newline="")."""
    writer = csv.writer(out)
    writer.writerow(DONOR_COLUMNS)
    writer.writerows(donor_rows(n, seed=seed))


# --- workspace -------------------------------------------------------------------------------


def _claim_store(engine: Engine) -> None:
    """Mark a fresh store as the demo's; refuse one that holds anything the demo did not make.

    Raises:
        NotADemoStoreError: the store has users, connections or data sets and no demo mark
            (a real deployment's store: the demo must not add its users to it).
    """
    where = engine.url.render_as_string(hide_password=True)
    with Session(engine) as session:
        if is_demo_store(session=session):
            return
        used = any(
            session.exec(select(table.id).limit(1)).first() is not None
            for table in (AppUser, Connection, DataSet)
        )
        if used:
            msg = (
                f"The demo refuses the store {where}: it holds users, connections or data sets "
                "that the demo did not make, and the demo would add users whose password is "
                f"public. {DEMO_HOWTO}"
            )
            raise NotADemoStoreError(msg)
        record_audit(
            "system",
            DEMO_STORE_ACTION,
            "demo store: its users share a public password and are refused outside demo mode",
            session=session,
        )


def _ensure_users(session: Session) -> None:
    for user in DEMO_USERS:
        if get_user(user.username, session=session) is None:
            upsert_user(
                user.username,
                user.name,
                [user.role],
                hash_password(user.password),
                user.email,
                session=session,
            )


def _ensure_connection(session: Session, auth_uri: str) -> tuple[int, bool]:
    conn = get_connection_by_name(DEMO_CONNECTION_NAME, session=session)
    if conn is None:
        conn = create_connection(
            DEMO_CONNECTION_NAME, auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
        )
        assert conn.id is not None
        return conn.id, True
    assert conn.id is not None
    try:
        connection_secret(conn)
        secret = None
    except SecretKeyError:
        # The demo key file was deleted: the demo secret is public, so just store it again.
        secret = DEMO_CLIENT_SECRET
    if conn.auth_base_uri != auth_uri or secret:
        update_connection(conn.id, auth_base_uri=auth_uri, client_secret=secret, session=session)
    return conn.id, False


def _ensure_dataset(engine: Engine, rows: int) -> tuple[int, bool]:
    with Session(engine) as session:
        existing = get_dataset_by_name(DEMO_DATASET_NAME, session=session)
        if existing is not None and existing.id is not None:
            return existing.id, False
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        write_donor_csv(text, rows)
        text.flush()
        text.detach()
        raw.seek(0)
        try:
            report = import_file(engine, raw, name=DEMO_DATASET_NAME, filename="demo_donors.csv")
        except DataSetError:
            # Another process imported it first (name taken); use theirs.
            with Session(engine) as session:
                ds = get_dataset_by_name(DEMO_DATASET_NAME, session=session)
                if ds is None or ds.id is None:
                    raise
                return ds.id, False
    return report.dataset_id, True


def ensure_demo_sign_in(engine: Engine, *, simulator_auth_uri: str) -> tuple[int, bool]:
    """The part of the demo the sign-in page needs: a demo store, its users, its connection.

    Returns:
        The demo connection's id, and whether it was created now.

    Raises:
        NotADemoStoreError: the store is not the demo's (see `_claim_store`).
    """
    create_db_and_tables(engine)
    _claim_store(engine)
    with Session(engine) as session:
        _ensure_users(session)
        return _ensure_connection(session, simulator_auth_uri)


def start_demo_workspace(
    engine: Engine, *, simulator_auth_uri: str, rows: int = DEMO_ROWS
) -> threading.Thread | None:
    """Make the demo ready to sign into now; build the rest now or, when big, in a thread.

    The default demo (50,000 donors) takes seconds to generate and import: it is built in a
    daemon thread (returned) once the sign-in page can show, so the first start is quick, and
    that thread then gives a new demo its history (`store.demo_history`: pathways whose runs
    the app's worker pushes). A demo of at most `BUILD_AT_ONCE_ROWS` rows (the tests') is
    built before this returns, without history.
    """
    ensure_demo_sign_in(engine, simulator_auth_uri=simulator_auth_uri)
    if rows <= BUILD_AT_ONCE_ROWS:
        ensure_demo_workspace(engine, simulator_auth_uri=simulator_auth_uri, rows=rows)
        return None

    def build() -> None:
        try:
            made = ensure_demo_workspace(engine, simulator_auth_uri=simulator_auth_uri, rows=rows)
            if made.created:
                build_demo_history(
                    engine,
                    connection_id=made.connection_id,
                    dataset_id=made.dataset_id,
                    audience_ids=made.audience_ids,
                )
        except Exception:  # a thread has no caller to tell: the log says what failed
            _log.exception("Building the demo workspace failed")

    thread = threading.Thread(target=build, name="pathways-demo-build", daemon=True)
    thread.start()
    return thread


def ensure_demo_workspace(
    engine: Engine, *, simulator_auth_uri: str, rows: int = DEMO_ROWS
) -> DemoWorkspace:
    """Create what is missing of the demo workspace; refresh the simulator's auth URI.

    Args:
        engine: the store's engine.
        simulator_auth_uri: the in-process simulator's auth base URI (its port changes).
        rows: donor rows to generate the first time (tests use fewer).

    Returns:
        The ids of the demo connection, data set and audiences.

    Raises:
        NotADemoStoreError: the store is not the demo's (see `_claim_store`).
        SecretKeyError: no usable secret key.
    """
    connection_id, made_connection = ensure_demo_sign_in(
        engine, simulator_auth_uri=simulator_auth_uri
    )
    dataset_id, made_dataset = _ensure_dataset(engine, rows)
    audience_ids: dict[str, int] = {}
    made_audiences = False
    with Session(engine) as session:
        for name, filters, modeled in DEMO_AUDIENCES:
            audience = get_audience_by_name(name, session=session)
            if audience is None:
                try:
                    audience = create_audience(name, dataset_id, filters, modeled, session=session)
                    made_audiences = True
                except IntegrityError:
                    session.rollback()
                    audience = get_audience_by_name(name, session=session)
            assert audience is not None
            assert audience.id is not None
            audience_ids[name] = audience.id
        created = made_connection or made_dataset or made_audiences
        if created:
            record_audit(
                "system", DEMO_STORE_ACTION, f"created demo data set {dataset_id}", session=session
            )
    return DemoWorkspace(connection_id, dataset_id, audience_ids, created)
