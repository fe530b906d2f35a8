"""`python -m sfmc.simulator`, the simulator's historical command name; the code is in `simulator/`."""
