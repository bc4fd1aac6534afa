"""Every environment variable the project reads, in one place.

| variable | default | meaning |
|---|---|---|
| ``ZHSEARCH_INDEX_DIR`` | ``index`` | folder holding the built index, or ``xapian://host:port,...`` (shard servers) |
| ``ZHSEARCH_DATA`` | ``../shared/data`` | the shared test/benchmark data (tests and bench only) |
| ``ZHSEARCH_JIEBA_CACHE`` | jieba's own file in the system temp folder | where jieba keeps its dictionary cache (made readable by all); the memory-mapped dictionary queries are cut with (``indexer.dictionary``) is kept in the same folder |
| ``ZHSEARCH_PROCS`` | number of CPUs, at most 4 | worker processes for a rebuild |
| ``ZHSEARCH_CACHE_MB`` | ``64`` | postings a search process keeps in memory per index (shared by its threads) |
| ``ZHSEARCH_TRUSTED_HOSTS`` | ``python -m web``: the loopback names and its ``--host`` | host names the web server answers (comma-separated; ``.example.org`` for a domain) |
| ``ZHSEARCH_CORS_ORIGINS`` | none (no CORS headers) | origins whose pages may read the JSON API and feeds (comma-separated; ``*`` for any) |
| ``ZHSEARCH_SHARD_TIMEOUT_MS`` | ``900`` | how long a Xapian shard server may take to answer before it is given up on (its next replica tried, or left out) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "ZHSEARCH_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name

    def get(self) -> str:
        return os.environ.get(self.env) or self.default


SETTINGS: tuple[Setting, ...] = (
    Setting("INDEX_DIR", "index", "folder holding the built index, or xapian://host:port,... (shard servers)"),
    Setting("DATA", "../shared/data", "shared test and benchmark data (tests, bench)"),
    Setting("JIEBA_CACHE", "", "jieba dictionary cache file, beside which the query dictionary is kept (default: jieba's own, in the system temp folder)"),
    Setting("PROCS", "", "worker processes for rebuild (default: CPUs, at most 4)"),
    Setting("CACHE_MB", "64", "postings a search process keeps in memory per index, in MB (shared by its threads)"),
    Setting("TRUSTED_HOSTS", "", "host names the web server answers, comma-separated (default: loopback and --host)"),
    Setting("CORS_ORIGINS", "", "origins whose pages may read the JSON API and feeds, comma-separated, * for any (default: none)"),
    Setting("SHARD_TIMEOUT_MS", "900", "milliseconds a Xapian shard server may take to answer before it is given up on"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> str:
    return _BY_NAME[name].get()


def index_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The index folder: the argument if given, else ``ZHSEARCH_INDEX_DIR``, else ``index``."""
    return Path(value) if value else Path(setting("INDEX_DIR"))


def index_location(value: str | os.PathLike[str] | None = None) -> str:
    """Like ``index_dir``, as given: a folder, or a ``xapian://host:port,...`` address of shard servers."""
    return str(value) if value else setting("INDEX_DIR")


def data_dir() -> Path:
    return Path(setting("DATA"))


def procs() -> int:
    raw = setting("PROCS")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, min(4, os.cpu_count() or 1))


def cache_bytes() -> int:
    """``ZHSEARCH_CACHE_MB`` in bytes (a bad value: the default)."""
    raw = setting("CACHE_MB")
    try:
        mb = float(raw)
    except ValueError:
        mb = float(_BY_NAME["CACHE_MB"].default)
    return int(max(0.0, mb) * 2**20) if mb == mb else int(float(_BY_NAME["CACHE_MB"].default) * 2**20)


def trusted_hosts() -> list[str] | None:
    """``ZHSEARCH_TRUSTED_HOSTS`` as a list; None when unset."""
    raw = setting("TRUSTED_HOSTS")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    return names or None


def cors_origins() -> list[str]:
    """``ZHSEARCH_CORS_ORIGINS`` as a list (``["*"]`` for any origin); empty when unset."""
    return [o.strip().rstrip("/") for o in setting("CORS_ORIGINS").split(",") if o.strip()]


def shard_timeout_ms() -> int:
    """``ZHSEARCH_SHARD_TIMEOUT_MS``, 1 ms to 10 minutes (a bad value: the default)."""
    raw = setting("SHARD_TIMEOUT_MS").strip()
    if raw.isdigit() and 0 < int(raw) <= 600_000:
        return int(raw)
    return int(_BY_NAME["SHARD_TIMEOUT_MS"].default)
