"""`python -m bench ...`: throughput, memory and re-sync benchmarks (not tests).

Subcommands live in their own modules. Each module exposes EITHER
``register(subparsers) -> None`` which adds one subparser and sets ``func`` (a callable taking the
parsed ``argparse.Namespace`` and returning an exit status) with ``parser.set_defaults(func=...)``,
OR ``add_arguments(parser)`` + ``run(args) -> int`` (the subcommand is then named after the
module and its help is the module docstring's first line). To add a subcommand (e.g. helper F's ``chaos``), create ``bench/<name>.py`` with ``register`` and
add ``"<name>"`` to ``SUBCOMMAND_MODULES`` below. A listed module that does not exist yet is skipped,
so a registration can land before its module does.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Registration point: module names under `bench/`, in --help order.
SUBCOMMAND_MODULES: tuple[str, ...] = ("push", "resync", "importer", "chaos", "live", "ui")


def build_parser() -> argparse.ArgumentParser:
    """Build the CLI parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            continue  # registered ahead of its module (see the module docstring)
        if hasattr(module, "register"):
            module.register(subparsers)
        elif hasattr(module, "add_arguments") and hasattr(module, "run"):
            doc = (module.__doc__ or name).strip().splitlines()[0]
            sub = subparsers.add_parser(name, help=doc, description=module.__doc__)
            module.add_arguments(sub)
            sub.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen benchmark; returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
