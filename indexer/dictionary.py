"""jieba's dictionary as a memory-mapped trie, for analysing queries without loading it.

jieba keeps its dictionary in a Python dict: 349,000 words and, for its word
graph, every prefix of each (about 580,000 keys with ours). Loading it from
jieba's own cache takes most of a fresh process's first query (0.6-1.4 s), and
a query needs a few dozen lookups. This module writes the same keys and counts
once into a ``marisa-trie`` file beside jieba's cache and answers lookups from
it, memory-mapped: opening it takes milliseconds, and every process on the
machine shares its pages. jieba 0.42.1 itself cuts over it (its ``Tokenizer``
reads ``FREQ`` only through ``in``, ``[]`` and ``get``), so a query's words are
the ones jieba would give with the whole dictionary loaded.

The file is named after what it is made from (the dictionary file of the
engine that indexes, its size and time, our user dictionary, the versions), so
a changed dictionary gets a new file. When no file can be written (a read-only
temp folder) the process loads the dictionary itself, as before.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

import marisa_trie
import numpy as np

from indexer import settings

FORMAT = 1
_lock = threading.Lock()
_mapped: Mapping[str, int] | None = None


class MappedFrequencies(Mapping[str, int]):
    """The ``FREQ`` dict of jieba's tokenizer, read from a trie of its keys and an array of
    their counts (prefixes present with count 0); ``total`` is jieba's sum of the counts."""

    def __init__(self, trie: marisa_trie.Trie, counts: np.ndarray) -> None:
        if len(counts) != len(trie) + 1:
            raise ValueError("the dictionary's counts do not match its words")
        self._trie = trie
        self._counts = counts
        self.total = int(counts[-1])

    def __getitem__(self, key: str) -> int:
        return int(self._counts[self._trie[key]])

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        found = self._trie.get(key)
        return default if found is None else int(self._counts[found])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._trie

    def __iter__(self) -> Iterator[str]:
        return self._trie.iterkeys()

    def __len__(self) -> int:
        return len(self._trie)


def _engine_dictionary() -> Path | None:
    """The dictionary file of the engine ``indexer.analysis`` indexes with, found without importing it."""
    for name in ("jieba_fast", "jieba"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            return Path(spec.origin).parent / "dict.txt"
    return None


def trie_path() -> Path | None:
    """Where this dictionary's trie lives (a folder beside jieba's cache); None if its sources cannot be found."""
    source = _engine_dictionary()
    if source is None:
        return None
    try:
        info = source.stat()
    except OSError:
        return None
    userdict = resources.files("indexer").joinpath("resources/userdict.txt").read_bytes()
    key = hashlib.blake2b(f"{FORMAT}:{source}:{info.st_size}:{info.st_mtime_ns}".encode() + userdict,
                          digest_size=8).hexdigest()
    cache = settings.setting("JIEBA_CACHE")
    folder = Path(cache).parent if cache and os.path.isabs(cache) else Path(tempfile.gettempdir())
    return folder / f"zhsearch-dictionary-{key}"


def write_trie(freq: Mapping[str, int], total: int, path: Path, *, replace: bool = False) -> None:
    """The dictionary ``freq`` (jieba's ``FREQ``) and its ``total`` as a folder at ``path`` (a trie
    of the words, an array of their counts), published by one rename, readable by all;
    ``replace``: an existing folder (found damaged) is moved away first."""
    trie = marisa_trie.Trie(freq.keys())
    counts = np.zeros(len(trie) + 1, dtype=np.int64)
    for word, number in trie.iteritems():
        counts[number] = freq[word]
    counts[-1] = total
    partial = Path(tempfile.mkdtemp(prefix=path.name, suffix=".partial", dir=path.parent))
    try:
        trie.save(str(partial / "words.marisa"))
        np.save(partial / "counts.npy", counts)
        for part in (partial, *partial.iterdir()):
            os.chmod(part, os.stat(part).st_mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXGRP | stat.S_IXOTH if part.is_dir() else 0))
        if replace and path.is_dir():
            old = Path(tempfile.mkdtemp(prefix=path.name, suffix=".old", dir=path.parent))
            os.rename(path, old / "dictionary")
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(partial, path)
        except OSError:
            if not path.is_dir():  # another process published it first: theirs is the same
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def open_trie(path: Path) -> MappedFrequencies:
    trie = marisa_trie.Trie()
    trie.mmap(str(path / "words.marisa"))
    return MappedFrequencies(trie, np.load(path / "counts.npy", mmap_mode="r"))


def mapped_frequencies(load_full) -> Mapping[str, int] | None:  # type: ignore[no-untyped-def]
    """This process's memory-mapped dictionary: the trie file, written first (from ``load_full()``,
    the loaded tokenizer) if missing; None when there is no place to keep it."""
    global _mapped
    if _mapped is None:
        with _lock:
            if _mapped is None:
                _mapped = _open_or_write(load_full)
    return _mapped


def _open_or_write(load_full) -> Mapping[str, int] | None:  # type: ignore[no-untyped-def]
    path = trie_path()
    if path is None:
        return None
    try:
        return open_trie(path)
    except (OSError, RuntimeError, ValueError):
        damaged = path.exists()  # else missing: written now
    full = load_full()
    try:
        write_trie(full.FREQ, full.total, path, replace=damaged)
        return open_trie(path)
    except (OSError, RuntimeError, ValueError):
        return None


def forget() -> None:
    """Drop this process's mapped dictionary (tests that move the cache)."""
    global _mapped
    with _lock:
        _mapped = None
