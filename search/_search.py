"""``search()``, ``suggest()``, ``related()`` and ``get_article()``."""

from __future__ import annotations

import math
import os
import time
from datetime import date, datetime, time as dtime
from pathlib import Path
from typing import Any

from whoosh import query as Q
from whoosh.matching import ListMatcher, RequireMatcher
from whoosh.searching import Searcher

from indexer import schema as F
from search import _query
from search._index import CACHE
from search._snippets import highlight, prepare_terms, snippet
from search._suggest import vocabulary
from search._types import ArticleView, FacetValue, Hit, QueryInfo, SearchResults
from search.errors import ArticleNotFoundError, QuerySyntaxError, SearchError

IndexDir = str | os.PathLike[str] | None
SORTS = ("relevance", "date")
MAX_PER_PAGE = 100
MAX_PAGE = 1000
# Fewer documents than this with every word: partial matches follow them.
RELAX_BELOW = 10
FACET_LIMIT = 20
# Documents with every word rank above partial matches.
STRICT_FIRST = True
_MISSING_DATE = 2**64 - 1
# Candidate sets up to this size are scored document by document (skipping
# through the postings); larger ones go through Whoosh's top-k collector.
DIRECT_SCORING_MAX = 400  # Whoosh's raw DATETIME column value for "no date"


def _date_bound(value: Any, name: str, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, dtime.max if end else dtime.min)
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise QuerySyntaxError(f"{name} must be a date like 2024-10-18, not {value!r}") from None
        return datetime.combine(parsed, dtime.max if end else dtime.min)
    raise QuerySyntaxError(f"{name} must be a date, not {type(value).__name__}")


def _int(value: Any, name: str, low: int, high: int) -> int:
    try:
        if isinstance(value, str):
            text = value.strip()
            digits = text.lstrip("+-").lstrip("0") or "0"
            if len(digits) > 9 or not digits.isdigit():
                raise ValueError(value)
            value = -int(digits) if text.startswith("-") else int(digits)
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise QuerySyntaxError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise QuerySyntaxError(f"{name} must be between {low} and {high}, not {number}")
    return number


def _filters(source: str | None, category: str | None, year: str | int | None,
             date_from: datetime | None, date_to: datetime | None) -> list[Q.Query]:
    out: list[Q.Query] = []
    if source:
        out.append(Q.Term(F.SOURCE, str(source)))
    if category:
        out.append(Q.Term(F.CATEGORY, str(category)))
    if year:
        out.append(Q.Term(F.YEAR, str(year)))
    if date_from or date_to:
        out.append(Q.DateRange(F.PUBLISHED, date_from, date_to))
    return out


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
) -> SearchResults:
    """Search the index. Everything in ``q`` is safe: syntax is escaped unless it is the small supported set."""
    started = time.perf_counter()
    if not isinstance(q, str):
        raise QuerySyntaxError("the query must be text")
    page = _int(page, "page", 1, MAX_PAGE)
    per_page = _int(per_page, "per_page", 1, MAX_PER_PAGE)
    if sort not in SORTS:
        raise QuerySyntaxError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    start_date = _date_bound(date_from, "date_from", end=False)
    end_date = _date_bound(date_to, "date_to", end=True)
    parsed = _query.parse(q)
    filters = _filters(source, category, year, start_date, end_date)
    if parsed.sources:  # `source:` in the query restricts like the argument does
        filters.append(Q.Or([Q.Term(F.SOURCE, s) for s in parsed.sources]))
    searcher, generation = CACHE.searcher(index_dir)
    info_filters = tuple((k, str(v)) for k, v in (("source", source), ("category", category), ("year", year),
                         ("date_from", date_from), ("date_to", date_to)) if v)
    if parsed.empty and not filters:
        return SearchResults(query=parsed.text, total=0, page=page, per_page=per_page, pages=0, hits=(),
                             query_info=QueryInfo(text=parsed.text, words=(), filters=info_filters), sort=sort)
    try:
        return _run(searcher, generation, parsed, filters, page, per_page, sort, info_filters, started)
    except SearchError:
        raise
    except (OSError, EOFError, ValueError) as exc:
        raise SearchError(f"the index could not be searched: {exc}") from exc


