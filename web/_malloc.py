"""Fewer glibc malloc arenas for the threaded server.

glibc gives threads that allocate at once arenas of their own, up to eight per
core; the numpy buffers a search allocates and frees (masks and score arrays of
one entry per article) then fragment every arena, and a waitress process's
memory grows with its threads. Two arenas, as ``MALLOC_ARENA_MAX=2`` would set
(the setting gunicorn's and many servers' docs give for the same reason), cost
little contention here: the GIL already serialises most of a search.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
ARENAS = 2


def limit_arenas() -> bool:
    """Cap glibc's arenas unless ``MALLOC_ARENA_MAX`` already says; False where there is no glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, ARENAS))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return False
