"""Sign-in that resists guessing (`ui.auth.sign_in`): growing waits, audit events, the cookie token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bcrypt
import jwt
import pytest
from sqlmodel import Session

from store.audit import list_audit
from store.users import FIRST_WAIT, MAX_WAIT, SIGN_IN, SIGN_IN_FAILED, SIGN_IN_WAIT
from ui.auth import idle_minutes, sign_in, sign_in_token

PASSWORD = "a long secret phrase"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def credentials():
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return {"usernames": {"ana": {"name": "Ana Lyst", "password": hashed, "roles": ["analyst"]}}}


def _try(engine, credentials, password, at, name="ana"):
    with Session(engine) as s:
        return sign_in(name, password, credentials, session=s, now=at)


def _actions(engine, who="ana"):
    with Session(engine) as s:
        return [e.action for e in reversed(list_audit(session=s, who=who))]


def test_right_password_signs_in_and_is_audited(engine, credentials):
    result = _try(engine, credentials, PASSWORD, T0)
    assert result.user is not None
    assert result.user.roles == ("analyst",)
    assert result.user.name == "Ana Lyst"
    assert _actions(engine) == [SIGN_IN]


def test_five_failures_then_growing_waits(engine, credentials):
    for i in range(5):
        result = _try(engine, credentials, "guess", T0 + timedelta(seconds=i))
        assert result.user is None
    # The fifth failure starts the first wait, and the page says until when.
    assert result.retry_at == T0 + timedelta(seconds=4) + FIRST_WAIT
    assert "Too many failed sign-ins" in result.message
    assert result.retry_at.strftime("%H:%M:%S") in result.message
    # During the wait even the right password is refused unchecked.
    early = _try(engine, credentials, PASSWORD, T0 + timedelta(seconds=10))
    assert early.user is None
    assert early.retry_at == result.retry_at
    # After it, one more failure doubles the wait.
    later = T0 + timedelta(seconds=4) + FIRST_WAIT + timedelta(seconds=1)
    again = _try(engine, credentials, "guess", later)
    assert again.retry_at == later + 2 * FIRST_WAIT
    assert _actions(engine) == [SIGN_IN_FAILED] * 5 + [SIGN_IN_WAIT, SIGN_IN_FAILED]
    # Once the wait is over the right password works, and the count starts again.
    ok = _try(engine, credentials, PASSWORD, later + 2 * FIRST_WAIT + timedelta(seconds=1))
    assert ok.user is not None
    assert _try(engine, credentials, "guess", later + 3 * FIRST_WAIT).retry_at is None


def test_waits_stop_growing_and_failures_expire(engine, credentials):
    for i in range(12):
        _try(engine, credentials, "guess", T0 + timedelta(hours=i))  # each its own window
    assert _try(engine, credentials, PASSWORD, T0 + timedelta(hours=12)).user is not None
    at, waits = T0 + timedelta(days=1), []
    for _ in range(10):  # each try right after the previous wait ended
        result = _try(engine, credentials, "guess", at)
        if result.retry_at is not None:
            waits.append(result.retry_at - at)
            at = result.retry_at
    assert waits[:3] == [FIRST_WAIT, 2 * FIRST_WAIT, 4 * FIRST_WAIT]
    assert waits[-1] == MAX_WAIT


def test_unknown_names_are_throttled_like_known_ones(engine, credentials):
    for i in range(5):
        result = _try(engine, credentials, "guess", T0 + timedelta(seconds=i), name="nobody")
    assert result.retry_at is not None
    assert "Too many failed sign-ins" in result.message
    assert _actions(engine, who="nobody") == [SIGN_IN_FAILED] * 5
    # Another name is not affected.
    assert _try(engine, credentials, PASSWORD, T0 + timedelta(seconds=6)).user is not None


def test_empty_and_overlong_input_is_refused_without_a_trace(engine, credentials):
    assert "Enter your username" in _try(engine, credentials, "", T0).message
    assert "at most 100" in _try(engine, credentials, "x", T0, name="a" * 101).message
    with Session(engine) as s:
        assert list_audit(session=s) == []


def test_cookie_token_is_what_the_authenticator_reads(credentials):
    expires = datetime.now(UTC) + timedelta(minutes=30)
    token = sign_in_token("ana", "k" * 40, expires)
    decoded = jwt.decode(token, "k" * 40, algorithms=["HS256"])
    assert decoded == {"username": "ana", "exp_date": expires.timestamp()}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "other-key" * 5, algorithms=["HS256"])


@pytest.mark.parametrize("value", ["0", "-5", "soon", "1441"])
def test_idle_minutes_must_be_sensible(value):
    with pytest.raises(RuntimeError, match="idle_minutes"):
        idle_minutes({"idle_minutes": value})


def test_idle_minutes_from_secrets_or_environment(monkeypatch):
    assert idle_minutes({}) == 30
    monkeypatch.setenv("PATHWAYS_IDLE_MINUTES", "10")
    assert idle_minutes({}) == 10
    assert idle_minutes({"idle_minutes": 45}) == 45
