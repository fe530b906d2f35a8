"""Command line of the sync engine: `python -m sync push --pathway N` (see `sync/worker.py`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sync.worker import run_push_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync", description="Pathways sync engine.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    push_help = "Sync one pathway now, printing progress and a summary (exit 0 only on success)."
    push = sub.add_parser("push", help=push_help, description=push_help)
    push.add_argument("--pathway", type=int, required=True, help="pathway id")
    push.add_argument("--dry-run", action="store_true", help="report the plan, write nothing")
    push.add_argument("--full", action="store_true", help="re-send every row (ignore the ledger)")
    push.add_argument(
        "--confirm-deletes", action="store_true", help="let Mirror delete past the guard"
    )
    push.add_argument("--database-url", default=None, help="default: DATABASE_URL or ./data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen command; returns the process exit code."""
    return run_push_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
