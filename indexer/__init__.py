"""Read Chinese articles, analyse them and build the Whoosh index."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Names load their module on first use (PEP 562): ``import search`` needs the
# store and the analyzers, not the HTML and raw-text readers (OpenCC tables,
# trafilatura), which cost about 0.3 s to import.
_HOME = {
    "BuildReport": "_build", "IndexStats": "_build", "build_index": "_build", "delete_articles": "_build",
    "index_stats": "_build", "optimize_index": "_build", "update_index": "_build",
    "Skipped": "_items", "parse_article": "_sources", "read_sources": "_sources",
    "CURRENT": "_store", "check_meta": "_store", "current_generation": "_store", "open_generation": "_store",
    "NO_DATE": "schema",
    "ANALYZER_VERSION": "analysis", "ChineseAnalyzer": "analysis", "ChineseCharAnalyzer": "analysis",
    "Article": "article",
    "ArticleParseError": "errors", "IndexDamagedError": "errors", "IndexerError": "errors", "IndexLockedError": "errors",
    "IndexNotFoundError": "errors", "IndexVersionError": "errors", "IndexWriteError": "errors",
}

if TYPE_CHECKING:
    from indexer._build import (
        BuildReport,
        IndexStats,
        build_index,
        delete_articles,
        index_stats,
        optimize_index,
        update_index,
    )
    from indexer._items import Skipped
    from indexer._sources import parse_article, read_sources
    from indexer._store import CURRENT, check_meta, current_generation, open_generation
    from indexer.analysis import ANALYZER_VERSION, ChineseAnalyzer, ChineseCharAnalyzer
    from indexer.article import Article
    from indexer.errors import (
        ArticleParseError,
        IndexDamagedError,
        IndexerError,
        IndexLockedError,
        IndexNotFoundError,
        IndexVersionError,
        IndexWriteError,
    )
    from indexer.schema import NO_DATE


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}")
    value = getattr(import_module(f"indexer.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ANALYZER_VERSION",
    "CURRENT",
    "Article",
    "ArticleParseError",
    "BuildReport",
    "CURRENT",
    "ChineseAnalyzer",
    "ChineseCharAnalyzer",
    "IndexDamagedError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexStats",
    "IndexVersionError",
    "IndexWriteError",
    "IndexerError",
    "NO_DATE",
    "Skipped",
    "build_index",
    "check_meta",
    "current_generation",
    "delete_articles",
    "index_stats",
    "open_generation",
    "optimize_index",
    "parse_article",
    "read_sources",
    "update_index",
]
