"""Query evaluation over the index's postings, vectorised with numpy.

``search._query`` describes a query with Whoosh query objects (``And``, ``Or``,
``Term``, ``Phrase``, ``Prefix``, ``DateRange``, ``Every``); this module
evaluates them itself instead of through Whoosh's matcher tree, which costs
Python calls per posting per query node:

- each term's postings are read once into numpy arrays of document numbers and
  term frequencies (a slice of the segment's dense file for frequent terms,
  written by ``indexer._codec``; Whoosh's blocks for the others) and kept in a
  per-searcher LRU cache; positions are read only for the documents a phrase
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

An engine belongs to one searcher (one thread, one generation).
"""

from __future__ import annotations

import bisect
import heapq
import math
import os
import pickle
import struct
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.formats import Positions
from whoosh.matching import ListMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length
from whoosh.util.times import datetime_to_long

from indexer import schema as F
from indexer._codec import DENSE_EXT, DENSE_VERSION
from indexer.matchtext import match_text

PREFETCH = 64  # documents whose positions the ranking checks in one batch
CACHED_POSTINGS = 2_000_000  # postings kept per engine: 8 bytes each, plus positions of phrase words
_LENGTH_OF_BYTE = np.array([1.0] + [float(byte_to_length(b)) for b in range(1, 256)])
NO_DATE = np.uint64(2**64 - 1)
_POSITIONS = Positions()  # Whoosh's decoding of a position string


class Postings:
    """One term's postings over the whole index: document numbers and term frequencies;
    the position strings are read only when a phrase asks for them."""

    __slots__ = ("_value_of", "ids", "tf")

    def __init__(self, ids: np.ndarray, tf: np.ndarray, value_of: _Values) -> None:
        self.ids = ids
        self.tf = tf
        self._value_of = value_of

    def positions_many(self, docnums: list[int]) -> list[list[int]]:
        """Positions in each of these documents (sorted ascending)."""
        decode = _POSITIONS.decode_positions
        return [decode(v) if v else [] for v in self._value_of.many(docnums)]


class _Values:
    """Position strings of one term by document: from a segment's dense file when it has
    the term, else from Whoosh's blocks (all of the segment's, read on first use)."""

    def __init__(self, engine_leaves: list[tuple[Any, int]], dense: list[_DenseFile], field: str, btext: bytes) -> None:
        self._leaves = engine_leaves
        self._dense = dense
        self._field = field
        self._btext = btext
        self._segments: dict[int, tuple[np.ndarray, np.ndarray, bytes] | dict[int, bytes]] = {}

    def _segment(self, i: int) -> tuple[np.ndarray, np.ndarray, bytes] | dict[int, bytes]:
        found = self._segments.get(i)
        if found is None:
            found = self._dense[i].values(self._field, self._btext)
            if found is None:
                found = _segment_values(self._leaves[i][0], self._field, self._btext)
            self._segments[i] = found
        return found

    def many(self, docnums: list[int]) -> list[bytes]:
        """Position strings of these documents (sorted ascending), b"" where the term is absent."""
        out: list[bytes] = []
        start = 0
        for i, (_leaf, base) in enumerate(self._leaves):
            end = bisect.bisect_left(docnums, self._leaves[i + 1][1], lo=start) if i + 1 < len(self._leaves) else len(docnums)
            local = docnums[start:end]
            start = end
            if not local:
                continue
            seg = self._segment(i)
            if isinstance(seg, dict):
                out.extend(seg.get(d - base, b"") for d in local)
                continue
            ids, ends, blob = seg
            wanted = np.asarray(local, dtype=np.int64) - base
            ks = np.minimum(np.searchsorted(ids, wanted), max(len(ids) - 1, 0))
            hit = (ids[ks] == wanted) if len(ids) else np.zeros(len(wanted), dtype=bool)
            stops = ends[ks]
            starts = np.where(ks > 0, ends[np.maximum(ks - 1, 0)], 0)
            out.extend(blob[a:b] if h else b"" for a, b, h in zip(starts.tolist(), stops.tolist(), hit.tolist()))
        return out


