"""Dates are sent in the tenant's time zone (issue 15): SFMC reads a zone-less date as its
server time (CST, UTC-6 all year), so a value with `Z` or an offset is converted into the
connection's zone before it is sent; zone-less values already mean the tenant's time."""

import pytest
from sqlmodel import Session

from store import connections
from sync.mapping import FieldMap, RowConverter
from sync.values import SFMC_ZONE, tenant_zone, zone_problem
from ui.connections import ConnectionForm, save_connection


def _converter(zone_name):
    mapping = [
        FieldMap("joined", "Joined", "Date"),
        FieldMap("note", "Note", "Text", length=50),
    ]
    return RowConverter(mapping, tenant_zone(zone_name))


@pytest.mark.parametrize(
    ("zone", "value", "sent"),
    [
        (None, "2024-05-01T12:00:00Z", "2024-05-01T06:00:00"),  # SFMC's CST by default
        (None, "2024-05-01T12:00:00+02:00", "2024-05-01T04:00:00"),
        (None, "2024-05-01 12:00", "2024-05-01T12:00:00"),  # zone-less: already tenant time
        (None, "05/01/2024", "2024-05-01T00:00:00"),
        ("America/New_York", "2024-07-01T12:00:00Z", "2024-07-01T08:00:00"),  # summer time
        ("UTC+05:30", "2024-05-01T00:00:00Z", "2024-05-01T05:30:00"),
        (None, "not a date", "not a date"),  # sent as is: the preflight reports it
    ],
)
def test_dates_are_sent_as_the_tenants_wall_time(zone, value, sent):
    row = _converter(zone)({"joined": value, "note": "2024-05-01T12:00:00Z"})
    assert row == {"Joined": sent, "Note": "2024-05-01T12:00:00Z"}  # Text is never touched


def test_time_zone_setting_is_checked_with_a_fix():
    assert tenant_zone(None).utcoffset(None).total_seconds() == -6 * 3600
    assert SFMC_ZONE == "UTC-06:00"
    assert zone_problem("Europe/Paris") is None
    assert zone_problem("") is None
    problem = zone_problem("Central Time")
    assert "America/Chicago" in problem
    assert "leave it empty" in problem


def test_connection_time_zone_is_checked_and_saved(engine):
    uri = "https://mc0123456789.auth.marketingcloudapis.com/"
    bad = ConnectionForm("Main", uri, "id", "secret", time_zone="Central Time")
    problems = save_connection(engine, bad, editing_id=None, who="ada", local_address=None)
    assert len(problems) == 1
    assert "America/Chicago" in problems[0]
    good = ConnectionForm("Main", uri, "id", "secret", time_zone=" America/New_York ")
    assert save_connection(engine, good, editing_id=None, who="ada", local_address=None) == []
    with Session(engine) as session:
        (saved,) = connections.list_connections(session=session)
        assert saved.time_zone == "America/New_York"
        blank = ConnectionForm("Main", uri, "id", "", time_zone="")
        assert (
            save_connection(engine, blank, editing_id=saved.id, who="ada", local_address=None) == []
        )
    with Session(engine) as session:
        assert connections.list_connections(session=session)[0].time_zone is None  # SFMC's CST
