"""`python -m sfmc.simulator`: an alias that runs `python -m simulator` (no import of it here)."""

import runpy

if __name__ == "__main__":
    runpy.run_module("simulator", run_name="__main__", alter_sys=True)
