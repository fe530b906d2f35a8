"""Command line for admins: `python -m sfmc <command>`.

The sync engine's commands (`push`) are `python -m sync ...` (`sync/cli.py`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sfmc.types import ConnectionReport


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sfmc", description="Pathways SFMC tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_help = (
        "Test a connection: token, endpoints and the scope checklist "
        "(exit 0 only when it works and has every needed scope)."
    )
    _configure_check(sub.add_parser("check", help=check_help, description=check_help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return _run_check(args)


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
