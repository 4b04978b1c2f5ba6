"""Timing children whose memory the host has already backed.

On the virtual machine these benchmarks run on, the host backs the guest's
memory when the guest first touches it, and takes it back within seconds of
the guest freeing it. Touching 1.84 GB took 0.30 s when that memory had been
freed 0-0.5 s before, 1.1 s after 1 s and 2.1 s after 5 s (0.17 s/GB once
backed). A step that writes a large output over several seconds pays the
host's cost for a share of its pages that grows with its output and its run
time: a cost of the machine that reads as time growing faster than the rows.
NystroemKernelFusion's output, 7.2 kB a row written over about 20 µs a row,
took 18-19 µs per row at 32,000-128,000 rows and 23 µs at 256,000 in plain
processes, and a flat 15 µs at 64,000 and 256,000 rows on backed memory.

A child started with :func:`environment` keeps every block it frees: glibc
allocates nothing by ``mmap`` and never trims its heap. The child calls
:func:`hold_ballast` first, which touches and frees a ballast of the size
given, so the step's allocations reuse memory backed and mapped already, at
every size alike, with no page faults. Such a child's resident memory says
nothing of the step's: peak memory comes from a plain child.
"""

import os

import numpy as np

BALLAST = "POLYMODAL_BENCH_BALLAST"


def environment(ballast):
    """Environment variables of a child that holds ``ballast`` bytes backed."""
    return {
        "MALLOC_MMAP_MAX_": "0",
        "MALLOC_TRIM_THRESHOLD_": str(1 << 40),
        BALLAST: str(int(ballast)),
    }


def hold_ballast():
    """Touch and free the ballast that :func:`environment` asked for, if any."""
    size = int(os.environ.get(BALLAST, "0"))
    if size:
        ballast = np.ones(size // 8)
        del ballast
