"""BM25 over a query's ranking clauses, with a proximity bonus, vectorised with numpy.

Scores are accumulated per term over its whole posting list at once, with
Whoosh's BM25F formula, the probabilistic IDF (``idf``) and its quantised field
lengths, so they equal what Whoosh's searcher gives with ``search._index.BM25``.
One exception, on purpose: a one-character prefix (the last resort for a lone
character) scores by BM25 over the bigrams it expands to, where Whoosh gives
every match the same constant score.

The proximity bonus (a ``Phrase`` clause with a slop) is bounded by its words'
own scores, so ranking reads positions only for the documents in line for the
top, a batch at a time, and stops once no remaining document can reach it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator

import numpy as np
from whoosh import query as Q

from search._columns import NO_DATE, Columns
from search._engine import Engine
from search._postings import Postings, in_order

PREFETCH = 64  # documents whose positions the ranking checks in one batch


def idf(n: int, df: int) -> float:
    """The probabilistic IDF of Lucene and the BM25 papers, ``log(1 + (N - df + 0.5) / (df + 0.5))``.

    Whoosh's default, ``1 + log(N / (df + 1))``, never falls below 1, so the
    commonest character bigrams and words (什么, 一个, 的是) would weigh almost
    as much as a name; this one goes to zero for them.
    """
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _best_first(upper: np.ndarray, ids: np.ndarray, first: int | None) -> Iterator[int]:
    """Positions of ``upper`` from the highest, ties by ``ids`` (ascending): the order of
    ``np.lexsort((ids, -upper))``. With ``first``, the ``first`` highest (and any tied with the
    last of them) are sorted alone and the rest only if asked for: most rankings stop within a page."""
    if first is None or len(upper) <= 2 * first:
        yield from np.lexsort((ids, -upper)).tolist()
        return
    threshold = np.partition(upper, len(upper) - first)[len(upper) - first]  # the first-th highest
    top = np.flatnonzero(upper >= threshold)
    yield from top[np.lexsort((ids[top], -upper[top]))].tolist()
    rest = np.flatnonzero(upper < threshold)
    yield from rest[np.lexsort((ids[rest], -upper[rest]))].tolist()


class _Lazy:
    """A list over an iterator, filled as far as it is read (``order[n : n + k]`` and iteration)."""

    def __init__(self, items: Iterator[int]) -> None:
        self._items = items
        self._seen: list[int] = []

    def _fill(self, n: int) -> None:
        while len(self._seen) < n:
            try:
                self._seen.append(next(self._items))
            except StopIteration:
                return

    def __getitem__(self, where: slice) -> list[int]:
        self._fill(where.stop if where.stop is not None else 1 << 62)
        return self._seen[where]

    def __iter__(self) -> Iterator[int]:
        n = 0
        while True:
            self._fill(n + 1)
            if n >= len(self._seen):
                return
            yield self._seen[n]
            n += 1


class Ranker:
    """Ranks document sets of one engine by BM25 (``k1``, ``b``) or by date."""

    def __init__(self, engine: Engine, columns: Columns, *, k1: float, b: float) -> None:
        self.engine = engine
        self.columns = columns
        self.n = columns.n
        self.k1 = k1
        self.b = b

    def term_scores(self, field: str, postings: Postings, boost: float) -> np.ndarray:
        """BM25 of one term for each document of its posting list (Whoosh's BM25F formula)."""
        lengths = self.columns.lengths(field)
        weight = idf(self.n, len(postings.ids))  # like Whoosh: deleted documents still count
        tf = postings.tf
        norm = self.k1 * ((1 - self.b) + self.b * lengths[postings.ids] / self.columns.average_length(field))
        return boost * weight * (tf * (self.k1 + 1)) / (tf + norm)

    def scores(self, clauses: list[Q.Query], pool: np.ndarray) -> tuple[np.ndarray, list[tuple[Q.Phrase, np.ndarray]]]:
        """Term scores of every document (dense), and for each phrase clause the bonus it would add if its words are in place."""
        total = np.zeros(self.n)
        bonuses: list[tuple[Q.Phrase, np.ndarray]] = []
        postings = self.engine.postings
        for q in clauses:
            if isinstance(q, Q.Term):
                p = postings(q.fieldname, q.text)
                if p is not None:
                    total[p.ids] += self.term_scores(q.fieldname, p, q.boost)
            elif isinstance(q, Q.Prefix):
                for text in self.engine.expand(q):
                    p = postings(q.fieldname, text)
                    if p is not None:
                        total[p.ids] += self.term_scores(q.fieldname, p, q.boost)
            elif isinstance(q, Q.Phrase):
                plists = [postings(q.fieldname, w) for w in q.words]
                if any(p is None for p in plists):
                    continue
                bonus = np.zeros(self.n)
                have = pool.copy()
                for p in plists:
                    m = np.zeros(self.n, dtype=bool)
                    m[p.ids] = True  # type: ignore[union-attr]
                    have &= m
                    bonus[p.ids] += self.term_scores(q.fieldname, p, q.boost)  # type: ignore[arg-type, union-attr]
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
            order = list(_best_first(upper, ids, limit))
            if limit is not None:
                order = order[:limit]
            return [(int(ids[i]), float(upper[i])) for i in order]
        # Exact scores in order of their upper bounds, until none left can enter the top.
        leaves = self.columns.leaves
        order = _Lazy(_best_first(upper, ids, None if limit is None else PREFETCH + 2 * limit))
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
                    docs_here = [b for b in batch if bonus[b]]
                    columns = [self.engine.postings(q.fieldname, w).positions_many(docs_here, leaves)  # type: ignore[union-attr]
                               for w in q.words]
                    for b, *positions in zip(docs_here, *columns):
                        near[(c, b)] = in_order(positions, max(1, q.slop))
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

    def by_date(self, docs: np.ndarray, limit: int | None) -> list[tuple[int, float]]:
        """``docs`` newest first (undated last), ties by document number."""
        ids = np.flatnonzero(docs)
        dates = self.columns.dates()[ids]
        dates = np.where(dates == NO_DATE, np.uint64(0), dates)
        order = np.lexsort((ids, ~dates))
        if limit is not None:
            order = order[:limit]
        return [(int(ids[i]), 0.0) for i in order]
