#!/usr/bin/env python3
"""A process that starts leaking memory on SIGUSR1: 4 MB every 50 ms, up to 200 MB (a cap, so a
forgotten leaker cannot hurt the machine). A new process does not leak."""
import signal, time

leaking = False
hoard = []


def start_leaking(*_):
    global leaking
    leaking = True


signal.signal(signal.SIGUSR1, start_leaking)
while True:
    if leaking and len(hoard) < 50:
        hoard.append(bytearray(b"x" * (4 << 20)))
    time.sleep(0.05)