def _run(searcher: Searcher, generation: Path, parsed: _query.ParsedQuery, filters: list[Q.Query], page: int,
         per_page: int, sort: str, info_filters: tuple[tuple[str, str], ...], started: float) -> SearchResults:
    exclusion = _query.exclusion_query(parsed)
    mask = set(searcher.docs_for_query(exclusion)) if exclusion is not None else set()
    filter_q = Q.And(filters) if filters else None
    if parsed.empty:
        ranking: Q.Query = filter_q if filter_q is not None else Q.Every()
        strict_docs = _docs(searcher, ranking, None, mask)
        sort = "date" if sort == "relevance" else sort
    else:
        ranking = Q.Or(_query.ranking_clauses(parsed))
        # Words as jieba words first; only when few articles have them all are
        # character phrases read too (they also find text jieba split differently).
        strict_docs = _docs(searcher, _query.strict_query(parsed, chars=False), filter_q, mask)
        if len(strict_docs) < RELAX_BELOW:
            strict_docs |= _docs(searcher, _query.strict_query(parsed), filter_q, mask)
    pool = strict_docs
    if len(strict_docs) < RELAX_BELOW and not parsed.empty:
        # Partial matches: articles with any of the query's words; only when none
        # has one, any of its bigrams (one pass each, no positions read).
        pool = strict_docs | _docs(searcher, _query.any_term_query(ranking, fields=F.WORD_FIELDS), filter_q, mask)
        if not pool:
            pool = _docs(searcher, _query.any_term_query(ranking), filter_q, mask)
        if not pool:
            pool = _docs(searcher, _query.partial_query(parsed, single_chars=True), filter_q, mask)
    relaxed = len(pool) > len(strict_docs)
    facets, groups = _facets(searcher, pool)
    total = len(groups)
    need = page * per_page
    first_tier = strict_docs if STRICT_FIRST else set()
    dup_col = _columns(searcher)[F.DUP_KEY]
    limit: int | None = need * 2 + 10
    while True:  # over-fetch for collapsing; fetch more only if reprints ate the page
        order = _order(searcher, ranking, first_tier, pool - first_tier, limit, sort)
        chosen = _collapse(order, dup_col, need)
        if len(chosen) >= need or limit is None or len(order) < limit:
            break
        limit = limit * 4 if limit < len(pool) else None
    terms = prepare_terms(parsed.highlight_terms())
    hits = tuple(_hit(searcher, docnum, score, terms, groups.get(dup_col[docnum], 1) - 1)
                 for docnum, score in chosen[(page - 1) * per_page : need])
    suggestion = _suggestion(generation, parsed) if not parsed.empty else None
    info = QueryInfo(
        text=parsed.text, words=tuple(parsed.words), phrases=tuple(parsed.phrases), excluded=tuple(parsed.excluded),
        fields=tuple([("title", t) for t in parsed.title_terms] + [("source", s) for s in parsed.sources]),
        any_of=tuple(tuple(g) for g in parsed.any_of), relaxed=relaxed, strict_total=len(strict_docs), filters=info_filters,
    )
    return SearchResults(
        query=parsed.text, total=total, page=page, per_page=per_page, pages=math.ceil(total / per_page),
        hits=hits, facets=facets, suggestion=suggestion, query_info=info, sort=sort,
        seconds=time.perf_counter() - started,
    )


def _docs(searcher: Searcher, query: Q.Query, filter_q: Q.Query | None, mask: set[int]) -> set[int]:
    if filter_q is not None:
        query = Q.And([query, filter_q])
    docs = set(searcher.docs_for_query(query))
    return docs - mask if mask else docs


def _score_within(searcher: Searcher, ranking: Q.Query, docs: set[int], limit: int | None) -> list[tuple[int, float]]:
    """Scores of ``ranking`` for exactly ``docs``: the matcher skips to each, no full scan."""
    matcher = ranking.matcher(searcher, searcher.context())
    scored: dict[int, float] = dict.fromkeys(docs, 0.0)
    if matcher.is_active():
        matcher = RequireMatcher(matcher, ListMatcher(sorted(docs), all_weights=0.0))
        while matcher.is_active():
            scored[matcher.id()] = matcher.score()
            matcher.next()
    ranked = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:limit] if limit else ranked


def _by_date(searcher: Searcher, docs: set[int]) -> list[tuple[int, float]]:
    dates = _columns(searcher)[F.PUBLISHED]
    return [(d, 0.0) for d in sorted(docs, key=lambda d: (-(dates[d] or 0), d))]


