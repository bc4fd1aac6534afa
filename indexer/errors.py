"""Typed errors of the indexer; the CLI turns them into one-line messages."""

from __future__ import annotations

from pathlib import Path


class IndexerError(Exception):
    """Base class of every error the indexer raises on purpose."""


class ArticleParseError(IndexerError, ValueError):
    """An input item could not be turned into an article; it is skipped."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class IndexNotFoundError(IndexerError, FileNotFoundError):
    """No usable index exists in the given folder."""


class IndexVersionError(IndexNotFoundError):
    """The index was built by an incompatible analyzer or schema version."""


class IndexLockedError(IndexerError):
    """Another process is writing to the index."""


class IndexWriteError(IndexerError, OSError):
    """The index could not be written (disk full, read-only folder, ...)."""


class IndexDamagedError(IndexerError):
    """A file of the index is missing, resized or changed on disk since it was written: rebuild."""
