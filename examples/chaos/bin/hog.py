#!/usr/bin/env python3
"""A CPU hog: spins until stopped (for at most ten minutes, should nothing stop it)."""
import time

end = time.monotonic() + 600
while time.monotonic() < end:
    pass
