"""glibc allocator settings for the long-running server process.

By default glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), so after the
first big upload or decoded photo, later ones of that size come from the heap, and a heap region freed
between live ones stays resident. With threads in several arenas the server's RSS then grows in ~10 MB
steps under sustained mixed traffic (docs/operators.md, the soak). A fixed threshold keeps large buffers
mmapped (returned to the OS when freed), and two arenas bound what the heaps can hold. An operator's
`MALLOC_MMAP_THRESHOLD_` / `MALLOC_ARENA_MAX` (read by glibc at start) take precedence.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1024 * 1024  # blocks of 1 MiB or more are mmapped and unmapped when freed
ARENA_MAX = 2

_SETTINGS = (
    ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES, "mmap_threshold"),
    ("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENA_MAX, "arena_max"),
)


def tune_malloc() -> dict[str, int]:
    """Apply the settings above with `mallopt` where the C library is glibc; the ones applied (none on
    other systems, and none that the environment already sets)."""
    if not sys.platform.startswith("linux"):
        return {}
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, or no glibc
        return {}
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = {}
    for env, param, value, name in _SETTINGS:
        if env in os.environ:
            continue
        if mallopt(param, value) == 1:
            applied[name] = value
    return applied
