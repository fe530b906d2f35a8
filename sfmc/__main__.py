"""`python -m sfmc ...`: see `sfmc/cli.py`."""

from __future__ import annotations

import sys

from sfmc.cli import main

if __name__ == "__main__":
    sys.exit(main())
