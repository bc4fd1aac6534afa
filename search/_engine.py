"""Query evaluation over the index's postings, vectorised with numpy.

``search._query`` describes a query with Whoosh query objects (``And``, ``Or``,
``Term``, ``Phrase``, ``Prefix``, ``DateRange``, ``Every``); this module
evaluates them itself instead of through Whoosh's matcher tree, which costs
Python calls per posting per query node:

- each term's postings are read once into numpy arrays of document numbers and
  term frequencies (``search._postings``) and kept in an LRU bounded in bytes
  that every thread over the generation shares (``Shared``, with the
  per-document arrays); positions are read only for the documents a phrase
  or the proximity bonus asks about;
- document sets are boolean masks over all documents, so AND/OR/NOT are
  vector operations;
- BM25 scores are accumulated per term over its whole posting list at once,
  with the same formula, IDF and quantised field lengths as
  ``search._index.BM25`` gives through Whoosh, so the ranking is unchanged;
- one exception, on purpose: a one-character prefix (the last resort for a lone
  character) scores by BM25 over the bigrams it expands to, where Whoosh gives
  every match the same constant score;
- phrases (and the proximity bonus) read positions only for documents that
  hold every word; the proximity bonus is bounded by its words' own scores, so
  ranking stops checking positions once no remaining document can reach the top.

An engine belongs to one searcher (one thread, one generation); its ``Shared``
state belongs to the generation, one per process.
"""

from __future__ import annotations

import bisect
import heapq
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length
from whoosh.util.times import datetime_to_long

from indexer import schema as F
from indexer import settings
from indexer.matchtext import match_text
from search._postings import DenseFile, Postings, read_postings

PREFETCH = 64  # documents whose positions the ranking checks in one batch
_ABSENT_BYTES = 64  # what remembering that a term is absent costs
_MISSING = object()
_LENGTH_OF_BYTE = np.array([1.0] + [float(byte_to_length(b)) for b in range(1, 256)])
NO_DATE = np.uint64(2**64 - 1)


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
        """``postings`` now also holds ``nbytes`` of position strings."""
        with self._lock:
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


