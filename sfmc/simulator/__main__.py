"""`python -m sfmc.simulator`: the same program as `python -m simulator`."""

import sys

from simulator.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
