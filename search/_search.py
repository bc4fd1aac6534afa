"""``search()``, ``suggest()``, ``related()``, ``get_article()`` and ``index_info()``.

Each parses and checks what it is given, plans (``search._plan``), lets the
index's backend execute the plan (``search._backend``) and builds the results
from what comes back: snippets and highlights are made here, from the stored
text, whatever the backend.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from datetime import date, datetime
from typing import Any, get_args

from whoosh import query as Q

from indexer import schema as F
from search import _args, _query
from search._backend import Backend, Outcome, Ranked
from search._index import CACHE
from search._plan import Plan, make_plan
from search._snippets import highlight, prepare_terms, snippet
from search._suggest import vocabulary
from search._tiers import RELAX_BELOW
from search._types import ArticleView, FacetValue, Hit, IndexInfo, QueryInfo, SearchResults, Sort
from search._variants import variants
from search.errors import QuerySyntaxError

IndexDir = str | os.PathLike[str] | None
SORTS: tuple[str, ...] = get_args(Sort)
MAX_PER_PAGE = 100
MAX_PAGE = 1000
FACET_LIMIT = 20


def search(
    q: str,
    *,
    index_dir: IndexDir = None,
    page: int = 1,
    per_page: int = 10,
    sort: Sort = "relevance",
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
    if reprints_of is not None and not isinstance(reprints_of, str):
        raise QuerySyntaxError("reprints_of must be an article id")
    backend = CACHE.backend(index_dir)
    info_filters = tuple((k, str(v)) for k, v in (("source", source), ("category", category), ("year", year),
                         ("date_from", date_from), ("date_to", date_to), ("reprints_of", reprints_of)) if v)
    if parsed.empty and not filters and reprints_of is None:
        return SearchResults(query=parsed.text, total=0, page=page, per_page=per_page, pages=0, hits=(),
                             query_info=_info(parsed, info_filters), sort=sort)
    plan = make_plan(parsed, filters=filters, sort=sort, page=page, per_page=per_page, reprints_of=reprints_of,
                     facet_fields=F.FACET_FIELDS)
    with _args.reading():
        res = _results(backend, parsed, plan, info_filters)
        if correct and not parsed.empty and res.total == 0 and not res.query_info.regional_total:
            res = _corrected(backend, parsed, plan, info_filters) or res
        elif not parsed.empty and 0 < res.total < RELAX_BELOW:
            res = replace(res, suggestion=_better_spelling(backend, parsed, res.total))
    return replace(res, seconds=time.perf_counter() - started)


def _info(parsed: _query.ParsedQuery, filters: tuple[tuple[str, str], ...], **counts: Any) -> QueryInfo:
    return QueryInfo(
        text=parsed.text, words=tuple(parsed.words), phrases=tuple(parsed.phrases), excluded=tuple(parsed.excluded),
        fields=tuple([("title", t) for t in parsed.title_terms] + [("source", s) for s in parsed.sources]),
        any_of=tuple(tuple(g) for g in parsed.any_of), filters=filters, ignored=tuple(parsed.ignored), **counts,
    )


def _results(backend: Backend, parsed: _query.ParsedQuery, plan: Plan,
             info_filters: tuple[tuple[str, str], ...]) -> SearchResults:
    out: Outcome = backend.execute(plan)
    terms = prepare_terms(parsed.highlight_terms() + [v for t in parsed.words + parsed.phrases for v in variants(t)])
    info = _info(
        parsed, info_filters, relaxed=out.partial > 0, strict_total=out.exact, regional_total=out.regional,
        partial_total=out.partial, folded=out.listed - out.groups, facets_of=out.facets_of,
        regional_forms=_regional_forms(parsed) if out.regional else (),
    )
    facets = {name: tuple(FacetValue(v, n) for v, n in values[:FACET_LIMIT]) for name, values in out.facets.items()}
    return SearchResults(
        query=parsed.text, total=out.exact, page=plan.page, per_page=plan.per_page,
        pages=min(MAX_PAGE, math.ceil(out.groups / plan.per_page)), hits=tuple(_hit(r, terms) for r in out.hits),
        facets=facets, query_info=info, sort=plan.sort, unavailable_shards=out.partial_shards,
    )


def _regional_forms(parsed: _query.ParsedQuery) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((t, variants(t)[1:]) for t in parsed.texts if len(variants(t)) > 1)


def _corrected(backend: Backend, parsed: _query.ParsedQuery, plan: Plan,
               info_filters: tuple[tuple[str, str], ...]) -> SearchResults | None:
    """The results of a likely correction of a query that matches nothing, when it matches something."""
    candidate = _suggestion(backend, parsed)
    if candidate is None:
        return None
    fixed_query = _query.parse(candidate)
    fixed_plan = make_plan(fixed_query, filters=list(plan.filters), sort=plan.sort, page=plan.page,
                           per_page=plan.per_page, reprints_of=plan.reprints_of, facet_fields=plan.facet_fields)
    fixed = _results(backend, fixed_query, fixed_plan, info_filters)
    if fixed.total == 0:
        return None
    return replace(fixed, suggestion=candidate, query_info=replace(fixed.query_info, corrected_from=parsed.text))


def _better_spelling(backend: Backend, parsed: _query.ParsedQuery, total: int) -> str | None:
    """A correction worth offering for a query with a few matches: one with ten times as many."""
    candidate = _suggestion(backend, parsed)
    if candidate is None:
        return None
    return candidate if backend.count(_query.exact_plan(_query.parse(candidate))) >= 10 * total else None


def _suggestion(backend: Backend, parsed: _query.ParsedQuery) -> str | None:
    candidate = vocabulary(backend.vocabulary_dir).did_you_mean(parsed.text)
    return candidate if candidate and candidate != parsed.text else None


def _hit(ranked: Ranked, terms: list[str]) -> Hit:
    stored = ranked.stored
    title = stored.get(F.HEADLINE, "")
    return Hit(
        id=stored[F.ID_FIELD],
        title=title,
        url=stored.get(F.URL),
        source=stored.get(F.SOURCE),
        published=stored.get(F.PUBLISHED),
        score=round(float(ranked.score), 4),
        snippet=snippet(stored.get(F.BODY, ""), terms),
        title_html=highlight(title, terms),
        category=stored.get(F.CATEGORY),
        duplicates=ranked.duplicates,
        title_derived=bool(stored.get(F.TITLE_DERIVED)),
        match=ranked.tier,
    )


def suggest(prefix: str, *, limit: int = 8, index_dir: IndexDir = None) -> tuple[str, ...]:
    """Completions of a Chinese or pinyin prefix (full or initials) from the index's vocabulary."""
    if not isinstance(prefix, str):
        raise QuerySyntaxError("the prefix must be text")
    limit = _args.whole(limit, "limit", 1, 50)
    prefix = _query.clean(prefix)[:50]
    if not prefix.strip():
        return ()
    backend = CACHE.backend(index_dir)
    with _args.reading():
        return tuple(vocabulary(backend.vocabulary_dir).complete(prefix, limit))


