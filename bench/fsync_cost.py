#!/usr/bin/env python3
"""What one durable flush costs on this machine's disk, in wall time and CPU.

Group commit pays one of these per batch of leads, so this bounds what any
"fsynced before the answer" design can reach here. Two cases: appending to a
growing file (the size change is metadata the flush must also write) and
overwriting a preallocated one (data only), each 4 KiB write + fdatasync.

    python3 bench/fsync_cost.py [directory] [rounds]
"""
import os
import sys
import tempfile
import time


def measure(directory, preallocate, rounds, size=4096):
    fd, path = tempfile.mkstemp(dir=directory, prefix="fsync-cost-")
    try:
        if preallocate:
            os.write(fd, b"\0" * (rounds * size))
            os.fsync(fd)
        block = b"x" * size
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(rounds):
            os.pwrite(fd, block, i * size)
            os.fdatasync(fd)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall / rounds * 1e6, cpu / rounds * 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    print("| file | µs per flush (wall) | µs per flush (CPU) |")
    print("|---|---:|---:|")
    for preallocate in (False, True, False, True):
        wall, cpu = measure(directory, preallocate, rounds)
        kind = "preallocated, overwritten" if preallocate else "appended"
        print(f"| {kind} | {wall:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
