"""Read Chinese articles, analyse them and build the Whoosh index."""

from indexer._build import BuildReport, IndexStats, build_index, delete_articles, index_stats, update_index
from indexer._sources import Skipped, parse_article, read_sources
from indexer._store import check_meta, current_generation, open_generation
from indexer.analysis import ANALYZER_VERSION, ChineseAnalyzer, ChineseCharAnalyzer
from indexer.article import Article
from indexer.errors import (
    ArticleParseError,
    IndexerError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    IndexWriteError,
)

__all__ = [
    "ANALYZER_VERSION",
    "Article",
    "ArticleParseError",
    "BuildReport",
    "ChineseAnalyzer",
    "ChineseCharAnalyzer",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexStats",
    "IndexVersionError",
    "IndexWriteError",
    "IndexerError",
    "Skipped",
    "build_index",
    "check_meta",
    "current_generation",
    "delete_articles",
    "index_stats",
    "open_generation",
    "parse_article",
    "read_sources",
    "update_index",
]