class Engine:
    """Query evaluation for one thread's searcher, over its generation's ``Shared`` state."""

    def __init__(self, searcher: Searcher, weighting: Any, shared: Shared | None = None) -> None:
        reader = searcher.reader()
        self.reader = reader
        self.shared = shared if shared is not None else Shared()
        self.n = reader.doc_count_all()
        self.leaves = list(reader.leaf_readers())
        self.k1 = float(weighting.K1)
        self.b = float(weighting.B)
        self._bases = [base for _leaf, base in self.leaves]
        self._text_columns: dict[int, Any] = {}

    @property
    def alive(self) -> np.ndarray:
        def compute() -> np.ndarray:
            alive = np.zeros(self.n, dtype=bool)
            alive[list(self.reader.all_doc_ids())] = True
            return alive

        return self.shared.once("alive", compute)

    # ----- postings and statistics

    def postings(self, field: str, text: str) -> Postings | None:
        return self.shared.postings((field, text), lambda: self._read(field, text))

    def _read(self, field: str, text: str) -> Postings | None:
        if field not in self.reader.schema:
            return None
        btext = self.reader.schema[field].to_bytes(text)
        return read_postings(self.leaves, self._dense(), field, btext, self.shared.charge)

    def _dense(self) -> list[DenseFile]:
        return self.shared.once("dense", lambda: [DenseFile.open(leaf) for leaf, _base in self.leaves])

    def lengths(self, field: str) -> np.ndarray:
        return self.shared.once(("lengths", field), lambda: self._read_lengths(field))[0]

    def average_length(self, field: str) -> float:
        return self.shared.once(("lengths", field), lambda: self._read_lengths(field))[1]

    def _read_lengths(self, field: str) -> tuple[np.ndarray, float]:
        parts = []
        for leaf, _base in self.leaves:
            count = leaf.doc_count_all()
            perdoc = leaf._perdoc  # Whoosh's per-document reader: the lengths column is one byte a document
            column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN) if hasattr(perdoc, "_cached_reader") else None
            if column is None:
                parts.append(np.array([leaf.doc_field_length(d, field, 1) for d in range(count)], dtype=np.float64))
            else:
                raw = np.fromiter(iter(column), dtype=np.uint8, count=count)
                parts.append(_LENGTH_OF_BYTE[raw])
        lengths = np.concatenate(parts) if parts else np.zeros(0)
        return lengths, (self.reader.field_length(field) / (self.n or 1)) or 1.0

    def idf(self, field: str, df: int) -> float:
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def term_scores(self, field: str, postings: Postings, boost: float) -> np.ndarray:
        """BM25 of one term for each document of its posting list (Whoosh's BM25F formula)."""
        lengths = self.lengths(field)
        idf = self.idf(field, len(postings.ids))  # like Whoosh: deleted documents still count
        tf = postings.tf
        norm = self.k1 * ((1 - self.b) + self.b * lengths[postings.ids] / self.average_length(field))
        return boost * idf * (tf * (self.k1 + 1)) / (tf + norm)

    # ----- document sets

    def term_mask(self, field: str, text: str) -> np.ndarray:
        """The documents (deleted ones included) holding one term."""
        out = np.zeros(self.n, dtype=bool)
        p = self.postings(field, text)
        if p is not None:
            out[p.ids] = True
        return out

    def match_text(self, docnum: int) -> bytes:
        """A document's stored normal form (``indexer.matchtext``), for exact matching."""
        i = bisect.bisect_right(self._bases, docnum) - 1
        leaf, base = self.leaves[i]
        column = self._text_columns.get(i)
        if column is None:
            column = self._text_columns[i] = leaf.column_reader(F.MATCH_TEXT) if leaf.has_column(F.MATCH_TEXT) else False
        if column is False:
            stored = leaf.stored_fields(docnum - base)
            return match_text(None if stored.get(F.TITLE_DERIVED) else stored.get(F.HEADLINE), stored.get(F.BODY, ""))
        return column[docnum - base]

    def mask(self, q: Q.Query) -> np.ndarray:
        """The documents matching ``q`` (deleted ones never)."""
        return self._mask(q) & self.alive

    def _mask(self, q: Q.Query) -> np.ndarray:
        if isinstance(q, Q.And):
            out = np.ones(self.n, dtype=bool)
            for child in q.children():
                out &= self._mask(child)
                if not out.any():
                    break
            return out
        if isinstance(q, Q.Or):
            out = np.zeros(self.n, dtype=bool)
            for child in q.children():
                out |= self._mask(child)
            return out
        if isinstance(q, Q.Term):
            out = np.zeros(self.n, dtype=bool)
            p = self.postings(q.fieldname, q.text)
            if p is not None:
                out[p.ids] = True
            return out
        if isinstance(q, Q.Prefix):
            return self._mask(Q.Or([Q.Term(q.fieldname, t) for t in self._expand(q)]))
        if isinstance(q, Q.Phrase):
            out = np.zeros(self.n, dtype=bool)
            out[self.phrase_docs(q)] = True
            return out
        if isinstance(q, Q.DateRange):
            return self._date_mask(q)
        if isinstance(q, Q.Every):
            return np.ones(self.n, dtype=bool)
        if q is Q.NullQuery or isinstance(q, type(Q.NullQuery)):
            return np.zeros(self.n, dtype=bool)
        raise TypeError(f"query type {type(q).__name__} is not supported by the engine")

    def _expand(self, q: Q.Prefix) -> list[str]:
        return [t.decode("utf-8") if isinstance(t, bytes) else t for t in self.reader.expand_prefix(q.fieldname, q.text)]

    def phrase_docs(self, q: Q.Phrase, within: np.ndarray | None = None) -> list[int]:
        """Documents where the words occur in order, each 1..slop positions after the previous."""
        plists = [self.postings(q.fieldname, w) for w in q.words]
        if not plists or any(p is None for p in plists):
            return []
        candidates = np.ones(self.n, dtype=bool) if within is None else within.copy()
        for p in plists:
            m = np.zeros(self.n, dtype=bool)
            m[p.ids] = True
            candidates &= m
        if len(plists) == 1:
            return np.flatnonzero(candidates).tolist()
        slop = max(1, q.slop)
        docs = np.flatnonzero(candidates).tolist()
        columns = [p.positions_many(docs, self.leaves) for p in plists]  # type: ignore[union-attr]
        return [d for d, *positions in zip(docs, *columns) if _in_order(positions, slop)]

    def _per_leaf(self, name: str, *, translate: bool, missing: Any) -> list[Any]:
        """A column's value for every document, segment by segment: a segment written
        without the column (no article of it had the field) gives ``missing`` for each
        of its documents. Whoosh's multi-segment column reader leaves such segments out,
        which would shift every later document onto another's value."""
        values: list[Any] = []
        for leaf, _base in self.leaves:
            count = leaf.doc_count_all()
            if leaf.has_column(name):
                column = leaf.column_reader(name, translate=translate)
                values.extend(column[d] for d in range(count))
            else:
                values.extend([missing] * count)
        return values

    def dates(self) -> np.ndarray:
        """Publication times as Whoosh's raw DATETIME column values; ``NO_DATE`` when undated."""
        return self.shared.once("dates", lambda: np.array(
            self._per_leaf(F.PUBLISHED, translate=False, missing=int(NO_DATE)), dtype=np.uint64))

    def _date_mask(self, q: Q.DateRange) -> np.ndarray:
        dates = self.dates()
        out = dates != NO_DATE
        # Whoosh's DateRange holds its bounds as the same raw values (inclusive here).
        for bound, keep in ((q.start, np.greater_equal), (q.end, np.less_equal)):
            if bound is not None:
                value = datetime_to_long(bound) if hasattr(bound, "replace") else int(bound)
                out &= keep(dates, np.uint64(value))
        return out

    # ----- ranking

    def scores(self, clauses: list[Q.Query], pool: np.ndarray) -> tuple[np.ndarray, list[tuple[Q.Phrase, np.ndarray]]]:
        """Term scores of every document (dense), and for each phrase clause the bonus it would add if its words are in place."""
        total = np.zeros(self.n)
        bonuses: list[tuple[Q.Phrase, np.ndarray]] = []
        for q in clauses:
            if isinstance(q, Q.Term):
                p = self.postings(q.fieldname, q.text)
                if p is not None:
                    total[p.ids] += self.term_scores(q.fieldname, p, q.boost)
            elif isinstance(q, Q.Prefix):
                for text in self._expand(q):
                    p = self.postings(q.fieldname, text)
                    if p is not None:
                        total[p.ids] += self.term_scores(q.fieldname, p, q.boost)
            elif isinstance(q, Q.Phrase):
                plists = [self.postings(q.fieldname, w) for w in q.words]
                if any(p is None for p in plists):
                    continue
                bonus = np.zeros(self.n)
                have = pool.copy()
                for p in plists:
                    m = np.zeros(self.n, dtype=bool)
                    m[p.ids] = True
                    have &= m
                    bonus[p.ids] += self.term_scores(q.fieldname, p, q.boost)
                bonus[~have] = 0.0
                if have.any():
                    bonuses.append((q, bonus))
            else:
                raise TypeError(f"ranking clause {type(q).__name__} is not supported by the engine")
        return total, bonuses

    def rank(self, clauses: list[Q.Query], docs: np.ndarray, limit: int | None) -> list[tuple[int, float]]:
        """The best ``limit`` of ``docs`` (a mask) by the clauses' summed scores, ties by document number."""
        if not docs.any():
            return []
        base, bonuses = self.scores(clauses, docs)
        ids = np.flatnonzero(docs)
        upper = base[ids].copy()
        for _q, bonus in bonuses:
            upper += bonus[ids]
        if not bonuses:
            order = np.lexsort((ids, -upper))
            if limit is not None:
                order = order[:limit]
            return [(int(ids[i]), float(upper[i])) for i in order]
        # Exact scores in order of their upper bounds, until none left can enter the top.
        order = np.lexsort((ids, -upper)).tolist()
        best: list[tuple[float, int]] = []  # min-heap of (score, -docnum)
        finals: list[tuple[int, float]] = []
        near: dict[tuple[int, int], bool] = {}  # (clause, docnum) -> words in place
        for n, i in enumerate(order):
            d = int(ids[i])
            if limit is not None and len(best) >= limit and upper[i] < best[0][0]:
                break
            if n % PREFETCH == 0:  # check the next documents in line a batch at a time
                batch = sorted(int(ids[j]) for j in order[n : n + PREFETCH])
                for c, (q, bonus) in enumerate(bonuses):
                    docs = [b for b in batch if bonus[b]]
                    columns = [self.postings(q.fieldname, w).positions_many(docs, self.leaves) for w in q.words]  # type: ignore[union-attr]
                    for b, *positions in zip(docs, *columns):
                        near[(c, b)] = _in_order(positions, max(1, q.slop))
            score = float(base[d])
            for c, (_q, bonus) in enumerate(bonuses):
                if bonus[d] and near.get((c, d)):
                    score += float(bonus[d])
            finals.append((d, score))
            if limit is not None:
                if len(best) < limit:
                    heapq.heappush(best, (score, -d))
                elif (score, -d) > best[0]:
                    heapq.heapreplace(best, (score, -d))
        finals.sort(key=lambda kv: (-kv[1], kv[0]))
        return finals[:limit] if limit is not None else finals

    # ----- columns

    def column(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """A stored column as integer codes per document and the list of distinct values."""

        def compute() -> tuple[np.ndarray, list[Any]]:
            raw = self._per_leaf(name, translate=True, missing=None)
            labels: dict[Any, int] = {}
            codes = np.fromiter((labels.setdefault(v, len(labels)) for v in raw), dtype=np.int64, count=len(raw))
            return codes, list(labels)

        return self.shared.once(("column", name), compute)


def _in_order(positions: list[list[int]], slop: int) -> bool:
    reached = set(positions[0])
    for nxt in positions[1:]:
        reached = {p for p in nxt if any(p - k in reached for k in range(1, slop + 1))}
        if not reached:
            return False
    return True


def engine_for(searcher: Searcher, shared: Shared | None = None) -> Engine:
    """The engine of ``searcher`` (made on first use, over ``shared`` or state of its own)."""
    found = getattr(searcher, "_zhsearch_engine", None)
    if found is None:
        found = Engine(searcher, searcher.weighting, shared)
        searcher._zhsearch_engine = found  # type: ignore[attr-defined]
    return found
