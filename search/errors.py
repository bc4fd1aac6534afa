"""Typed errors of the search package."""

from __future__ import annotations


class SearchError(Exception):
    """Base class of every error ``search()`` raises on purpose."""


class QuerySyntaxError(SearchError, ValueError):
    """A parameter or query could not be understood (bad page, sort, date...)."""


class IndexNotFoundError(SearchError, FileNotFoundError):
    """No usable index: missing, damaged, or built by another version (rebuild needed)."""


class ArticleNotFoundError(SearchError, KeyError):
    """No article with that id in the index."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "article not found"


class IndexDamagedError(SearchError):
    """A file of the index could not be read back (damaged on disk): the index must be rebuilt."""
