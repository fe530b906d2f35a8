"""`python -m store refresh`: a new version of a data set from the shell (cron, a CRM export job).

    python -m store refresh --dataset NAME FILE [--mode replace|upsert] [--key COL ...]
                            [--remove-missing]
    python -m store refresh --dataset NAME --source     # a database source: read it again

Same refresh as the Audiences page (`store.refresh`): atomic, problem rows listed with their
line numbers, a clear error (exit status 2) and nothing changed when the file cannot be the new
version. The store is the app's (`DATABASE_URL`, or the SQLite file in the data dir).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from store.db import make_engine
from store.errors import DataSetError
from store.refresh import RefreshReport, refresh_dataset, refresh_source
from store.refresh_checks import MODES
from store.sql_source import SqlSourceError

_SHOWN_PROBLEMS = 20


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `refresh` command."""
    parser = subparsers.add_parser(
        "refresh",
        help="give a data set a new version of its rows (a file, or its database source)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--dataset", required=True, help="the data set's name")
    parser.add_argument("file", nargs="?", help="the new CSV or XLSX file")
    parser.add_argument("--source", action="store_true", help="read its database query again")
    parser.add_argument("--mode", choices=MODES, default="replace")
    parser.add_argument("--key", nargs="+", default=[], help="column(s) that identify a row")
    parser.add_argument(
        "--remove-missing", action="store_true", help="upsert: delete rows not in the file"
    )
    parser.add_argument("--who", default="shell", help="who the version history names")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Refresh; print the summary and refused rows, or the error saying what to fix."""
    if bool(args.file) == bool(args.source):
        _say("Give either a FILE or --source (for a database source).", error=True)
        return 2
    engine = make_engine()
    try:
        if args.source:
            report = refresh_source(engine, args.dataset, who=args.who)
            if report is None:
                _say(
                    f"{args.dataset!r} was uploaded from a file; give the new FILE instead.",
                    error=True,
                )
                return 2
        else:
            path = Path(args.file)
            if not path.is_file():
                _say(f"No file at {path}; check the path.", error=True)
                return 2
            report = refresh_dataset(
                engine,
                args.dataset,
                path,
                filename=path.name,
                mode=args.mode,
                keys=args.key,
                remove_missing=args.remove_missing,
                who=args.who,
            )
    except (DataSetError, SqlSourceError) as exc:
        _say(f"Nothing changed: {exc}", error=True)
        return 2
    finally:
        engine.dispose()
    _report(report)
    return 0


def _say(text: str, *, error: bool = False) -> None:
    (sys.stderr if error else sys.stdout).write(text + "\n")


def _report(report: RefreshReport) -> None:
    _say(report.summary())
    for note in report.notes:
        _say(f"Note: {note}")
    for problem in report.problems[:_SHOWN_PROBLEMS]:
        _say(f"  line {problem.get('line')}: {problem.get('problem')}")
    if len(report.problems) > _SHOWN_PROBLEMS:
        _say(f"  ... and {len(report.problems) - _SHOWN_PROBLEMS:,} more refused rows")
