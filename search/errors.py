"""Typed errors of the search package.

The index errors are also the indexer's (``indexer.errors``), so one ``except``
catches an index problem whichever package raised it.
"""

from __future__ import annotations

from indexer import errors as _indexer_errors


class SearchError(Exception):
    """Base class of every error ``search()`` raises on purpose."""


class QuerySyntaxError(SearchError, ValueError):
    """A parameter or query could not be understood (bad page, sort, date...)."""


class QueryTooBroadError(QuerySyntaxError):
    """A text the backend would have to check article by article has too many candidates (on the
    Xapian backend: a quoted text with punctuation or spaces inside, of very common characters)."""


class IndexNotFoundError(SearchError, _indexer_errors.IndexNotFoundError):
    """No index in the folder (or it cannot be opened)."""


class IndexVersionError(IndexNotFoundError, _indexer_errors.IndexVersionError):
    """The index was built by another version of the analyzer or schema: rebuild it."""


class ArticleNotFoundError(SearchError, KeyError):
    """No article with that id in the index."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "article not found"


class IndexDamagedError(SearchError, _indexer_errors.IndexDamagedError):
    """A file of the index could not be read back (damaged on disk): the index must be rebuilt."""


class IndexUnavailableError(SearchError):
    """The index's servers (Xapian shards) do not answer: try again later."""
