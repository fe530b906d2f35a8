"""`python -m store upgrade`: bring the store (DATABASE_URL or ./data) to the current schema.

The app and the worker do the same on start; this command lets an operator upgrade first,
e.g. right after installing a new version and before starting anything.
"""

from __future__ import annotations

import argparse
import sys

from store.db import create_db_and_tables, make_engine
from store.migrations.apply import StoreUpgradeError


def run(args: argparse.Namespace) -> int:
    """Upgrade; 0 when the store is current, 1 with the reason when the upgrade failed."""
    engine = make_engine(args.database_url)
    try:
        result = create_db_and_tables(engine)
    except StoreUpgradeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    finally:
        engine.dispose()
    said = {
        "fresh": f"Created a new store at schema revision {result.after}.",
        "current": f"The store is already at the current schema revision {result.after}.",
        "baseline": f"Upgraded a store of release 8613ea0 to schema revision {result.after}.",
        "unversioned": f"Completed a store without a known revision to revision {result.after}.",
        "versioned": f"Upgraded the store from revision {result.before} to {result.after}.",
    }
    sys.stdout.write(said[result.kind] + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `upgrade` to `python -m store`."""
    parser = subparsers.add_parser("upgrade", help=__doc__.splitlines()[0], description=__doc__)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or ./data")
    parser.set_defaults(func=run)
