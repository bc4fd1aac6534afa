"""A term's postings read from a generation's files into numpy arrays.

Each segment's term record (Whoosh's W3 term dictionary, read through the
caller's Whoosh reader) holds the term's postings in ``indexer.postings`` form
or points at them in the segment's ``.pst`` file, which is read here with
``pread`` (no shared file offset, so any thread may read). A segment that
Whoosh's own writer added (another codec) is read through Whoosh's matcher. The document
numbers and frequencies are decoded at once; the position lists only when a
phrase asks for them, one segment at a time.

What is read here does not depend on the thread that read it: the arrays and
the postings files are shared by every thread's engine over one generation
(``search._shared.Shared``).
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from whoosh.reading import TermNotFound

from indexer import postings as encoding
from indexer.analysis import IndexPositions

Leaves = list[tuple[Any, int]]  # Whoosh segment readers with their first document number
POSTINGS_EXT = ".pst"  # Whoosh's W3 postings file


class PostingsFile:
    """One segment's ``.pst`` file, read with ``pread``; ``absent()`` for a segment that has none."""

    def __init__(self, fd: int | None, path: str = "") -> None:
        self._fd = fd
        self._path = path

    @classmethod
    def absent(cls) -> PostingsFile:
        return cls(None)

    @classmethod
    def open(cls, path: str) -> PostingsFile:
        try:
            return cls(os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)), path)
        except FileNotFoundError:
            return cls.absent()

    def read(self, offset: int, length: int) -> bytes:
        if self._fd is None:
            raise ValueError(f"{self._path or 'postings'}: no postings file")
        if offset < 0 or length < 0:
            raise ValueError(f"{self._path}: offset {offset}, length {length}")
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise EOFError(f"{self._path}: {len(data)} of {length} bytes at {offset}")
        return data

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        # Closed with the generation's shared state, when no thread's engine holds it any more.
        try:
            self.close()
        except OSError:
            pass


def postings_files(leaves: Leaves) -> list[PostingsFile]:
    """Each segment's postings file."""
    out: list[PostingsFile] = []
    for leaf, _base in leaves:
        segment, storage = getattr(leaf, "_segment", None), getattr(leaf, "_storage", None)
        folder = getattr(storage, "folder", None)
        if segment is None or folder is None:
            out.append(PostingsFile.absent())
        else:
            out.append(PostingsFile.open(os.path.join(folder, segment.make_filename(POSTINGS_EXT))))
    return out


_Positions = tuple[np.ndarray, np.ndarray, np.ndarray]  # local ids, each one's end in the flat positions, positions


class Postings:
    """One term's postings over the whole index: document numbers and term frequencies;
    the position lists are decoded only when a phrase asks for them."""

    __slots__ = ("_charge", "_decoded", "_lock", "_segments", "cached", "ids", "nbytes", "tf")

    def __init__(self, ids: np.ndarray, tf: np.ndarray, decoded: dict[int, encoding.Decoded],
                 charge: Callable[[Postings, int], None]) -> None:
        self.ids = ids
        self.tf = tf
        self._decoded = decoded  # per segment with position lists: the encoded lists, kept until decoded
        self.nbytes = ids.nbytes + tf.nbytes + sum(len(d.payload or b"") for d in decoded.values())
        self.cached = False  # held by a cache that counts its bytes (set and read under that cache's lock)
        self._charge = charge  # adds the bytes of decoded positions to ``nbytes`` (and to its cache's count)
        self._segments: dict[int, _Positions] = {}
        self._lock = threading.Lock()

    def positions_many(self, docnums: list[int], leaves: Leaves) -> list[list[int]]:
        """Positions in each of these documents (sorted ascending); [] where the term is absent."""
        out: list[list[int]] = []
        start = 0
        for i, (_leaf, base) in enumerate(leaves):
            end = bisect.bisect_left(docnums, leaves[i + 1][1], lo=start) if i + 1 < len(leaves) else len(docnums)
            local = docnums[start:end]
            start = end
            if not local:
                continue
            ids, ends, flat = self._segment(i)
            if not len(ids):
                out.extend([] for _ in local)
                continue
            wanted = np.asarray(local, dtype=np.int64) - base
            ks = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
            hit = ids[ks] == wanted
            stops = ends[ks]
            starts = np.where(ks > 0, ends[np.maximum(ks - 1, 0)], 0)
            out.extend(flat[a:b].tolist() if h else [] for a, b, h in zip(starts.tolist(), stops.tolist(), hit.tolist()))
        return out

    def _segment(self, i: int) -> _Positions:
        found = self._segments.get(i)
        if found is not None:
            return found
        decoded = self._decoded.get(i)
        if decoded is None:
            empty = np.zeros(0, dtype=np.int64)
            found = (empty, empty, empty)
        else:
            flat, ends = decoded.positions()
            found = (decoded.ids, ends, flat)
        size = found[1].nbytes + found[2].nbytes
        with self._lock:
            if i in self._segments:  # another thread decoded it meanwhile
                return self._segments[i]
            self._segments[i] = found
        self._charge(self, size)  # adds to ``nbytes`` under the cache's lock, where evictions read it
        return found


def read_postings(leaves: Leaves, files: list[PostingsFile], field: str, btext: bytes,
                  charge: Callable[[Postings, int], None]) -> Postings | None:
    """The term's postings over every segment, or None when no segment holds it.

    Deleted documents are included: the alive mask leaves them out."""
    ids: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    with_positions: dict[int, encoding.Decoded] = {}
    for i, (leaf, base) in enumerate(leaves):
        try:
            terminfo = leaf.term_info(field, btext)
        except TermNotFound:
            continue
        if encoding.in_this_encoding(leaf.codec()):
            decoded = encoding.decode_term(terminfo, files[i].read)
        else:
            decoded = _whoosh_postings(leaf, field, btext)
        ids.append((decoded.ids + base).astype(np.int32))
        tfs.append(decoded.weights)
        if decoded.flags & encoding.V_POSITIONS == encoding.V_POSITIONS:
            with_positions[i] = decoded
    if not ids:
        return None
    return Postings(np.concatenate(ids), np.concatenate(tfs), with_positions, charge)


def _whoosh_postings(leaf: Any, field: str, btext: bytes) -> encoding.Decoded:
    """A term's postings in a segment another codec wrote (Whoosh's own writer on this index),
    through Whoosh's matcher, a posting at a time (deletions: left to the alive mask)."""
    ids, weights, values = encoding.matcher_lists(leaf.postings(field, btext))
    positional = isinstance(leaf.schema[field].format, IndexPositions)
    return encoding.decode(encoding.encode(ids, weights, values, positional=positional))


def in_order(positions: list[list[int]], slop: int) -> bool:
    """Whether some position of each list follows one of the previous list's by 1..``slop``."""
    reached = set(positions[0])
    for nxt in positions[1:]:
        reached = {p for p in nxt if any(p - k in reached for k in range(1, slop + 1))}
        if not reached:
            return False
    return True