def _top(searcher: Searcher, ranking: Q.Query, docs: set[int], limit: int | None) -> list[tuple[int, float]]:
    """The best ``limit`` of ``docs`` by ``ranking``; documents no scoring term reaches follow at 0."""
    if not docs:
        return []
    if len(docs) <= DIRECT_SCORING_MAX or limit is None:
        return _score_within(searcher, ranking, docs, limit)
    results = searcher.search(ranking, filter=docs, limit=limit)
    order = [(hit.docnum, hit.score or 0.0) for hit in results]
    if len(order) < limit:
        seen = {d for d, _ in order}
        order += [(d, 0.0) for d in sorted(docs - seen)[: limit - len(order)]]
    return order


def _order(searcher: Searcher, ranking: Q.Query, first: set[int], rest: set[int], limit: int | None, sort: str) -> list[tuple[int, float]]:
    """The first ``limit`` docnums: all-word matches first, then partial matches."""
    if sort == "date":
        return (_by_date(searcher, first) + _by_date(searcher, rest))[:limit]
    order = _top(searcher, ranking, first, limit)
    if rest and (limit is None or len(order) < limit):
        order += _top(searcher, ranking, rest, None if limit is None else limit - len(order))
    return order


def _collapse(order: list[tuple[int, float]], dup_col: list[Any], need: int) -> list[tuple[int, float]]:
    """Keep the best of each group of reprints, up to ``need`` hits."""
    seen: set[Any] = set()
    chosen: list[tuple[int, float]] = []
    for docnum, score in order:
        key = dup_col[docnum]
        if key not in seen:
            seen.add(key)
            chosen.append((docnum, score))
            if len(chosen) >= need:
                break
    return chosen


def _columns(searcher: Searcher) -> dict[str, list[Any]]:
    """Facet and sort columns as plain lists, read once per searcher."""
    cached = getattr(searcher, "_zhsearch_columns", None)
    if cached is None:
        reader = searcher.reader()
        count = reader.doc_count_all()
        cached = {}
        for name in (*F.FACET_FIELDS, F.DUP_KEY, F.PUBLISHED):
            if reader.has_column(name):
                column = reader.column_reader(name, translate=False) if name == F.PUBLISHED else reader.column_reader(name)
                values = list(column)
                if name == F.PUBLISHED:
                    values = [None if v == _MISSING_DATE else v for v in values]
            else:
                values = [None] * count
            cached[name] = values
        searcher._zhsearch_columns = cached  # type: ignore[attr-defined]
    return cached


def _facets(searcher: Searcher, docs: set[int]) -> tuple[dict[str, tuple[FacetValue, ...]], dict[Any, int]]:
    columns = _columns(searcher)
    counts: dict[str, dict[Any, int]] = {}
    for name in (*F.FACET_FIELDS, F.DUP_KEY):
        values = columns[name]
        tally: dict[Any, int] = {}
        for docnum in docs:
            value = values[docnum]
            tally[value] = tally.get(value, 0) + 1
        counts[name] = tally
    facets = {
        name: tuple(
            FacetValue(str(v), n)
            for v, n in sorted(counts[name].items(), key=lambda kv: (-kv[1], str(kv[0])))
            if v not in (None, "", b"")
        )[:FACET_LIMIT]
        for name in F.FACET_FIELDS
    }
    return facets, counts[F.DUP_KEY]


def _hit(searcher: Searcher, docnum: int, score: float, terms: list[str], duplicates: int) -> Hit:
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
    )


def _suggestion(generation: Path, parsed: _query.ParsedQuery) -> str | None:
    candidate = vocabulary(generation).did_you_mean(parsed.text)
    return candidate if candidate and candidate != parsed.text else None


def suggest(prefix: str, limit: int = 8, *, index_dir: IndexDir = None) -> list[str]:
    """Completions of a Chinese or pinyin prefix (full or initials) from the index's vocabulary."""
    if not isinstance(prefix, str):
        raise QuerySyntaxError("the prefix must be text")
    limit = _int(limit, "limit", 1, 50)
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
    limit = _int(limit, "limit", 1, 50)
    searcher, _ = CACHE.searcher(index_dir)
    docnum = _docnum(searcher, article_id)
    stored = searcher.stored_fields(docnum)
    text = f"{stored.get(F.HEADLINE, '')}\n{stored.get(F.BODY, '')}"[:5000]
    results = searcher.more_like(docnum, F.BODY, text=text, top=limit * 3, numterms=15)
    own_key = searcher.reader().column_reader(F.DUP_KEY)[docnum]
    dup_col = searcher.reader().column_reader(F.DUP_KEY)
    seen = {own_key}
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
