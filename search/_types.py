"""Plain typed results: frozen dataclasses with ``to_dict()`` for JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Sort = Literal["relevance", "date"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Hit:
    """One result. ``snippet`` and ``title_html`` are HTML-safe (escaped, matches in ``<mark>``)."""

    id: str
    title: str
    url: str | None
    source: str | None
    published: datetime | None
    score: float
    snippet: str
    title_html: str
    category: str | None = None
    duplicates: int = 0
    title_derived: bool = False
    match: str = "exact"  # "exact": holds every word as typed; "regional": as a regional form; "partial": lacks some

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class QueryInfo:
    """How the query was understood."""

    text: str
    words: tuple[str, ...]
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    any_of: tuple[tuple[str, ...], ...] = ()
    relaxed: bool = False
    strict_total: int = 0  # articles holding every word and phrase as typed (the results' total)
    filters: tuple[tuple[str, str], ...] = ()
    regional_total: int = 0  # further articles holding them only in a regional form (网路 for 网络)
    partial_total: int = 0  # further articles listed after those, lacking some word
    folded: int = 0  # listed articles folded into another as reprints
    facets_of: str = "exact"  # "exact": facets count the total's articles; "listed": every listed one
    regional_forms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ignored: tuple[str, ...] = ()  # typed chunks with nothing to match (punctuation alone)
    corrected_from: str | None = None  # what was typed, when these are a correction's results

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class SearchResults:
    query: str
    total: int
    page: int
    per_page: int
    pages: int
    hits: tuple[Hit, ...]
    facets: dict[str, tuple[FacetValue, ...]] = field(default_factory=dict)
    suggestion: str | None = None
    query_info: QueryInfo = field(default_factory=lambda: QueryInfo(text="", words=()))
    sort: Sort = "relevance"
    seconds: float = 0.0
    unavailable_shards: int = 0  # shards of a sharded index that did not answer: their articles are missing

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ArticleView:
    """A whole article for the article page."""

    id: str
    title: str
    body: str
    body_html: str
    title_html: str
    url: str | None
    source: str | None
    category: str | None
    published: datetime | None
    author: str | None
    editor: str | None
    original_title: str | None
    title_derived: bool

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class IndexInfo:
    """What an index folder serves."""

    location: str  # the index folder
    generation: str  # the generation being served
    articles: int  # live articles
    backend: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))
