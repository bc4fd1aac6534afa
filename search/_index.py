"""Open the index once and keep serving it; pick up a rebuilt or updated index by itself.

``CACHE.backend(index_dir)`` is this thread's backend (``search._local``) of the
index's current generation. Each thread keeps its own Whoosh searcher (Whoosh's readers seek shared file
handles, so they are not shared across threads), but everything a search keeps
in memory (postings, per-document arrays) lives in one ``Shared`` per
generation and process, so memory does not grow with the server's threads.
Before a query the cache checks, cheaply, whether ``CURRENT`` names another
generation or Whoosh has a newer commit, and reopens only then.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import scoring
from whoosh.index import Index
from whoosh.searching import Searcher

import indexer
from indexer import CURRENT, settings
from indexer.schema import BM25_B, BM25_K1
from search._local import LocalBackend
from search._ranking import idf
from search._shared import Shared
from search.errors import IndexDamagedError, IndexNotFoundError, IndexVersionError

# The CURRENT file is re-read at most this often per thread.
RECHECK_SECONDS = 0.5


class BM25(scoring.BM25F):
    """Whoosh's BM25F with the probabilistic IDF (``search._ranking.idf``), for
    Whoosh's own searcher (``more_like``) to score as ``search._ranking`` does."""

    def idf(self, searcher: Searcher, fieldname: str, text: str) -> float:
        parent = searcher.get_parent()
        return idf(parent.doc_count_all(), parent.doc_frequency(fieldname, text))


def weighting() -> scoring.WeightingModel:
    return BM25(B=BM25_B, K1=BM25_K1)


@dataclass
class _Open:
    generation: Path
    index: Index | None
    backend: Any  # LocalBackend, or search._xapian.XapianBackend
    current_mtime: float
    checked_at: float

    def __del__(self) -> None:
        # A thread's searchers go when the thread does: close their files now
        # rather than whenever the garbage collector gets to them.
        try:
            self.backend.close()
        except Exception:  # noqa: BLE001 - already closed, or interpreter shutdown
            pass


class IndexCache:
    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        # The shared state of the newest commit seen of each index folder; threads still on an
        # older one keep theirs alive through their engines until they move on.
        self._shared: dict[Path, tuple[tuple[str, int], Shared]] = {}

    def clear(self) -> None:
        """Forget this thread's open indexes and the process's shared caches; the next query reopens."""
        self._local.slots = {}
        for backend in getattr(self._local, "remote", {}).values():
            backend.close()
        self._local.remote = {}
        with self._lock:
            self._shared.clear()

    def shared(self, root: Path, generation: Path, searcher: Searcher) -> Shared:
        """The one ``Shared`` of this generation and Whoosh commit in this process."""
        key = (generation.name, searcher.reader().generation())
        with self._lock:
            found = self._shared.get(root)
            if found is None or found[0] != key:
                found = self._shared[root] = (key, Shared())
            return found[1]

    def _backend(self, root: Path, generation: Path, searcher: Searcher) -> LocalBackend:
        return LocalBackend(searcher, generation, self.shared(root, generation, searcher), k1=BM25_K1, b=BM25_B)

    def _slots(self) -> dict[Path, _Open]:
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
        return slots

    def backend(self, index_dir: str | os.PathLike[str] | None) -> Any:
        """This thread's backend of the index's current generation (reopened when it changed)."""
        location = settings.index_location(index_dir)
        if location.startswith("xapian://"):
            return self._remote(location)
        root = settings.index_dir(index_dir).resolve()
        slots = self._slots()
        now = time.monotonic()
        entry = slots.get(root)
        if entry is not None and now - entry.checked_at < RECHECK_SECONDS:
            return entry.backend
        try:
            mtime = (root / CURRENT).stat().st_mtime_ns
        except OSError:
            mtime = -1
        if entry is not None and mtime == entry.current_mtime and entry.generation.exists():
            entry.checked_at = now
            if entry.index is None:  # Xapian shards: a generation never changes once published
                return entry.backend
            searcher = entry.backend.searcher
            if not searcher.up_to_date():
                try:
                    fresh = searcher.refresh()
                    if fresh is not searcher:
                        searcher.close()
                        entry.backend = self._backend(root, entry.generation, fresh)
                except (OSError, ValueError) as exc:
                    raise IndexNotFoundError(f"the index in {root} cannot be read: {exc}") from exc
            return entry.backend
        try:
            generation = indexer.current_generation(root)
            if indexer.check_meta(generation).get("backend") == "xapian":
                ix, backend = None, _xapian_backend(f"xapian://{','.join(str(p) for p in sorted(generation.glob('shard-*')))}",
                                                    vocabulary_dir=generation)
            else:
                ix = indexer.open_generation(generation)
                backend = self._backend(root, generation, ix.searcher(weighting=weighting()))
        except indexer.IndexVersionError as exc:
            raise IndexVersionError(str(exc)) from exc
        except indexer.IndexNotFoundError as exc:
            raise IndexNotFoundError(str(exc)) from exc
        except indexer.IndexDamagedError as exc:
            raise IndexDamagedError(str(exc)) from exc
        slots[root] = _Open(generation, ix, backend, mtime, now)  # the replaced entry closes its searcher
        return backend

    def _remote(self, location: str) -> Any:
        """This thread's connections to the shard servers, renewed every few seconds (a new
        connection opens whatever generation each server's stub names now)."""
        from search import _xapian

        slots = self._remote_slots()
        now = time.monotonic()
        found = slots.get(location)
        if found is not None and now - found.opened < _xapian.RECHECK_SECONDS:
            return found
        fresh = _xapian_backend(location)
        if found is not None:
            found.close()
        slots[location] = fresh
        return fresh

    def _remote_slots(self) -> dict[str, Any]:
        slots = getattr(self._local, "remote", None)
        if slots is None:
            slots = self._local.remote = {}
        return slots


def _xapian_backend(location: str, *, vocabulary_dir: Path | None = None) -> Any:
    try:
        from search import _shards, _xapian
    except ImportError as exc:
        raise IndexNotFoundError("this index is made of Xapian shards: install the xapian extra "
                                 "(pip install 'zhsearch[xapian]')") from exc
    return _xapian.XapianBackend(location, _shards.parse_location(location), vocabulary_dir=vocabulary_dir)


CACHE = IndexCache()
