"""``search()``, ``suggest()``, ``related()`` and ``get_article()``."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.searching import Searcher

from indexer import schema as F
from search import _args, _query
from search._engine import NO_DATE, Engine, engine_for
from search._exact import Matcher
from search._index import CACHE
from search._snippets import highlight, prepare_terms, snippet
from search._suggest import vocabulary
from search._variants import variants
from search._types import ArticleView, FacetValue, Hit, QueryInfo, SearchResults
from search.errors import ArticleNotFoundError, QuerySyntaxError, SearchError

IndexDir = str | os.PathLike[str] | None
SORTS = ("relevance", "date")
MAX_PER_PAGE = 100
MAX_PAGE = 1000
# Fewer articles than this hold every word: partial matches follow them (after a divider).
RELAX_BELOW = 10
FACET_LIMIT = 20


def search(
    q: str,
    *,
    index_dir: IndexDir = None,
    page: int = 1,
    per_page: int = 10,
    sort: str = "relevance",
    source: str | None = None,
    category: str | None = None,
    year: str | int | None = None,
    date_from: date | datetime | str | None = None,
    date_to: date | datetime | str | None = None,
    correct: bool = True,
    reprints_of: str | None = None,
) -> SearchResults:
    """Search the index. Everything in ``q`` is safe: syntax is escaped unless it is the small supported set.

    ``total`` counts the articles whose title or body holds every word and phrase
    as typed (normalised); regional forms and partial matches, when listed, follow
    them and are counted apart in ``query_info``. With ``correct`` a query that
    matches nothing is answered with a likely correction's results, when it has
    any (``query_info.corrected_from`` then holds what was typed). ``reprints_of`` (an
    article id) keeps only that article's group of reprints, each listed, none folded.
    """
    started = time.perf_counter()
    if not isinstance(q, str):
        raise QuerySyntaxError("the query must be text")
    page = _args.whole(page, "page", 1, MAX_PAGE)
    per_page = _args.whole(per_page, "per_page", 1, MAX_PER_PAGE)
    if sort not in SORTS:
        raise QuerySyntaxError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    start_date = _args.date_bound(date_from, "date_from", end=False)
    end_date = _args.date_bound(date_to, "date_to", end=True)
    parsed = _query.parse(q)
    filters = _args.filters(source, category, year, start_date, end_date)
    if parsed.sources:  # `source:` in the query restricts like the argument does
        filters.append(Q.Or([Q.Term(F.SOURCE, s) for s in parsed.sources]))
    searcher, generation = CACHE.searcher(index_dir)
    with _args.reading():
        group_of = _docnum(searcher, reprints_of) if reprints_of is not None else None
    info_filters = tuple((k, str(v)) for k, v in (("source", source), ("category", category), ("year", year),
                         ("date_from", date_from), ("date_to", date_to), ("reprints_of", reprints_of)) if v)
    if parsed.empty and not filters and group_of is None:
        return SearchResults(query=parsed.text, total=0, page=page, per_page=per_page, pages=0, hits=(),
                             query_info=_info(parsed, info_filters), sort=sort)
    request = _Request(parsed, filters, page, per_page, sort, info_filters, group_of)
    try:
        res = _run(searcher, request)
        if correct and not parsed.empty and res.total == 0 and not res.query_info.regional_total:
            res = _corrected(searcher, generation, request) or res
        elif not parsed.empty and 0 < res.total < RELAX_BELOW:
            res = replace(res, suggestion=_better_spelling(searcher, generation, request, res.total))
    except SearchError:
        raise
    except _args.DAMAGE as exc:
        raise _args.damaged(exc) from exc
    return replace(res, seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class _Request:
    parsed: _query.ParsedQuery
    filters: list[Q.Query]
    page: int
    per_page: int
    sort: str
    info_filters: tuple[tuple[str, str], ...]
    group_of: int | None = None  # a docnum: only its reprint group, unfolded


def _info(parsed: _query.ParsedQuery, filters: tuple[tuple[str, str], ...], **counts: Any) -> QueryInfo:
    return QueryInfo(
        text=parsed.text, words=tuple(parsed.words), phrases=tuple(parsed.phrases), excluded=tuple(parsed.excluded),
        fields=tuple([("title", t) for t in parsed.title_terms] + [("source", s) for s in parsed.sources]),
        any_of=tuple(tuple(g) for g in parsed.any_of), filters=filters, ignored=tuple(parsed.ignored), **counts,
    )


def _corrected(searcher: Searcher, generation: Path, request: _Request) -> SearchResults | None:
    """The results of a likely correction of a query that matches nothing, when it matches something."""
    candidate = _suggestion(generation, request.parsed)
    if candidate is None:
        return None
    fixed = _run(searcher, replace(request, parsed=_query.parse(candidate)))
    if fixed.total == 0:
        return None
    info = replace(fixed.query_info, corrected_from=request.parsed.text)
    return replace(fixed, suggestion=candidate, query_info=info)


def _better_spelling(searcher: Searcher, generation: Path, request: _Request, total: int) -> str | None:
    """A correction worth offering for a query with a few matches: one with ten times as many."""
    candidate = _suggestion(generation, request.parsed)
    if candidate is None:
        return None
    engine = engine_for(searcher)
    parsed = _query.parse(candidate)
    matched = Matcher(engine.term_mask, engine.match_text, engine.n).all_of(_query.exact_plan(parsed), engine.alive)
    return candidate if int(np.count_nonzero(matched)) >= 10 * total else None


def _run(searcher: Searcher, request: _Request) -> SearchResults:
    parsed, sort = request.parsed, request.sort
    engine = engine_for(searcher)
    matcher = Matcher(engine.term_mask, engine.match_text, engine.n)
    allowed = engine.alive.copy()
    for f in request.filters:
        allowed &= engine.mask(f)
    dup_codes, dup_labels = engine.column(F.DUP_KEY)
    if request.group_of is not None:
        allowed &= dup_codes == dup_codes[request.group_of]
        dup_codes = np.arange(engine.n)  # every article its own group: nothing folds
        dup_labels = dup_codes
    excluded = _query.exclusion_plan(parsed)
    if excluded:
        allowed &= ~matcher.any_of(excluded, allowed)
    clauses: list[Q.Query] = []
    none = np.zeros(engine.n, dtype=bool)
    if parsed.empty:
        exact, regional, partial = allowed, none, none
        sort = "date" if sort == "relevance" else sort
        tiers = [exact]
    else:
        clauses = _query.ranking_clauses(parsed)
        exact = matcher.all_of(_query.exact_plan(parsed), allowed)
        regional = none
        if _query.has_variants(parsed):
            regional = matcher.all_of(_query.exact_plan(parsed, regional=True), allowed & ~exact)
        found = int(np.count_nonzero(exact)) + int(np.count_nonzero(regional))
        partial = none
        tiers = [exact, regional]
        # A phrase with exact matches shows only those; few matches are followed by partial ones.
        # A one-word query's partial matches would be fragments of its word (哥伦比亚 for 比亚迪).
        if not (parsed.phrases and exact.any()) and found < RELAX_BELOW and not (found and _query.word_count(parsed) < 2):
            rest = allowed & ~exact & ~regional
            every_word = matcher.all_of(_query.words_plan(parsed), rest & engine.mask(_query.single_character_words(parsed)))
            some = none
            for level, q in enumerate(_query.fallback_queries(parsed, Q.Or(clauses))):
                if level and (found or every_word.any() or some.any()):
                    break  # bigrams and characters only when nothing else matched
                some = engine.mask(q) & rest & ~every_word
            partial = every_word | some
            tiers += [every_word, some]
    listed = exact | regional | partial
    scope = exact if exact.any() or parsed.empty else listed
    facets = _facets(engine, scope)
    group_sizes = np.bincount(dup_codes[np.flatnonzero(listed)], minlength=len(dup_labels))
    groups = int(np.count_nonzero(group_sizes))
    page, per_page = request.page, request.per_page
    need = page * per_page
    limit: int | None = need * 2 + 10
    while True:  # over-fetch for collapsing; fetch more only if reprints ate the page
        order = _order(engine, clauses, tiers, limit, sort)
        chosen = _collapse(order, dup_codes, need)
        if len(chosen) >= need or limit is None or len(order) < limit:
            break
        limit = limit * 4 if limit < np.count_nonzero(listed) else None
    terms = prepare_terms(parsed.highlight_terms() + [v for t in parsed.words + parsed.phrases for v in variants(t)])
    hits = tuple(_hit(searcher, docnum, score, terms, int(group_sizes[dup_codes[docnum]]) - 1, _TIER_NAMES[tier])
                 for docnum, score, tier in chosen[(page - 1) * per_page : need])
    n_exact = int(np.count_nonzero(exact))
    n_listed = int(np.count_nonzero(listed))
    info = _info(
        parsed, request.info_filters, relaxed=bool(partial.any()), strict_total=n_exact,
        regional_total=int(np.count_nonzero(regional)), partial_total=int(np.count_nonzero(partial)),
        folded=n_listed - groups, facets_of="exact" if scope is exact else "listed",
        regional_forms=_regional_forms(parsed) if regional.any() else (),
    )
    return SearchResults(
        query=parsed.text, total=n_exact, page=page, per_page=per_page,
        pages=min(MAX_PAGE, math.ceil(groups / per_page)), hits=hits, facets=facets, query_info=info, sort=sort,
    )


_TIER_NAMES = ("exact", "regional", "partial", "partial")


def _regional_forms(parsed: _query.ParsedQuery) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((t, variants(t)[1:]) for t in parsed.texts if len(variants(t)) > 1)


def _by_date(engine: Engine, docs: np.ndarray, limit: int | None) -> list[tuple[int, float]]:
    ids = np.flatnonzero(docs)
    dates = engine.dates()[ids]
    dates = np.where(dates == NO_DATE, np.uint64(0), dates)  # undated last
    order = np.lexsort((ids, ~dates))  # newest first, then by document number
    if limit is not None:
        order = order[:limit]
    return [(int(ids[i]), 0.0) for i in order]


def _order(engine: Engine, clauses: list[Q.Query], tiers: list[np.ndarray], limit: int | None,
           sort: str) -> list[tuple[int, float, int]]:
    """The first ``limit`` docnums, tier by tier (exact, regional, partial), each ranked or by date."""
    rank = (lambda docs, n: _by_date(engine, docs, n)) if sort == "date" else (lambda docs, n: engine.rank(clauses, docs, n))
    order: list[tuple[int, float, int]] = []
    for t, docs in enumerate(tiers):
        if limit is not None and len(order) >= limit:
            break
        if docs.any():
            order += [(d, s, t) for d, s in rank(docs, None if limit is None else limit - len(order))]
    return order


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


def _facets(engine: Engine, docs: np.ndarray) -> dict[str, tuple[FacetValue, ...]]:
    """Facet counts over a set of articles (every article, reprints included)."""
    ids = np.flatnonzero(docs)
    facets: dict[str, tuple[FacetValue, ...]] = {}
    for name in F.FACET_FIELDS:
        codes, labels = engine.column(name)
        counts = np.bincount(codes[ids], minlength=len(labels))
        present = [(labels[c], int(counts[c])) for c in np.flatnonzero(counts).tolist() if labels[c] not in (None, "", b"")]
        present.sort(key=lambda kv: (-kv[1], str(kv[0])))
        facets[name] = tuple(FacetValue(str(v), n) for v, n in present[:FACET_LIMIT])
    return facets


def _hit(searcher: Searcher, docnum: int, score: float, terms: list[str], duplicates: int, match: str = "exact") -> Hit:
    stored = searcher.stored_fields(docnum)
    title = stored.get(F.HEADLINE, "")
    body = stored.get(F.BODY, "")
    return Hit(
        id=stored[F.ID_FIELD],
        title=title,
        url=stored.get(F.URL),
        source=stored.get(F.SOURCE),
        published=stored.get(F.PUBLISHED),
        score=round(float(score), 4),
        snippet=snippet(body, terms),
        title_html=highlight(title, terms),
        category=stored.get(F.CATEGORY),
        duplicates=max(0, duplicates),
        title_derived=bool(stored.get(F.TITLE_DERIVED)),
        match=match,
    )


def _suggestion(generation: Path, parsed: _query.ParsedQuery) -> str | None:
    candidate = vocabulary(generation).did_you_mean(parsed.text)
    return candidate if candidate and candidate != parsed.text else None


def suggest(prefix: str, limit: int = 8, *, index_dir: IndexDir = None) -> list[str]:
    """Completions of a Chinese or pinyin prefix (full or initials) from the index's vocabulary."""
    if not isinstance(prefix, str):
        raise QuerySyntaxError("the prefix must be text")
    limit = _args.whole(limit, "limit", 1, 50)
    prefix = _query.clean(prefix)[:50]
    if not prefix.strip():
        return []
    _, generation = CACHE.searcher(index_dir)
    return vocabulary(generation).complete(prefix, limit)


