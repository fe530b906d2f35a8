"""`python -m store users ...`: manage the people who may sign in, from the shell.

    python -m store users list
    python -m store users add USERNAME --name "Jane Doe" --role staff [--email ADDRESS]
    python -m store users reset-password USERNAME
    python -m store users disable USERNAME [--enable]

Passwords are asked twice on the terminal (or read from one line of standard input with
--password-stdin, for scripts) and stored as bcrypt hashes, so nobody edits secrets.toml to add
a colleague. Refused in demo mode and on the demo's store (its users' password is public).
Every change goes to the audit log; a refused command changes nothing and exits with status 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlmodel import Session

from store.audit import record_audit
from store.db import create_db_and_tables, make_engine
from store.settings import demo_mode, is_demo_store
from store.users import (
    ROLES,
    check_new_login,
    get_user,
    hash_password,
    list_users,
    set_disabled,
    upsert_user,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `users` command and its four actions."""
    parser = subparsers.add_parser(
        "users", help="list, add, disable users or reset a password", description=__doc__
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every login, its role and whether it is disabled")
    add = actions.add_parser("add", help="a new login")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the person's name, shown in the app")
    add.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
    add.add_argument("--email", default="")
    reset = actions.add_parser("reset-password", help="set a new password")
    reset.add_argument("username")
    disable = actions.add_parser("disable", help="stop a login (it is kept for the audit log)")
    disable.add_argument("username")
    disable.add_argument("--enable", action="store_true", help="allow it to sign in again")
    for sub in (add, reset):
        sub.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    parser.add_argument("--who", default="shell", help="who the audit log names")
    parser.set_defaults(func=run)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Type it again: "):
        msg = "The two passwords differ: nothing was changed, run the command again."
        raise ValueError(msg)
    return first


def _change(args: argparse.Namespace, session: Session) -> str:
    """Do one change; returns what to print. Raises ValueError/LookupError before any write."""
    user = get_user(args.username, session=session)
    if args.action == "add":
        if user is not None:
            msg = f"User {args.username!r} exists already: use reset-password or disable."
            raise ValueError(msg)
        check_new_login(args.username, args.role, None, args.email)
        password = _password(args)
        check_new_login(args.username, args.role, password, args.email)
        upsert_user(
            args.username, args.name.strip() or args.username, [args.role],
            hash_password(password), args.email.strip(), session=session,
        )  # fmt: skip
        record_audit(args.who, "user add", f"{args.username} ({args.role})", session=session)
        return f"Added {args.username} ({args.role}). They can sign in now."
    if user is None:
        msg = f"No user named {args.username!r}: see  python -m store users list."
        raise LookupError(msg)
    if args.action == "reset-password":
        password = _password(args)
        check_new_login(user.username, user.roles[0] if user.roles else ROLES[-1], password)
        user.password_hash = hash_password(password)
        session.add(user)
        session.commit()
        record_audit(args.who, "user password reset", user.username, session=session)
        return f"New password set for {user.username}."
    set_disabled(user.username, not args.enable, session=session)
    action = "user enable" if args.enable else "user disable"
    record_audit(args.who, action, user.username, session=session)
    if args.enable:
        return f"{user.username} can sign in again."
    return f"{user.username} is disabled: signed out at their next click, and cannot sign in."


def run(args: argparse.Namespace) -> int:
    """Run one action; a refusal prints what to fix on stderr and exits 2 (nothing changed)."""
    engine = make_engine()
    create_db_and_tables(engine)
    with Session(engine) as session:
        if demo_mode() or is_demo_store(session=session):
            sys.stderr.write(
                "This is the demo (its users share a public password): users are managed "
                "this way only in a real deployment.\n"
            )
            return 2
        if args.action == "list":
            for user in list_users(session=session):
                state = "disabled" if user.disabled else "active"
                sys.stdout.write(f"{user.username}\t{','.join(user.roles)}\t{state}\t{user.name}\n")
            return 0
        try:
            sys.stdout.write(_change(args, session) + "\n")
        except (ValueError, LookupError) as exc:
            sys.stderr.write(str(exc).strip("'\"") + "\n")
            return 2
    return 0
