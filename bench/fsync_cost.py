#!/usr/bin/env python3
"""What one durable flush costs on this machine's disk, in wall time and CPU.

Group commit pays one of these per batch of leads, so this bounds what any
"fsynced before the answer" design can reach here. The cases:

- a 4 KiB write + fdatasync, appending to a growing file (the size change is
  metadata the flush must also write) and overwriting a preallocated one;
- what one SQLite commit of the benchmark does to its log, about 22 frames
  and one fdatasync, here as 22 writes of 4 KiB (SQLite itself writes each
  frame as a 24-byte header and then the page), and the same writes
  without the flush (what the writes alone cost);
- 16 KiB written with O_DIRECT | O_DSYNC to a preallocated file, the
  cheapest way to make a batch's bytes durable: what an intake journal in
  front of SQLite would pay instead of the log's fsync.

    python3 bench/fsync_cost.py [directory] [rounds]
"""
import mmap
import os
import sys
import tempfile
import time


def measure(directory, rounds, preallocate, pages=1, size=4096, sync=True, direct=False):
    fd, path = tempfile.mkstemp(dir=directory, prefix="fsync-cost-")
    try:
        if preallocate:
            os.write(fd, b"\0" * (rounds * pages * size))
            os.fsync(fd)
        if direct:
            os.close(fd)
            fd = os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_DSYNC)
        # O_DIRECT needs an aligned buffer; an anonymous map is page-aligned.
        block = mmap.mmap(-1, size)
        block.write(b"x" * size)
        offset = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            for _ in range(pages):
                os.pwrite(fd, block, offset)
                offset += size
            if sync:
                os.fdatasync(fd)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall / rounds * 1e6, cpu / rounds * 1e6
    finally:
        os.close(fd)
        os.unlink(path)


CASES = [
    ("4 KiB appended + fdatasync", dict(preallocate=False)),
    ("4 KiB preallocated, overwritten + fdatasync", dict(preallocate=True)),
    ("22 x 4 KiB preallocated + fdatasync (one commit's log frames)", dict(preallocate=True, pages=22)),
    ("22 x 4 KiB preallocated, no flush (the page writes alone)", dict(preallocate=True, pages=22, sync=False)),
    ("16 KiB with O_DIRECT and O_DSYNC, preallocated", dict(preallocate=True, size=16384, sync=False, direct=True)),
]


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    print("| write | µs each (wall) | µs each (CPU) |")
    print("|---|---:|---:|")
    for _ in range(2):
        for label, case in CASES:
            wall, cpu = measure(directory, rounds, **case)
            print(f"| {label} | {wall:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
