"""`python -m store rotate-key`: re-encrypt every stored secret under the current key.

Order of steps (README, "Rotating the secret key"): generate a new key (`--generate` prints
one), make it `PATHWAYS_SECRET_KEY` and move the previous key to `PATHWAYS_OLD_SECRET_KEYS`,
run this command, check with `python -m store check`, then drop the old key. Everything is one
transaction: a secret that no key decrypts stops the rotation with nothing changed.
"""

from __future__ import annotations

import argparse
import sys

from store.crypto import (
    OLD_KEYS_ENV,
    SecretKeyError,
    generate_key,
    old_keys,
    rotate_stored_secrets,
)
from store.db import create_db_and_tables, make_engine
from store.migrations.apply import StoreUpgradeError
from store.settings import KEY_ENV


def run(args: argparse.Namespace) -> int:
    """Rotate; 0 done, 1 a secret no key reads or no usable key (nothing changed)."""
    if args.generate:
        sys.stdout.write(generate_key() + "\n")
        return 0
    engine = make_engine(args.database_url)
    try:
        create_db_and_tables(engine)
        if not old_keys():
            sys.stdout.write(
                f"Note: {OLD_KEYS_ENV} lists no old key, so every secret must already decrypt "
                f"with {KEY_ENV}; they are re-encrypted with it.\n"
            )
        with engine.begin() as conn:
            count = rotate_stored_secrets(conn)
    except (SecretKeyError, StoreUpgradeError) as exc:
        sys.stderr.write(f"error: {exc} Nothing was changed.\n")
        return 1
    finally:
        engine.dispose()
    sys.stdout.write(
        f"Re-encrypted {count} stored secret(s) with the key from {KEY_ENV}. Run `python -m "
        f"store check`; when it says secrets_ok, remove the old key from {OLD_KEYS_ENV}.\n"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `rotate-key` to `python -m store`."""
    parser = subparsers.add_parser(
        "rotate-key",
        help=__doc__.splitlines()[0],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or ./data")
    parser.add_argument("--generate", action="store_true", help="print a new key and exit")
    parser.set_defaults(func=run)
