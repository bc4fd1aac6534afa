"""The Xapian backend: plans executed over Xapian shards, local or served by ``xapian-tcpsrv``.

Selected by an index location ``xapian://SHARD,SHARD,...`` where each shard is
``host:port`` or a database path, with replicas after ``|``
(``xapian://10.0.0.1:7001|10.0.0.2:7001,10.0.0.3:7002``), or by a local index
folder built with ``--backend xapian``. Xapian combines the shards into one
database and computes BM25 with statistics across all of them.

The matching contract is the local backend's, on Xapian's own terms
(``indexer.xapianformat``): a text that is one run of letters, digits or Han
characters is its gram term (one or two characters: bigrams are indexed within
runs) or the exact phrase of its overlapping bigrams (positions are character
offsets), so contiguous text matches exactly; a text with spaces or
punctuation inside is looked up by the phrases of its runs and checked on each
candidate's stored text. The relaxation policy is the same code
(``search._tiers.select``) over Xapian queries; tiers are ranked in order by
giving each tier a fixed weight far above any BM25 score; reprints are folded
by Xapian's collapse key and facets counted by its value-count match spies.

Failure: every shard connection has a timeout (``search._shards.timeout_ms()``). A shard that
does not answer is replaced by its next replica; a shard with none left is
left out and counted (``SearchResults.unavailable_shards``); none left at all is
``IndexUnavailableError`` (503).
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xapian
from whoosh import query as Q
from whoosh.util.times import long_to_datetime

from indexer import schema as F
from indexer import xapianformat as X
from indexer.matchtext import RUN, match_text, title_part
from search import _tiers
from search._backend import Outcome, Ranked, Stored
from search._exact import Needle, Requirement
from search._plan import Plan
from search._shards import Shard, combined, timeout_ms
from search._types import IndexInfo
from search.errors import ArticleNotFoundError, IndexUnavailableError, IndexVersionError, QueryTooBroadError

RECHECK_SECONDS = 2.0  # how often a thread reconnects, to pick up a rebuilt index
TIER_WEIGHT = 1e7  # above any BM25 score: tier t weighs (4 - t) of these
VERIFY_LIMIT = 2000  # candidates read and checked for one query's texts with punctuation or spaces inside


def _stored_match_text(stored: Stored) -> bytes:
    title = None
    if not stored.get(F.TITLE_DERIVED):
        original = stored.get(F.ORIGINAL_TITLE)
        title = stored.get(F.HEADLINE, "") if not original else f"{stored.get(F.HEADLINE, '')}\n{original}"
    return match_text(title, stored.get(F.BODY, ""))


@dataclass(frozen=True)
class Tally:
    """What one match over a set found: its size, the facet counts and, when reprints are
    folded, the articles of each reprint key that more than one of its articles shares."""

    count: int
    facets: dict[str, dict[str, int]]
    shared: dict[bytes, int]  # reprint key -> articles (only keys of two or more)

    @property
    def groups(self) -> int:
        """The articles once reprints are folded."""
        return self.count - sum(n - 1 for n in self.shared.values())


NO_TALLY = Tally(0, {}, {})


def _summed_facets(tallies: Sequence[Tally]) -> dict[str, dict[str, int]]:
    """The facet counts of the union of disjoint sets."""
    facets: dict[str, dict[str, int]] = {}
    for t in tallies:
        for name, values in t.facets.items():
            into = facets.setdefault(name, {})
            for v, n in values.items():
                into[v] = into.get(v, 0) + n
    return facets


class XapianSets:
    """``search._tiers.DocSets`` as Xapian queries, evaluated when counted or ranked."""

    def __init__(self, backend: XapianBackend, facet_names: Sequence[str] = (), *, fold: bool = False) -> None:
        self._b = backend
        self._facet_names = tuple(facet_names)
        self._fold = fold
        self._tallies: dict[str, Tally] = {}

    def everything(self) -> xapian.Query:
        return xapian.Query.MatchAll

    def nothing(self) -> xapian.Query:
        return xapian.Query.MatchNothing

    def matching(self, q: Q.Query) -> xapian.Query:
        return self._b.translate(q, boolean=True)

    def reprint_group(self, article_id: str) -> xapian.Query:
        doc = self._b.document(article_id)
        key = doc.get_value(X.DUP)
        return xapian.Query(xapian.Query.OP_VALUE_RANGE, X.DUP, key, key)

    def all_of(self, plan: Sequence[Requirement], within: xapian.Query) -> xapian.Query:
        out = within
        checks: list[tuple[Needle, ...]] = []
        for req in plan:
            query, check = self._requirement(req)
            out = xapian.Query(xapian.Query.OP_AND, out, query)
            if check:
                checks.append(req.needles)
        if not checks:
            return out
        return self._b.verified(out, checks)

    def any_of(self, plan: Sequence[Requirement], within: xapian.Query) -> xapian.Query:
        parts = [self.all_of([req], within) for req in plan]
        return xapian.Query(xapian.Query.OP_OR, parts) if parts else xapian.Query.MatchNothing

    def _requirement(self, req: Requirement) -> tuple[xapian.Query, bool]:
        queries, check = [], False
        for n in req.needles:
            runs = RUN.findall(n.text)
            fields = (X.TITLE_GRAM,) if n.title_only else (X.TITLE_GRAM, X.BODY_GRAM)
            one_run = len(runs) == 1 and runs[0] == n.text
            for prefix in fields:
                parts = [_contiguous(prefix, run) for run in runs]
                if not one_run and (in_order := _in_order_within(prefix, runs, len(n.text))) is not None:
                    parts.append(in_order)
                queries.append(parts[0] if len(parts) == 1 else xapian.Query(xapian.Query.OP_AND, parts))
            check = check or not one_run
        return xapian.Query(xapian.Query.OP_OR, queries), check

    def both(self, a: xapian.Query, b: xapian.Query) -> xapian.Query:
        return xapian.Query(xapian.Query.OP_AND, a, b)

    def either(self, a: xapian.Query, b: xapian.Query) -> xapian.Query:
        return xapian.Query(xapian.Query.OP_OR, a, b)

    def minus(self, a: xapian.Query, b: xapian.Query) -> xapian.Query:
        return xapian.Query(xapian.Query.OP_AND_NOT, a, b)

    def count(self, s: xapian.Query) -> int:
        return self.tally(s).count

    def tally(self, s: xapian.Query) -> Tally:
        """Counted once per query (the policy and the page ask for the same sets), with the facets
        and reprint keys of its articles in the same match: a set the policy counts is nearly
        always one it lists."""
        if s.empty():
            return NO_TALLY
        key = str(s)
        found = self._tallies.get(key)
        if found is None:
            found = self._tallies[key] = self._b.tally(s, self._facet_names, dup=self._fold)
        return found


def _contiguous(prefix: str, run: str) -> xapian.Query:
    """Documents whose field holds ``run`` (one run of letters, digits or Han characters) contiguously.

    A run of one or two characters is a gram term (bigrams are indexed within runs, so the
    bigram is there exactly when the two characters stand side by side); a longer one is the
    phrase of its overlapping bigrams, each at the next character offset (a window as wide as
    there are bigrams).
    """
    if len(run) <= 2:
        return xapian.Query(prefix + run)
    bigrams = [prefix + run[i : i + 2] for i in range(len(run) - 1)]
    return xapian.Query(xapian.Query.OP_PHRASE, bigrams, len(bigrams))


def _in_order_within(prefix: str, runs: Sequence[str], width: int) -> xapian.Query | None:
    """Documents whose field holds the bigrams of ``runs`` in order, their starts within
    ``width - 1`` characters: true of every document that holds the text they come from
    (``width`` characters long, its runs separated by what is not indexed), so only those are
    read and checked. None when the runs have fewer than two bigrams (nothing to order)."""
    bigrams = [prefix + run[i : i + 2] for run in runs for i in range(len(run) - 1)]
    if len(bigrams) < 2:
        return None
    return xapian.Query(xapian.Query.OP_PHRASE, bigrams, max(len(bigrams), width - 1))


class XapianBackend:
    """A ``search._backend.Backend`` over one thread's connections to every shard."""

    def __init__(self, location: str, shards: Sequence[Shard], *, vocabulary_dir: Path | None = None) -> None:
        self.location = location
        self.shards = tuple(shards)
        self.db, self.missing = combined(self.shards)
        self.opened = time.monotonic()
        found = self._call(lambda: self.db.get_metadata(X.FORMAT_KEY).decode()) or "1"
        if found != str(X.FORMAT_VERSION):
            self.db.close()
            raise IndexVersionError(f"the shards of {location} are of Xapian format {found}, this version reads "
                                    f"{X.FORMAT_VERSION}: rebuild needed, run `python -m indexer rebuild --backend xapian`")
        self._vocabulary_dir = vocabulary_dir

    @property
    def partial(self) -> bool:
        return self.missing > 0

    def close(self) -> None:
        self.db.close()

    def _call(self, fn: Any) -> Any:
        """``fn()``; when a shard stops answering, again over the shards that still do (a replica that
        answered the reconnection can die too), while the failures took less than one timeout, so
        a request waits at most about two."""
        started = time.monotonic()
        for _attempt in range(1 + sum(len(shard.replicas) for shard in self.shards)):
            try:
                return fn()
            except (xapian.NetworkError, xapian.DatabaseModifiedError, xapian.DatabaseError) as exc:
                failure = exc
                if time.monotonic() - started > timeout_ms() / 1000:
                    break
                self.db.close()
                self.db, self.missing = combined(self.shards)
        raise IndexUnavailableError(f"the index's shards do not answer: {failure}") from failure

    # ----- vocabulary and info

    @property
    def vocabulary_dir(self) -> Path:
        if self._vocabulary_dir is None:
            generation = self.db.get_metadata(X.GENERATION_KEY).decode() or "none"
            folder = Path(tempfile.gettempdir()) / f"zhsearch-vocab-{os.getuid()}" / generation
            if not (folder / "vocab.tsv").exists():
                folder.mkdir(parents=True, exist_ok=True)
                for name in ("vocab.tsv", "vocab-chars.tsv"):
                    tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
                    tmp.write_bytes(self.db.get_metadata(X.VOCAB_KEY + name))
                    os.replace(tmp, folder / name)
            self._vocabulary_dir = folder
        return self._vocabulary_dir

    def info(self) -> IndexInfo:
        generation = self._call(lambda: self.db.get_metadata(X.GENERATION_KEY).decode())
        return IndexInfo(location=self.location, generation=generation, articles=self.db.get_doccount(),
                         backend="xapian")

    # ----- articles

    def document(self, article_id: str) -> xapian.Document:
        def find() -> xapian.Document:
            for item in self.db.postlist(X.ID + article_id):
                return self.db.get_document(item.docid)
            raise ArticleNotFoundError(f"no article with id {article_id!r}")

        if not isinstance(article_id, str) or len((X.ID + article_id).encode("utf-8")) > X.MAX_TERM_BYTES:
            raise ArticleNotFoundError(f"no article with id {article_id!r}")
        return self._call(find)

    def article(self, article_id: str) -> Stored:
        return X.decode_stored(self.document(article_id).get_data())

    def related(self, article_id: str, limit: int) -> tuple[Ranked, ...]:
        doc = self.document(article_id)

        def run() -> tuple[Ranked, ...]:
            rset = xapian.RSet()
            rset.add_document(doc.get_docid())
            enquire = xapian.Enquire(self.db)
            enquire.set_weighting_scheme(xapian.BM25Weight(*X.BM25_PARAMS))
            enquire.set_query(xapian.Query(X.ID + article_id))
            eset = enquire.get_eset(15, rset, xapian.ExpandDeciderFilterPrefix(X.BODY_WORD))
            terms = [item.term for item in eset]
            if not terms:
                return ()
            enquire.set_query(xapian.Query(xapian.Query.OP_AND_NOT, xapian.Query(xapian.Query.OP_OR, terms),
                                           xapian.Query(X.ID + article_id)))
            enquire.set_collapse_key(X.DUP)
            own = doc.get_value(X.DUP)
            out: list[Ranked] = []
            for item in enquire.get_mset(0, limit + 1):
                if item.document.get_value(X.DUP) == own:
                    continue
                out.append(Ranked(X.decode_stored(item.document.get_data()), float(item.weight) / X.SCORE_SCALE, "exact"))
                if len(out) >= limit:
                    break
            return tuple(out)

        return self._call(run)

    # ----- sets

    def tally(self, q: xapian.Query, facet_names: Sequence[str], *, dup: bool) -> Tally:
        """The size of ``q``'s set, the counts of ``facet_names`` over it and, with ``dup``, its
        reprint keys of more than one article, in one unranked match."""
        def run() -> Tally:
            spies = {name: xapian.ValueCountMatchSpy(X.FACET_SLOT[name]) for name in facet_names if name in X.FACET_SLOT}
            groups = xapian.ValueCountMatchSpy(X.REPRINT) if dup else None
            enquire = xapian.Enquire(self.db)
            enquire.set_weighting_scheme(xapian.BoolWeight())
            enquire.set_query(q)
            for spy in [*spies.values(), *([groups] if groups is not None else [])]:
                enquire.add_matchspy(spy)
            count = int(enquire.get_mset(0, 0, self.db.get_doccount()).get_matches_estimated())
            facets = {name: {item.term.decode("utf-8"): int(item.termfreq) for item in spy.values()}
                      for name, spy in spies.items()}
            return Tally(count, facets, X.shared_values(groups) if groups is not None else {})

        return self._call(run)

    def verified(self, candidates: xapian.Query, checks: list[tuple[Needle, ...]]) -> xapian.Query:
        """The candidates whose stored text holds one needle of each check, as a query of their ids.

        Each candidate's stored fields come over the network and are normalised here (about a
        millisecond each), so more than ``VERIFY_LIMIT`` of them is ``QueryTooBroadError``, said
        before any is read, rather than a request that ties up a thread for seconds."""
        def run() -> list[str]:
            enquire = xapian.Enquire(self.db)
            enquire.set_weighting_scheme(xapian.BoolWeight())
            enquire.set_query(candidates)
            mset = enquire.get_mset(0, VERIFY_LIMIT + 1)
            if mset.size() > VERIFY_LIMIT:
                texts = "、".join(f"“{n.text}”" for needles in checks for n in needles)
                raise QueryTooBroadError(
                    f"{texts}: more than {VERIFY_LIMIT:,} articles hold its characters and would have to be read one by one "
                    "on this index (a text with punctuation or spaces inside is checked that way); "
                    "add a word, or leave the punctuation out")
            kept = []
            for item in mset:
                stored = X.decode_stored(item.document.get_data())
                text = _stored_match_text(stored)
                if all(any(n.utf8 in (title_part(text) if n.title_only else text) for n in needles) for needles in checks):
                    kept.append(X.ID + stored[F.ID_FIELD])
            return kept

        kept = self._call(run)
        return xapian.Query(xapian.Query.OP_OR, kept) if kept else xapian.Query.MatchNothing

    def translate(self, q: Q.Query, *, boolean: bool = False) -> xapian.Query:
        """A Whoosh query object as a Xapian query (weights scaled by boosts, unless ``boolean``)."""
        if isinstance(q, (Q.And, Q.Or)):
            parts = [self.translate(c, boolean=boolean) for c in q.children()]
            op = xapian.Query.OP_AND if isinstance(q, Q.And) else xapian.Query.OP_OR
            if not parts:
                return xapian.Query.MatchAll if isinstance(q, Q.And) else xapian.Query.MatchNothing
            return xapian.Query(op, parts)
        if isinstance(q, Q.Term):
            if q.fieldname not in X.FIELD_PREFIX:
                return xapian.Query.MatchNothing
            t = X.term(q.fieldname, str(q.text))
            out = xapian.Query(t) if t is not None else xapian.Query.MatchNothing
        elif isinstance(q, Q.Prefix):
            # Each expansion scored as a term of its own (an OR), as the local ranking does, not as one synonym.
            out = xapian.Query(xapian.Query.OP_WILDCARD, X.FIELD_PREFIX[q.fieldname] + q.text, 0,
                               xapian.Query.WILDCARD_LIMIT_ERROR, xapian.Query.OP_OR)
        elif isinstance(q, Q.Phrase):
            terms = [X.term(q.fieldname, w) for w in q.words]
            if any(t is None for t in terms) or not terms:
                return xapian.Query.MatchNothing
            slop = max(1, q.slop)
            out = xapian.Query(xapian.Query.OP_PHRASE, terms, (len(terms) - 1) * slop + 1) if len(terms) > 1 else xapian.Query(terms[0])
        elif isinstance(q, Q.DateRange):
            return _date_range(q)
        elif isinstance(q, Q.Every):
            return xapian.Query.MatchAll
        elif q is Q.NullQuery or isinstance(q, type(Q.NullQuery)):
            return xapian.Query.MatchNothing
        else:
            raise TypeError(f"query type {type(q).__name__} is not supported by the Xapian backend")
        boost = float(getattr(q, "boost", 1.0))
        if boolean:
            return xapian.Query(xapian.Query.OP_SCALE_WEIGHT, out, 0.0)
        return out if boost == 1.0 else xapian.Query(xapian.Query.OP_SCALE_WEIGHT, out, boost)

    # ----- plans

    def count(self, plan: Sequence[Requirement]) -> int:
        sets = XapianSets(self)
        return sets.count(sets.all_of(plan, sets.everything()))

    def execute(self, plan: Plan) -> Outcome:
        return self._call(lambda: self._execute(plan))

    def _execute(self, plan: Plan) -> Outcome:
        fold = plan.reprints_of is None
        sets = XapianSets(self, plan.facet_fields, fold=fold)
        tiers = _tiers.select(plan, sets)
        # The tiers are disjoint (``_tiers.select``): each is tallied on its own and the counts and
        # facets add up; a reprint group can span tiers, so when more than one tier lists articles
        # the shared keys come from one match over their union.
        tallied = [sets.tally(tiers.exact), sets.tally(tiers.regional)]
        if tiers.relaxed:
            tallied += [sets.tally(tiers.every_word), sets.tally(tiers.some)]
        exact, regional, partial_count = tallied[0], tallied[1], sum(t.count for t in tallied[2:])
        listing = [(t, docs) for t, (docs, tally) in enumerate(zip(tiers.ordered, tallied)) if tally.count]
        shared: dict[bytes, int] = {}
        if fold and len(listing) == 1:
            shared = tallied[listing[0][0]].shared
        elif fold and listing:
            shared = self.tally(functools.reduce(sets.either, [docs for _, docs in listing]), (), dup=True).shared
        listed = Tally(sum(t.count for t in tallied), {}, shared)
        by_relevance = plan.sort == "relevance"
        terms = [self.translate(c) for c in plan.ranking if not isinstance(c, Q.Phrase)] if by_relevance else []
        phrases = [self.translate(c) for c in plan.ranking if isinstance(c, Q.Phrase)] if by_relevance else []
        parts = []
        for t, docs in listing:  # an empty tier's query is not evaluated again
            part = xapian.Query(xapian.Query.OP_FILTER, xapian.Query(xapian.FixedWeightPostingSource((4 - t) * TIER_WEIGHT)), docs)
            if terms:
                part = xapian.Query(xapian.Query.OP_AND_MAYBE, part, xapian.Query(xapian.Query.OP_OR, terms))
            # Each proximity phrase on its own AND_MAYBE: under an OR, Xapian 1.4 adds a phrase's
            # weight to a document that matches another branch without checking the positions
            # (so a weight depended on the pruning, and pages on the page asked for).
            for phrase in phrases:
                part = xapian.Query(xapian.Query.OP_AND_MAYBE, part, phrase)
            parts.append(part)
        enquire = xapian.Enquire(self.db)
        enquire.set_weighting_scheme(xapian.BM25Weight(*X.BM25_PARAMS))
        enquire.set_query(xapian.Query(xapian.Query.OP_OR, parts) if parts else xapian.Query.MatchNothing)
        if plan.sort == "date":
            enquire.set_sort_by_relevance_then_value(X.DATE, True)
        else:
            enquire.set_docid_order(xapian.Enquire.ASCENDING)
        if fold:
            enquire.set_collapse_key(X.DUP)
        # Pruned: Xapian weighs in full only what can still reach the pages up to this one.
        mset = enquire.get_mset((plan.page - 1) * plan.per_page, plan.per_page)
        counted = exact.facets if exact.count or plan.empty else _summed_facets(tallied)
        facets: dict[str, tuple[tuple[str, int], ...]] = {}
        for name in plan.facet_fields:
            if name in X.FACET_SLOT:
                values = [(v, n) for v, n in counted.get(name, {}).items() if v and n]
                facets[name] = tuple(sorted(values, key=lambda kv: (-kv[1], kv[0])))
        hits = []
        for item in mset:
            weight, document = item.weight, item.document
            tier = min(3, max(0, 4 - int(weight // TIER_WEIGHT)))
            score = 0.0 if plan.sort == "date" else (weight - (4 - tier) * TIER_WEIGHT) / X.SCORE_SCALE
            hits.append(Ranked(X.decode_stored(document.get_data()), round(score, 6), _tiers.TIER_NAMES[tier],
                               listed.shared.get(document.get_value(X.DUP), 1) - 1 if fold else 0))
        groups = listed.groups if fold else listed.count
        return Outcome(hits=tuple(hits), exact=exact.count, regional=regional.count, partial=partial_count,
                       groups=groups, facets=facets, facets_of="exact" if exact.count or plan.empty else "listed",
                       partial_shards=self.missing)


def _bound(value: Any) -> bytes | None:
    """A DateRange bound (Whoosh holds them as its long time values) as the DATE value."""
    if value is None:
        return None
    when = long_to_datetime(value) if isinstance(value, int) else value
    return xapian.sortable_serialise(X.date_key(when))


def _date_range(q: Q.DateRange) -> xapian.Query:
    low, high = _bound(q.start), _bound(q.end)
    if low is not None and high is not None:
        return xapian.Query(xapian.Query.OP_VALUE_RANGE, X.DATE, low, high)
    if low is not None:
        return xapian.Query(xapian.Query.OP_VALUE_GE, X.DATE, low)
    if high is not None:
        return xapian.Query(xapian.Query.OP_VALUE_LE, X.DATE, high)
    return xapian.Query(xapian.Query.OP_VALUE_GE, X.DATE, "")