def _docnum(searcher: Searcher, article_id: str) -> int:
    docnum = searcher.document_number(**{F.ID_FIELD: article_id}) if isinstance(article_id, str) else None
    if docnum is None:
        raise ArticleNotFoundError(f"no article with id {article_id!r}")
    return docnum


def related(article_id: str, limit: int = 5, *, index_dir: IndexDir = None) -> list[Hit]:
    """Articles like this one (more-like-this over the body's distinctive words), reprints left out."""
    limit = _args.whole(limit, "limit", 1, 50)
    searcher, _ = CACHE.searcher(index_dir)
    with _args.reading():
        return _related(searcher, _docnum(searcher, article_id), limit)


def _related(searcher: Searcher, docnum: int, limit: int) -> list[Hit]:
    stored = searcher.stored_fields(docnum)
    text = f"{stored.get(F.HEADLINE, '')}\n{stored.get(F.BODY, '')}"[:5000]
    results = searcher.more_like(docnum, F.BODY, text=text, top=limit * 3, numterms=15)
    dup_col, _ = engine_for(searcher).column(F.DUP_KEY)
    seen = {dup_col[docnum]}
    hits: list[Hit] = []
    for hit in results:
        key = dup_col[hit.docnum]
        if key in seen:
            continue
        seen.add(key)
        hits.append(_hit(searcher, hit.docnum, hit.score or 0.0, [], 0))
        if len(hits) >= limit:
            break
    return hits


def get_article(article_id: str, *, highlight_query: str | None = None, index_dir: IndexDir = None) -> ArticleView:
    """One whole article; with ``highlight_query`` its words are marked in the title and body."""
    searcher, _ = CACHE.searcher(index_dir)
    with _args.reading():
        stored = searcher.stored_fields(_docnum(searcher, article_id))
    terms = prepare_terms(_query.parse(highlight_query).highlight_terms()) if highlight_query else []
    title, body = stored.get(F.HEADLINE, ""), stored.get(F.BODY, "")
    return ArticleView(
        id=stored[F.ID_FIELD], title=title, body=body,
        body_html="".join(f"<p>{highlight(p, terms)}</p>" for p in body.split("\n") if p.strip()),
        title_html=highlight(title, terms), url=stored.get(F.URL), source=stored.get(F.SOURCE),
        category=stored.get(F.CATEGORY), published=stored.get(F.PUBLISHED), author=stored.get(F.AUTHOR),
        editor=stored.get(F.EDITOR), original_title=stored.get(F.ORIGINAL_TITLE),
        title_derived=bool(stored.get(F.TITLE_DERIVED)),
    )
