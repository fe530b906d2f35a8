"""Connection and audience use cases against a real store."""

from __future__ import annotations

from sqlmodel import Session, select

from store import connections
from store.models import AuditEvent
from ui import audiences as uaud
from ui import connections as uconn
from ui.connections import ConnectionForm

URI = "https://mc0123456789.auth.marketingcloudapis.com/"


def _actions(engine) -> list[str]:
    with Session(engine) as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_save_connection_says_what_is_missing(engine):
    blank = ConnectionForm("", URI, "id", "secret")
    assert uconn.save_connection(engine, blank, editing_id=None, who="ada", local_address=None) == [
        "Name, Auth Base URI and Client ID are required."
    ]
    no_secret = ConnectionForm("Main", URI, "id", " ")
    assert uconn.save_connection(
        engine, no_secret, editing_id=None, who="ada", local_address=None
    ) == ["Enter the Client Secret of the Installed Package."]
    (problem,) = uconn.save_connection(
        engine,
        ConnectionForm("Main", "http://evil.example.com/", "id", "s"),
        editing_id=None,
        who="ada",
        local_address=None,
    )
    assert "Auth Base URI" in problem
    assert "while trying" not in problem  # the form's own words, not the client's error tail
    assert uconn.connection_rows(engine) == []
    assert _actions(engine) == []


def test_demo_mode_saves_only_its_own_simulator_as_a_local_address(engine):
    own = "http://127.0.0.1:8765/"
    other = ConnectionForm("Other local service", "http://127.0.0.1:9999/", "id", "secret")
    (problem,) = uconn.save_connection(engine, other, editing_id=None, who="ada", local_address=own)
    assert "8765" in problem
    assert uconn.save_connection(  # real mode: no local address at all
        engine, ConnectionForm("Sim", own, "id", "s"), editing_id=None, who="ada",
        local_address=None,
    )  # fmt: skip
    assert uconn.connection_rows(engine) == []
    sim = ConnectionForm("Simulator", own, "id", "secret")
    assert uconn.save_connection(engine, sim, editing_id=None, who="ada", local_address=own) == []


def test_save_edit_and_delete_a_connection_with_audit(engine):
    form = ConnectionForm(" Main ", "mc0123456789", " id ", "secret", "", True)
    assert uconn.save_connection(engine, form, editing_id=None, who="ada", local_address=None) == []
    (row,) = uconn.connection_rows(engine)
    assert row == {
        "id": row["id"],
        "name": "Main",
        "client_id": "id",
        "allow_modeled": True,
        "de_name_template": "Pathways - {audience}",
        "de_key_template": "pathways_{clientId}_segment_{audienceId}",
    }
    with Session(engine) as session:
        assert connections.get_connection(row["id"], session=session).auth_base_uri == URI
    other = ConnectionForm("Other", URI, "id2", "secret2")
    assert (
        uconn.save_connection(engine, other, editing_id=None, who="ada", local_address=None) == []
    )
    rename = ConnectionForm("Other", URI, "id", "")  # blank secret keeps the current one
    assert uconn.save_connection(
        engine, rename, editing_id=row["id"], who="ada", local_address=None
    ) == ["A connection named 'Other' exists: choose another name."]
    keep = ConnectionForm("Main", URI, "id-2", "")
    assert (
        uconn.save_connection(engine, keep, editing_id=row["id"], who="ada", local_address=None)
        == []
    )
    with Session(engine) as session:
        conn = connections.get_connection(row["id"], session=session)
        assert (conn.client_id, connections.connection_secret(conn)) == ("id-2", "secret")
    uconn.delete_connection(engine, row["id"], name="Main", who="ada")
    assert [c["name"] for c in uconn.connection_rows(engine)] == ["Other"]
    assert _actions(engine) == [
        "save connection",
        "save connection",
        "save connection",
        "delete connection",
    ]


def test_import_and_audiences(engine):
    report = uaud.import_dataset(
        engine, b"email,amount\na@x.org,1\nb@x.org,2\n", name=" Gifts ", filename="g.csv", who="sam"
    )
    assert report["summary"]
    assert report["problems"] == []
    assert _actions(engine) == ["import data set"]
    filters = [{"column": "amount", "op": "equals", "value": "2"}]
    assert uaud.create_audience(
        engine, " ", report["dataset_id"], filters, modeled=False, who="sam"
    ) == ["Give the audience a new, unique name."]
    assert (
        uaud.create_audience(engine, "Big", report["dataset_id"], filters, modeled=True, who="sam")
        == []
    )
    assert uaud.create_audience(
        engine, "Big", report["dataset_id"], [], modeled=False, who="sam"
    ) == ["Give the audience a new, unique name."]
    (aud,) = uaud.audience_rows_for_wizard(engine)
    assert (aud["name"], aud["count"], aud["modeled"], aud["dataset"]) == ("Big", 1, True, "Gifts")
    uaud.set_modeled(engine, aud["id"], False, who="sam")
    assert not uaud.audience_rows_for_wizard(engine)[0]["modeled"]
    assert _actions(engine) == ["import data set", "create audience", "set modeled"]


def test_a_test_whose_client_cannot_be_built_is_a_failed_report_in_words(engine, monkeypatch):
    """Bug: the Test button showed the client's '(while trying to ...)' tail, not a report."""
    from store.crypto import generate_key
    from store.models import Connection
    from sync.worker import default_client_factory

    def client_of(connection_id: int):
        with Session(engine) as session:
            return default_client_factory(session.get(Connection, connection_id))

    monkeypatch.setenv("PATHWAYS_DEMO", "0")  # a local address is the demo simulator's only
    with Session(engine) as session:
        local = connections.create_connection(
            "Local", "http://127.0.0.1:9/", "id", "s", session=session
        )
        main = connections.create_connection("Main", URI, "id", "s", session=session)
        local_id, main_id = local.id, main.id
    uconn.run_test(engine, local_id, client_of, "ada")
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", generate_key())  # the secret's key is gone
    uconn.run_test(engine, main_id, client_of, "ada")
    with Session(engine) as session:
        local_report = session.get(Connection, local_id).last_test_report
        main_report = session.get(Connection, main_id).last_test_report
    judged = uconn.verdict(local_report)
    assert not judged.ready
    assert "is a local address" in judged.reason
    assert "while trying" not in judged.reason
    assert judged.fix == uconn.GENERIC_FIX
    judged = uconn.verdict(main_report)
    assert judged.reason == "The stored Client Secret cannot be read."
    assert "PATHWAYS_SECRET_KEY" in judged.fix
    assert _actions(engine)[-2:] == ["test connection", "test connection"]