def related(article_id: str, *, limit: int = 5, index_dir: IndexDir = None) -> tuple[Hit, ...]:
    """Articles like this one (more-like-this over the body's distinctive words), reprints left out."""
    limit = _args.whole(limit, "limit", 1, 50)
    backend = CACHE.backend(index_dir)
    with _args.reading():
        return tuple(_hit(r, []) for r in backend.related(_article_id(article_id), limit))


def _article_id(article_id: Any) -> str:
    if not isinstance(article_id, str):
        raise QuerySyntaxError("an article id is text")
    return article_id


def get_article(article_id: str, *, highlight_query: str | None = None, index_dir: IndexDir = None) -> ArticleView:
    """One whole article; with ``highlight_query`` its words are marked in the title and body."""
    backend = CACHE.backend(index_dir)
    with _args.reading():
        stored = backend.article(_article_id(article_id))
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


def index_info(*, index_dir: IndexDir = None) -> IndexInfo:
    """What is served from ``index_dir``: its generation and article count. Raises
    ``IndexNotFoundError`` (``IndexVersionError`` for an outdated index) or ``IndexDamagedError``."""
    backend = CACHE.backend(index_dir)
    with _args.reading():
        return backend.info()


def close_indexes() -> None:
    """Close every index this process has open (before a fork, say); the next call reopens."""
    CACHE.clear()


