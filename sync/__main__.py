"""`python -m sync ...`: see `sync/cli.py`."""

import sys

from sync.cli import main

if __name__ == "__main__":
    sys.exit(main())
