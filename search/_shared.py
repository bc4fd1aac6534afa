"""What every thread's engine over one generation shares, read once per process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from indexer import settings
from search._postings import Postings

_ABSENT_BYTES = 64  # what remembering that a term is absent costs
_MISSING = object()


class Shared:
    """What every thread's engine over one generation shares, read once per process.

    Per-document arrays (the alive mask, field lengths, dates, columns) are read
    once; postings are kept in one LRU bounded in bytes (document numbers, term
    frequencies and the position strings phrases have read). Engines read
    through their own thread's Whoosh readers and put what they read here; the
    lock guards only the bookkeeping, never a read.
    """

    def __init__(self, budget_bytes: int | None = None) -> None:
        # Postings kept (document numbers and frequencies, 8 bytes a posting, plus the
        # position strings phrases have read): ZHSEARCH_CACHE_MB, 64 MB by default.
        self.budget = settings.cache_bytes() if budget_bytes is None else budget_bytes
        self._lock = threading.Lock()
        self._postings: OrderedDict[tuple[str, str], Postings | None] = OrderedDict()
        self._bytes = 0
        self._once: dict[Any, Any] = {}

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def once(self, key: Any, compute: Any) -> Any:
        """``compute()`` the first time ``key`` is asked for; its result ever after."""
        found = self._once.get(key, _MISSING)
        if found is _MISSING:
            value = compute()
            with self._lock:
                found = self._once.setdefault(key, value)
        return found

    def postings(self, key: tuple[str, str], read: Any) -> Postings | None:
        with self._lock:
            if key in self._postings:
                self._postings.move_to_end(key)
                return self._postings[key]
        found = read()
        with self._lock:
            if key in self._postings:  # another thread read it meanwhile: keep one copy
                return self._postings[key]
            self._postings[key] = found
            if found is not None:
                found.cached = True
            self._bytes += _size(found)
            self._evict()
        return found

    def charge(self, postings: Postings, nbytes: int) -> None:
        """``postings`` now also holds ``nbytes`` of decoded positions. Its size changes under
        this lock only, so an eviction never takes away bytes that were not counted in."""
        with self._lock:
            postings.nbytes += nbytes
            if postings.cached:  # an evicted term's bytes are no longer counted
                self._bytes += nbytes
                self._evict()

    def _evict(self) -> None:
        while self._bytes > self.budget and len(self._postings) > 1:
            _, old = self._postings.popitem(last=False)
            if old is not None:
                old.cached = False
            self._bytes -= _size(old)


def _size(postings: Postings | None) -> int:
    """What one cache entry counts: its arrays and position strings, or remembering an absent term."""
    return postings.nbytes if postings is not None else _ABSENT_BYTES