class _DenseFile:
    """A segment's frequent terms as plain arrays (written by ``indexer._codec``), memory-mapped."""

    def __init__(self, data: np.ndarray | None, index: dict[tuple[str, bytes], tuple[int, int]]) -> None:
        self._data = data
        self._index = index

    @classmethod
    def open(cls, leaf: Any) -> _DenseFile:
        segment, storage = getattr(leaf, "_segment", None), getattr(leaf, "_storage", None)
        folder = getattr(storage, "folder", None)
        if segment is None or folder is None:
            return cls(None, {})
        path = os.path.join(folder, segment.make_filename(DENSE_EXT))
        try:
            data = np.memmap(path, dtype=np.uint8, mode="r")
            (start,) = struct.unpack("<Q", bytes(data[-8:]))
            stored = pickle.loads(bytes(data[start:-8]))
            if not isinstance(stored, dict) or stored.get("version") != DENSE_VERSION:
                raise ValueError("dense postings file of another version")
            index = stored["terms"]
        except (OSError, ValueError, EOFError, KeyError, struct.error, pickle.UnpicklingError):
            # No dense file (an index written before them) or a damaged one: Whoosh's blocks serve.
            return cls(None, {})
        return cls(data, index)

    def values(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray, bytes] | None:
        """The term's document numbers (in this segment), the end offsets of its position
        strings and those strings as one bytes object; None when this file lacks the term."""
        found = self._index.get((field, btext))
        if found is None or self._data is None:
            return None
        offset, count = found
        ids = self._data[offset : offset + 4 * count].view(np.uint32)
        ends = self._data[offset + 8 * count : offset + 12 * count].view(np.uint32).astype(np.int64)
        base = offset + 12 * count
        blob = bytes(self._data[base : base + (int(ends[-1]) if count else 0)])
        return ids, ends, blob

    def get(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        found = self._index.get((field, btext))
        if found is None or self._data is None:
            return None
        offset, count = found
        ids = self._data[offset : offset + 4 * count].view(np.uint32).astype(np.int32)
        tf = self._data[offset + 4 * count : offset + 8 * count].view(np.float32).copy()
        return ids, tf


def _decode_block(m: W3LeafMatcher) -> tuple[np.ndarray, np.ndarray]:
    """One W3 postings block as arrays: Whoosh stores the document numbers as a tuple
    of deltas and the weights as None (all 1), one float (all equal) or a float32 array;
    its own reader turns these into Python objects one posting at a time."""
    m._read_data()
    deltas, weights = m._data[0], m._data[1]
    ids = np.cumsum(np.asarray(deltas, dtype=np.int64)).astype(np.int32)
    if weights is None:
        tf = np.ones(len(ids), dtype=np.float32)
    elif isinstance(weights, float):
        tf = np.full(len(ids), weights, dtype=np.float32)
    else:
        tf = np.frombuffer(weights, dtype=np.float32).copy() if isinstance(weights, array) else np.asarray(weights, dtype=np.float32)
    return ids, tf


class Engine:
    def __init__(self, searcher: Searcher, weighting: Any) -> None:
        reader = searcher.reader()
        self.reader = reader
        self.n = reader.doc_count_all()
        self.leaves = list(reader.leaf_readers())
        self.alive = np.zeros(self.n, dtype=bool)
        self.alive[list(reader.all_doc_ids())] = True
        self.k1 = float(weighting.K1)
        self.b = float(weighting.B)
        self._postings: OrderedDict[tuple[str, str], Postings | None] = OrderedDict()
        self._cached = 0
        self._lengths: dict[str, np.ndarray] = {}
        self._avg: dict[str, float] = {}
        self._columns: dict[str, tuple[np.ndarray, list[Any]]] = {}
        self._dates: np.ndarray | None = None
        self._dense_files: dict[int, _DenseFile] = {}
        self._bases = [base for _leaf, base in self.leaves]
        self._text_columns: dict[int, Any] = {}

    # ----- postings and statistics

    def postings(self, field: str, text: str) -> Postings | None:
        key = (field, text)
        if key in self._postings:
            self._postings.move_to_end(key)
            return self._postings[key]
        found = self._read(field, text)
        self._postings[key] = found
        self._cached += len(found.ids) if found is not None else 1
        while self._cached > CACHED_POSTINGS and len(self._postings) > 1:
            _, old = self._postings.popitem(last=False)
            self._cached -= len(old.ids) if old is not None else 1
        return found

    def _read(self, field: str, text: str) -> Postings | None:
        if field not in self.reader.schema:
            return None
        btext = self.reader.schema[field].to_bytes(text)
        ids: list[np.ndarray] = []
        tfs: list[np.ndarray] = []
        for m, base, dense in self._matchers(field, btext):
            if dense is not None:
                ids.append(dense[0] + base)
                tfs.append(dense[1])
            elif isinstance(m, ListMatcher):
                ids.append(np.asarray(m._ids, dtype=np.int32) + base)
                weights = m._weights
                tfs.append(np.asarray(weights if weights is not None else [1.0] * len(m._ids), dtype=np.float32))
            elif isinstance(m, W3LeafMatcher):
                while m.is_active():
                    block_ids, block_tf = _decode_block(m)
                    ids.append(block_ids + base)
                    tfs.append(block_tf)
                    m._next_block()
            else:  # not expected with this codec: Whoosh's generic path
                while m.is_active():
                    ids.append(np.array([m.id() + base], dtype=np.int32))
                    tfs.append(np.array([m.weight()], dtype=np.float32))
                    m.next()
        if not ids:
            return None
        # The loader holds the segment readers, not the engine: no reference cycle through the cache.
        dense = [self._dense(i) for i in range(len(self.leaves))]
        return Postings(np.concatenate(ids), np.concatenate(tfs), _Values(self.leaves, dense, field, btext))

    def _matchers(self, field: str, btext: bytes) -> Iterator[tuple[Any, int, tuple[np.ndarray, np.ndarray] | None]]:
        """Per segment holding the term: its Whoosh matcher, its base document number,
        and its postings as arrays when the segment's dense file has them."""
        for i, (leaf, base) in enumerate(self.leaves):
            dense = self._dense(i).get(field, btext)
            if dense is not None:
                yield None, base, dense
            elif (field, btext) in leaf:
                m = leaf.postings(field, btext)
                while isinstance(m, FilterMatcher):  # deletions: handled by the alive mask
                    m = m.child
                yield m, base, None

    def _dense(self, i: int) -> _DenseFile:
        found = self._dense_files.get(i)
        if found is None:
            found = self._dense_files[i] = _DenseFile.open(self.leaves[i][0])
        return found


    def lengths(self, field: str) -> np.ndarray:
        found = self._lengths.get(field)
        if found is None:
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
            found = self._lengths[field] = np.concatenate(parts) if parts else np.zeros(0)
            self._avg[field] = (self.reader.field_length(field) / (self.n or 1)) or 1.0
        return found

    def idf(self, field: str, df: int) -> float:
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def term_scores(self, field: str, postings: Postings, boost: float) -> np.ndarray:
        """BM25 of one term for each document of its posting list (Whoosh's BM25F formula)."""
        lengths = self.lengths(field)
        idf = self.idf(field, len(postings.ids))  # like Whoosh: deleted documents still count
        tf = postings.tf
        norm = self.k1 * ((1 - self.b) + self.b * lengths[postings.ids] / self._avg[field])
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
        columns = [p.positions_many(docs) for p in plists]  # type: ignore[union-attr]
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
        if self._dates is None:
            self._dates = np.array(self._per_leaf(F.PUBLISHED, translate=False, missing=int(NO_DATE)), dtype=np.uint64)
        return self._dates

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
                    columns = [self.postings(q.fieldname, w).positions_many(docs) for w in q.words]  # type: ignore[union-attr]
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
        found = self._columns.get(name)
        if found is None:
            raw = self._per_leaf(name, translate=True, missing=None)
            labels: dict[Any, int] = {}
            codes = np.fromiter((labels.setdefault(v, len(labels)) for v in raw), dtype=np.int64, count=len(raw))
            found = self._columns[name] = (codes, list(labels))
        return found


def _segment_values(leaf: Any, field: str, btext: bytes) -> dict[int, bytes]:
    """All position strings of a term in one segment, by document, from Whoosh's blocks."""
    if (field, btext) not in leaf:
        return {}
    m = leaf.postings(field, btext)
    while isinstance(m, FilterMatcher):
        m = m.child
    out: dict[int, bytes] = {}
    if isinstance(m, W3LeafMatcher):
        while m.is_active():
            block_ids, _tf = _decode_block(m)
            m._read_values()
            out.update(zip(block_ids.tolist(), m._values))
            m._next_block()
    else:
        while m.is_active():
            out[m.id()] = m.value() or b""
            m.next()
    return out


def _in_order(positions: list[list[int]], slop: int) -> bool:
    reached = set(positions[0])
    for nxt in positions[1:]:
        reached = {p for p in nxt if any(p - k in reached for k in range(1, slop + 1))}
        if not reached:
            return False
    return True


def engine_for(searcher: Searcher) -> Engine:
    found = getattr(searcher, "_zhsearch_engine", None)
    if found is None:
        found = Engine(searcher, searcher.weighting)
        searcher._zhsearch_engine = found  # type: ignore[attr-defined]
    return found
