"""The local backend: plans executed over a Whoosh index on this machine's disk.

Document sets are numpy masks over the index's document numbers
(``MaskSets``, the ``search._tiers.DocSets`` of this backend); boolean
evaluation is ``search._engine``, exact matching ``search._exact``, ranking
``search._ranking``, per-document arrays ``search._columns``. One backend
belongs to one thread's Whoosh searcher; everything it reads goes to its
generation's ``Shared`` state, which every thread's backend shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from whoosh import query as Q
from whoosh.searching import Searcher

from indexer import schema as F
from search import _tiers
from search._backend import Outcome, Ranked, Stored
from search._columns import Columns
from search._engine import Engine
from search._exact import Matcher, Requirement
from search._plan import Plan
from search._ranking import Ranker
from search._shared import Shared
from search._types import IndexInfo
from search.errors import ArticleNotFoundError


class MaskSets:
    """``DocSets`` as boolean masks over every document number."""

    def __init__(self, backend: LocalBackend) -> None:
        self._b = backend
        engine = backend.engine
        self._n = engine.n
        self._matcher = Matcher(engine.term_mask, backend.columns.match_text, engine.n, backend.columns.match_text_spans)

    def everything(self) -> np.ndarray:
        return self._b.columns.alive.copy()

    def nothing(self) -> np.ndarray:
        return np.zeros(self._n, dtype=bool)

    def matching(self, q: Q.Query) -> np.ndarray:
        return self._b.engine.mask(q)

    def reprint_group(self, article_id: str) -> np.ndarray:
        codes, _ = self._b.columns.column(F.DUP_KEY)
        return codes == codes[self._b.docnum(article_id)]

    def all_of(self, plan: Sequence[Requirement], within: np.ndarray) -> np.ndarray:
        return self._matcher.all_of(list(plan), within)

    def any_of(self, plan: Sequence[Requirement], within: np.ndarray) -> np.ndarray:
        return self._matcher.any_of(list(plan), within)

    def both(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a & b

    def either(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a | b

    def minus(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a & ~b

    def count(self, s: np.ndarray) -> int:
        return int(np.count_nonzero(s))


class LocalBackend:
    """A ``search._backend.Backend`` over one thread's Whoosh searcher of one generation."""

    def __init__(self, searcher: Searcher, generation: Path, shared: Shared, *, k1: float, b: float) -> None:
        self.searcher = searcher
        self.generation = generation
        self.columns = Columns(searcher.reader(), shared, generation=generation)
        self.engine = Engine(self.columns)
        self.ranker = Ranker(self.engine, self.columns, k1=k1, b=b)

    @property
    def vocabulary_dir(self) -> Path:
        return self.generation

    def info(self) -> IndexInfo:
        return IndexInfo(location=str(self.generation.parent), generation=self.generation.name,
                         articles=int(np.count_nonzero(self.columns.alive)))

    def close(self) -> None:
        self.searcher.close()

    def sets(self) -> MaskSets:
        """A fresh set algebra (its matcher caches the texts it reads for one query)."""
        return MaskSets(self)

    # ----- articles

    def docnum(self, article_id: str) -> int:
        docnum = self.searcher.document_number(**{F.ID_FIELD: article_id}) if isinstance(article_id, str) else None
        if docnum is None:
            raise ArticleNotFoundError(f"no article with id {article_id!r}")
        return docnum

    def article(self, article_id: str) -> Stored:
        return self.searcher.stored_fields(self.docnum(article_id))

    def related(self, article_id: str, limit: int) -> tuple[Ranked, ...]:
        docnum = self.docnum(article_id)
        stored = self.searcher.stored_fields(docnum)
        text = f"{stored.get(F.HEADLINE, '')}\n{stored.get(F.BODY, '')}"[:5000]
        results = self.searcher.more_like(docnum, F.BODY, text=text, top=limit * 3, numterms=15)
        codes, _ = self.columns.column(F.DUP_KEY)
        seen = {codes[docnum]}
        out: list[Ranked] = []
        for hit in results:
            key = codes[hit.docnum]
            if key in seen:
                continue
            seen.add(key)
            out.append(Ranked(self.searcher.stored_fields(hit.docnum), hit.score or 0.0, "exact"))
            if len(out) >= limit:
                break
        return tuple(out)

    # ----- plans

    def count(self, plan: Sequence[Requirement]) -> int:
        sets = self.sets()
        return sets.count(sets.all_of(plan, sets.everything()))

    def execute(self, plan: Plan) -> Outcome:
        sets = self.sets()
        tiers = _tiers.select(plan, sets)
        dup_codes, dup_labels = self.columns.column(F.DUP_KEY)
        if plan.reprints_of is not None:  # every article its own group: nothing folds
            dup_codes = np.arange(self.engine.n)
            dup_labels = dup_codes
        partial = tiers.every_word | tiers.some
        listed = tiers.exact | tiers.regional | partial
        scope = tiers.exact if tiers.exact.any() or plan.empty else listed
        group_sizes = np.bincount(dup_codes[np.flatnonzero(listed)], minlength=len(dup_labels))
        need = plan.page * plan.per_page
        limit: int | None = need * 2 + 10
        while True:  # over-fetch for collapsing; fetch more only if reprints ate the page
            order = self._order(list(plan.ranking), tiers.ordered, limit, plan.sort)
            chosen = _collapse(order, dup_codes, need)
            if len(chosen) >= need or limit is None or len(order) < limit:
                break
            limit = limit * 4 if limit < np.count_nonzero(listed) else None
        hits = tuple(
            Ranked(self.searcher.stored_fields(d), score, _tiers.TIER_NAMES[t], max(0, int(group_sizes[dup_codes[d]]) - 1))
            for d, score, t in chosen[(plan.page - 1) * plan.per_page : need])
        return Outcome(
            hits=hits, exact=sets.count(tiers.exact), regional=sets.count(tiers.regional), partial=sets.count(partial),
            groups=int(np.count_nonzero(group_sizes)), facets=self._facets(plan.facet_fields, scope),
            facets_of="exact" if scope is tiers.exact else "listed",
        )

    def _order(self, clauses: list[Q.Query], tiers: Sequence[np.ndarray], limit: int | None,
               sort: str) -> list[tuple[int, float, int]]:
        """The first ``limit`` docnums, tier by tier, each ranked or by date."""
        ranker = self.ranker
        order: list[tuple[int, float, int]] = []
        for t, docs in enumerate(tiers):
            if limit is not None and len(order) >= limit:
                break
            if docs.any():
                left = None if limit is None else limit - len(order)
                ranked = ranker.by_date(docs, left) if sort == "date" else ranker.rank(clauses, docs, left)
                order += [(d, s, t) for d, s in ranked]
        return order

    def _facets(self, names: Sequence[str], docs: np.ndarray) -> dict[str, tuple[tuple[str, int], ...]]:
        """Facet counts over a set of articles (every article, reprints included), most first."""
        ids = np.flatnonzero(docs)
        facets: dict[str, tuple[tuple[str, int], ...]] = {}
        for name in names:
            codes, labels = self.columns.column(name)
            counts = np.bincount(codes[ids], minlength=len(labels))
            present = [(str(labels[c]), int(counts[c])) for c in np.flatnonzero(counts).tolist()
                       if labels[c] not in (None, "", b"")]
            present.sort(key=lambda kv: (-kv[1], kv[0]))
            facets[name] = tuple(present)
        return facets


def _collapse(order: list[tuple[int, float, int]], dup_codes: np.ndarray, need: int) -> list[tuple[int, float, int]]:
    """Keep the best of each group of reprints, up to ``need`` hits."""
    seen: set[int] = set()
    chosen: list[tuple[int, float, int]] = []
    for docnum, score, tier in order:
        key = int(dup_codes[docnum])
        if key not in seen:
            seen.add(key)
            chosen.append((docnum, score, tier))
            if len(chosen) >= need:
                break
    return chosen


