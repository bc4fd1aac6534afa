"""The dense postings file (``.zdn``): one per segment, written and read here only.

Terms in at least ``DENSE_MIN`` documents of a segment get, besides Whoosh's
own blocks, their postings as plain arrays that a query reads with one slice
instead of Whoosh's per-posting decoding. Layout, version ``VERSION``:

- per term, one after another: its document numbers (uint32, ascending, local
  to the segment), its frequencies (float32), the end offsets of its position
  strings (uint32) and those strings (Whoosh's ``Positions`` encoding);
- then the index, a pickled ``{"version": VERSION, "terms": {(field, term
  bytes): (offset, count)}}``;
- then the index's offset, 8 bytes little-endian.

The file's checksum is kept with the generation's others (``indexer._integrity``).
"""

from __future__ import annotations

import os
import pickle
import struct
from array import array
from collections.abc import Sequence
from itertools import accumulate
from typing import BinaryIO

import numpy as np

DENSE_MIN = 128
EXT = ".zdn"
VERSION = 2


class DenseWriter:
    """Appends terms to a segment's dense file; ``close()`` writes the index."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._index: dict[tuple[str, bytes], tuple[int, int]] = {}

    def add(self, field: str, btext: bytes, ids: Sequence[int], weights: Sequence[float], values: list[bytes]) -> None:
        f = self._f
        self._index[(field, btext)] = (f.tell(), len(ids))
        f.write((ids if isinstance(ids, array) and ids.typecode == "I" else array("I", ids)).tobytes())
        f.write((weights if isinstance(weights, array) and weights.typecode == "f" else array("f", weights)).tobytes())
        f.write(array("I", accumulate(len(v) for v in values)).tobytes())
        f.write(b"".join(values))

    def close(self) -> None:
        f = self._f
        start = f.tell()
        f.write(pickle.dumps({"version": VERSION, "terms": self._index}, protocol=pickle.HIGHEST_PROTOCOL))
        f.write(struct.pack("<Q", start))
        f.close()


class DenseFile:
    """A segment's dense file, read with ``pread`` (no shared file offset, so any
    thread may read) into arrays that the caller owns; a memory map would leave
    every page a query ever touched in the process's resident memory.

    ``DenseFile.absent()`` stands for a segment that has none (no term frequent enough).
    """

    def __init__(self, fd: int | None, index: dict[tuple[str, bytes], tuple[int, int]], path: str = "") -> None:
        self._fd = fd
        self._index = index
        self._path = path

    @classmethod
    def absent(cls) -> DenseFile:
        return cls(None, {})

    @classmethod
    def open(cls, path: str) -> DenseFile:
        """The file at ``path``; ``absent()`` when there is none. A damaged file raises
        ``OSError``/``ValueError``/``EOFError``/``pickle.UnpicklingError``."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return cls.absent()
        dense = cls(fd, {}, path)
        try:
            size = os.fstat(fd).st_size
            (start,) = struct.unpack("<Q", dense._read(size - 8, 8))
            stored = pickle.loads(dense._read(start, size - 8 - start))
            if not isinstance(stored, dict) or stored.get("version") != VERSION:
                raise ValueError(f"{path}: not a dense postings file of version {VERSION}")
            dense._index = stored["terms"]
        except BaseException:
            dense.close()
            raise
        return dense

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

    def _read(self, offset: int, length: int) -> bytes:
        if self._fd is None:
            raise ValueError(f"{self._path}: closed")
        if offset < 0 or length < 0:
            raise ValueError(f"{self._path}: offset {offset}, length {length}")
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise EOFError(f"{self._path}: {len(data)} of {length} bytes at {offset}")
        return data

    def get(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """The term's document numbers (int32, in this segment) and frequencies; None when absent."""
        found = self._index.get((field, btext))
        if found is None or self._fd is None:
            return None
        offset, count = found
        data = self._read(offset, 8 * count)
        ids = np.frombuffer(data, dtype=np.uint32, count=count).astype(np.int32)
        tf = np.frombuffer(data, dtype=np.float32, count=count, offset=4 * count).copy()
        return ids, tf

    def values(self, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray, bytes] | None:
        """The term's document numbers, the end offsets of its position strings and
        those strings as one bytes object; None when absent."""
        found = self._index.get((field, btext))
        if found is None or self._fd is None:
            return None
        offset, count = found
        ids = np.frombuffer(self._read(offset, 4 * count), dtype=np.uint32)
        ends = np.frombuffer(self._read(offset + 8 * count, 4 * count), dtype=np.uint32).astype(np.int64)
        blob = self._read(offset + 12 * count, int(ends[-1]) if count else 0)
        return ids, ends, blob
