"""`python -m store ...`: the store's shell commands (refresh a data set, upgrade, check, users, keys).

Each command lives in its own module under `store/` that exposes ``register(subparsers) -> None``:
it adds one subparser and sets ``func`` (taking the parsed ``argparse.Namespace`` and returning
an exit status) with ``parser.set_defaults(func=...)``. A module listed below that does not
exist yet is skipped, so a registration can land before its module does.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Registration point: module names under `store/`, in --help order.
COMMAND_MODULES: tuple[str, ...] = (
    "cli_refresh",
    "cli_upgrade",
    "cli_check",
    "cli_users",
    "cli_keys",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the CLI parser with every available command registered."""
    parser = argparse.ArgumentParser(prog="python -m store", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"store.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"store.{name}":
                raise
            continue  # registered ahead of its module (see the module docstring)
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status is the process's."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
