"""Search the Chinese news index: ``search()``, ``suggest()``, ``related()``, ``get_article()``, ``index_info()``."""

from search._search import close_indexes, get_article, index_info, related, search, suggest
from search._types import ArticleView, FacetValue, Hit, IndexInfo, QueryInfo, SearchResults, Sort
from search.errors import (
    ArticleNotFoundError,
    IndexDamagedError,
    IndexNotFoundError,
    IndexUnavailableError,
    IndexVersionError,
    QuerySyntaxError,
    QueryTooBroadError,
    SearchError,
)

__all__ = [
    "ArticleNotFoundError",
    "ArticleView",
    "FacetValue",
    "Hit",
    "IndexDamagedError",
    "IndexInfo",
    "IndexNotFoundError",
    "IndexUnavailableError",
    "IndexVersionError",
    "QueryInfo",
    "QuerySyntaxError",
    "QueryTooBroadError",
    "SearchError",
    "SearchResults",
    "Sort",
    "close_indexes",
    "get_article",
    "index_info",
    "related",
    "search",
    "suggest",
]
