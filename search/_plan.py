"""A query plan: everything a backend needs to answer a search, and nothing of how.

``search()`` parses what the user typed (``search._query``) and turns it, with
the filters and the page asked for, into a ``Plan``; a backend
(``search._backend.Backend``) executes it. Text requirements are
``search._exact.Requirement`` (contiguous normalised text); the rest is said
with Whoosh query objects used as plain data (``Term``, ``Phrase``, ``Or``,
``And``, ``DateRange``, ``Every``, ``NullQuery``), whatever engine evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from whoosh import query as Q

from search import _query
from search._exact import Requirement
from search._types import Sort


@dataclass(frozen=True)
class Plan:
    """What must match, in which tiers, how to rank, which filters and which page."""

    exact: tuple[Requirement, ...]  # every word and phrase as typed: the total's articles
    regional: tuple[Requirement, ...] | None  # the same, each text also as a regional form; None: no such form
    words: tuple[Requirement, ...]  # the first partial tier: every jieba word of the words, anywhere
    single_words: Q.Query  # ... with its one-character words as words of their own
    fallbacks: tuple[Q.Query, ...]  # later partial tiers, tried in turn: any word, any bigram, any character
    excluded: tuple[Requirement, ...]  # an article holding any of these is left out
    ranking: tuple[Q.Query, ...]  # BM25 clauses (terms and proximity phrases)
    filters: tuple[Q.Query, ...] = ()  # every one must match (source, category, year, date range)
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 10
    reprints_of: str | None = None  # an article id: only its reprint group, none folded
    empty: bool = False  # no text to match: filters alone, newest first
    has_phrases: bool = False
    word_count: int = 0  # distinct words of the query (a one-word query is never relaxed after a match)
    facet_fields: tuple[str, ...] = ()


def make_plan(parsed: _query.ParsedQuery, *, filters: list[Q.Query], sort: Sort, page: int, per_page: int,
              reprints_of: str | None, facet_fields: tuple[str, ...]) -> Plan:
    empty = parsed.empty
    ranking = () if empty else tuple(_query.ranking_clauses(parsed))
    return Plan(
        exact=tuple(_query.exact_plan(parsed)),
        regional=tuple(_query.exact_plan(parsed, regional=True)) if not empty and _query.has_variants(parsed) else None,
        words=tuple(_query.words_plan(parsed)),
        single_words=_query.single_character_words(parsed),
        fallbacks=tuple(_query.fallback_queries(parsed, Q.Or(list(ranking)))) if not empty else (),
        excluded=tuple(_query.exclusion_plan(parsed)),
        ranking=ranking,
        filters=tuple(filters),
        sort="date" if empty else sort,
        page=page,
        per_page=per_page,
        reprints_of=reprints_of,
        empty=empty,
        has_phrases=bool(parsed.phrases),
        word_count=_query.word_count(parsed),
        facet_fields=facet_fields,
    )
