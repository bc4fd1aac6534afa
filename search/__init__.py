"""Search the Chinese news index: ``search()``, ``suggest()``, ``related()``, ``get_article()``."""

from search._search import get_article, related, search, suggest
from search._types import ArticleView, FacetValue, Hit, QueryInfo, SearchResults
from search.errors import ArticleNotFoundError, IndexDamagedError, IndexNotFoundError, QuerySyntaxError, SearchError

__all__ = [
    "ArticleNotFoundError",
    "ArticleView",
    "FacetValue",
    "Hit",
    "IndexDamagedError",
    "IndexNotFoundError",
    "QueryInfo",
    "QuerySyntaxError",
    "SearchError",
    "SearchResults",
    "get_article",
    "related",
    "search",
    "suggest",
]
