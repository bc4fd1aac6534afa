"""Boolean evaluation of Whoosh query objects over the index's postings, as numpy masks.

``search._query`` describes what must match with Whoosh query objects
(``And``, ``Or``, ``Term``, ``Phrase``, ``Prefix``, ``DateRange``, ``Every``);
this module evaluates them itself instead of through Whoosh's matcher tree,
which costs Python calls per posting per query node:

- each term's postings are read once into numpy arrays of document numbers and
  term frequencies (``search._postings``) and kept in the generation's
  ``Shared`` LRU, which every thread's engine over it uses;
- document sets are boolean masks over all documents, so AND/OR/NOT are
  vector operations;
- phrases read positions only for the documents that hold every word.

An engine belongs to one thread's Whoosh reader (Whoosh's readers seek shared
file handles); what it reads goes to the generation's ``Shared`` state.
"""

from __future__ import annotations

import numpy as np
from whoosh import query as Q
from whoosh.util.times import datetime_to_long

from search._columns import NO_DATE, Columns
from search._postings import Postings, PostingsFile, in_order, postings_files, read_postings
from search._shared import Shared


class Engine:
    """Masks of the documents matching a query, over one thread's reader."""

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self.reader = columns.reader
        self.shared: Shared = columns.shared
        self.n = columns.n
        self.leaves = columns.leaves

    def postings(self, field: str, text: str) -> Postings | None:
        return self.shared.postings((field, text), lambda: self._read(field, text))

    def _read(self, field: str, text: str) -> Postings | None:
        if field not in self.reader.schema:
            return None
        btext = self.reader.schema[field].to_bytes(text)
        return read_postings(self.leaves, self.files(), field, btext, self.shared.charge)

    def files(self) -> list[PostingsFile]:
        return self.shared.once("postings files", lambda: postings_files(self.leaves))

    def term_mask(self, field: str, text: str) -> np.ndarray:
        """The documents (deleted ones included) holding one term."""
        out = np.zeros(self.n, dtype=bool)
        p = self.postings(field, text)
        if p is not None:
            out[p.ids] = True
        return out

    def mask(self, q: Q.Query) -> np.ndarray:
        """The documents matching ``q`` (deleted ones never)."""
        return self._mask(q) & self.columns.alive

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
            return self.term_mask(q.fieldname, q.text)
        if isinstance(q, Q.Prefix):
            return self._mask(Q.Or([Q.Term(q.fieldname, t) for t in self.expand(q)]))
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

    def expand(self, q: Q.Prefix) -> list[str]:
        return [t.decode("utf-8") if isinstance(t, bytes) else t for t in self.reader.expand_prefix(q.fieldname, q.text)]

    def phrase_docs(self, q: Q.Phrase, within: np.ndarray | None = None) -> list[int]:
        """Documents where the words occur in order, each 1..slop positions after the previous."""
        plists = [self.postings(q.fieldname, w) for w in q.words]
        if not plists or any(p is None for p in plists):
            return []
        candidates = np.ones(self.n, dtype=bool) if within is None else within.copy()
        for p in plists:
            m = np.zeros(self.n, dtype=bool)
            m[p.ids] = True  # type: ignore[union-attr]
            candidates &= m
        if len(plists) == 1:
            return np.flatnonzero(candidates).tolist()
        slop = max(1, q.slop)
        docs = np.flatnonzero(candidates).tolist()
        columns = [p.positions_many(docs, self.leaves) for p in plists]  # type: ignore[union-attr]
        return [d for d, *positions in zip(docs, *columns) if in_order(positions, slop)]

    def _date_mask(self, q: Q.DateRange) -> np.ndarray:
        dates = self.columns.dates()
        out = dates != NO_DATE
        # Whoosh's DateRange holds its bounds as the same raw values (inclusive here).
        for bound, keep in ((q.start, np.greater_equal), (q.end, np.less_equal)):
            if bound is not None:
                value = datetime_to_long(bound) if hasattr(bound, "replace") else int(bound)
                out &= keep(dates, np.uint64(value))
        return out
