"""Open the index once and keep serving it; pick up a rebuilt or updated index by itself.

Each thread keeps its own Whoosh searcher (Whoosh's readers seek shared file
handles, so they are not shared across threads), but everything a search keeps
in memory (postings, per-document arrays) lives in one ``Shared`` per
generation and process, so memory does not grow with the server's threads.
Before a query the cache checks, cheaply, whether ``CURRENT`` names another
generation or Whoosh has a newer commit, and reopens only then.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh import scoring
from whoosh.index import Index
from whoosh.searching import Searcher

import indexer
from indexer import settings
from search._engine import Shared, engine_for
from search.errors import IndexDamagedError, IndexNotFoundError

# The CURRENT file is re-read at most this often per thread.
RECHECK_SECONDS = 0.5
BM25_B = 0.75
BM25_K1 = 1.2


class BM25(scoring.BM25F):
    """Whoosh's BM25F with the probabilistic IDF that Lucene and the BM25 papers use.

    Whoosh's default IDF, ``1 + log(N / (df + 1))``, never falls below 1, so the
    commonest character bigrams and words (什么, 一个, 的是) weigh almost as much
    as a name; ``log(1 + (N - df + 0.5) / (df + 0.5))`` goes to zero for them.
    """

    def idf(self, searcher: Searcher, fieldname: str, text: str) -> float:
        parent = searcher.get_parent()
        df = parent.doc_frequency(fieldname, text)
        n = parent.doc_count_all()
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


def weighting() -> scoring.WeightingModel:
    return BM25(B=BM25_B, K1=BM25_K1)


@dataclass
class _Open:
    generation: Path
    index: Index
    searcher: Searcher
    current_mtime: float
    checked_at: float

    def __del__(self) -> None:
        # A thread's searchers go when the thread does: close their files now
        # rather than whenever the garbage collector gets to them.
        try:
            self.searcher.close()
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

    def _attach(self, root: Path, generation: Path, searcher: Searcher) -> Searcher:
        engine_for(searcher, self.shared(root, generation, searcher))
        return searcher

    def _slots(self) -> dict[Path, _Open]:
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
        return slots

    def searcher(self, index_dir: str | os.PathLike[str] | None) -> tuple[Searcher, Path]:
        root = settings.index_dir(index_dir).resolve()
        slots = self._slots()
        now = time.monotonic()
        entry = slots.get(root)
        if entry is not None and now - entry.checked_at < RECHECK_SECONDS:
            return entry.searcher, entry.generation
        current = root / "CURRENT"
        try:
            mtime = current.stat().st_mtime_ns
        except OSError:
            mtime = -1
        if entry is not None and mtime == entry.current_mtime and entry.generation.exists():
            entry.checked_at = now
            if not entry.searcher.up_to_date():
                try:
                    fresh = entry.searcher.refresh()
                    if fresh is not entry.searcher:
                        entry.searcher.close()
                        entry.searcher = self._attach(root, entry.generation, fresh)
                except (OSError, ValueError) as exc:
                    raise IndexNotFoundError(f"the index in {root} cannot be read: {exc}") from exc
            return entry.searcher, entry.generation
        try:
            generation = indexer.current_generation(root)
            ix = indexer.open_generation(generation)
            searcher = self._attach(root, generation, ix.searcher(weighting=weighting()))
        except indexer.IndexNotFoundError as exc:
            raise IndexNotFoundError(str(exc)) from exc
        except indexer.IndexDamagedError as exc:
            raise IndexDamagedError(str(exc)) from exc
        slots[root] = _Open(generation, ix, searcher, mtime, now)  # the replaced entry closes its searcher
        return searcher, generation


CACHE = IndexCache()
