"""Command line for admins: `python -m sfmc <command>`.

Commands live in a small registry so other modules can add theirs (the engine adds `push`):
write a `configure(parser)` and a `run(args) -> exit code`, then call `register(Command(...))`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sfmc.types import ConnectionReport


@dataclass(frozen=True)
class Command:
    """One subcommand."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    """Add a subcommand (a later registration with the same name replaces the earlier one)."""
    COMMANDS[command.name] = command
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sfmc", description="Pathways SFMC tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.configure(sub.add_parser(command.name, help=command.help, description=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command].run(args)


# --- check --------------------------------------------------------------------------------------


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--auth-uri", required=True, help="Auth Base URI, REST/SOAP URL or subdomain"
    )
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--account-id", default=None, help="MID of the business unit (optional)")
    parser.add_argument(
        "--allow-local", action="store_true", help="accept http://127.0.0.1:PORT (the simulator)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")


def format_report(report: ConnectionReport) -> str:
    """The connection report as plain text for a shell."""
    lines = [
        f"Connection: {'OK' if report.ok else 'FAILED'}",
        f"Reason:     {report.reason}",
    ]
    if report.fix:
        lines.append(f"Fix:        {report.fix}")
    for label, value in (
        ("Subdomain", report.subdomain),
        ("Auth URL", report.auth_url),
        ("REST URL", report.rest_url),
        ("SOAP URL", report.soap_url),
    ):
        if value:
            lines.append(f"{label + ':':<11} {value}")
    if report.scopes:
        lines.append("Scopes:")
        for check in report.scopes:
            mark = "ok" if check.granted else ("MISSING" if check.required else "missing")
            lines.append(f"  [{mark:^7}] {check.scope:<28} {check.needed_for}")
            if not check.granted:
                lines.append(f"             without it: {check.breaks_without}")
    verdict = "READY" if report.ready else "NOT READY"
    lines.append(f"Result:     {verdict}")
    return "\n".join(lines)


def _run_check(args: argparse.Namespace) -> int:
    from sfmc.client import check_connection
    from sfmc.config import SfmcCredentials

    credentials = SfmcCredentials(
        auth_base_uri=args.auth_uri,
        client_id=args.client_id,
        client_secret=args.client_secret,
        account_id=args.account_id,
    )
    report = check_connection(
        credentials, allow_local=args.allow_local, timeout=args.timeout, max_retries=2
    )
    print(format_report(report))
    return 0 if report.ready else 1


register(
    Command(
        name="check",
        help="Test a connection: token, endpoints and the scope checklist "
        "(exit 0 only when it works and has every needed scope).",
        configure=_configure_check,
        run=_run_check,
    )
)


# --- push (the sync engine, sfmc/worker.py) ----------------------------------------------------


def _configure_push(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pathway", type=int, required=True, help="pathway id")
    parser.add_argument("--dry-run", action="store_true", help="report the plan, write nothing")
    parser.add_argument("--full", action="store_true", help="re-send every row (ignore the ledger)")
    parser.add_argument(
        "--confirm-deletes", action="store_true", help="let Mirror delete past the guard"
    )
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or ./data")


def _run_push(args: argparse.Namespace) -> int:
    from sfmc.worker import run_push_command

    return run_push_command(args)


register(
    Command(
        name="push",
        help="Sync one pathway now, printing progress and a summary (exit 0 only on success).",
        configure=_configure_push,
        run=_run_push,
    )
)
