"""A term's postings read from a generation's files into numpy arrays.

Frequent terms come from each segment's dense file (``indexer.dense``: plain
arrays); the others from Whoosh's W3 blocks, decoded a block at a time instead
of one Python object per posting.
Position strings are read only when a phrase asks for them.

What is read here does not depend on the thread that read it: the arrays and
the dense files are shared by every thread's engine over one generation
(``search._shared.Shared``); Whoosh's readers, which seek a shared file handle,
are not, so reading positions from Whoosh's blocks takes the caller's readers.
"""

from __future__ import annotations

import bisect
import os
import threading
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.formats import Positions
from whoosh.matching import ListMatcher
from whoosh.matching.wrappers import FilterMatcher

from indexer.dense import EXT as DENSE_EXT
from indexer.dense import DenseFile

Leaves = list[tuple[Any, int]]  # Whoosh segment readers with their first document number
_POSITIONS = Positions()  # Whoosh's decoding of a position string


_Segment = tuple[np.ndarray, np.ndarray, bytes] | dict[int, bytes]


class Postings:
    """One term's postings over the whole index: document numbers and term frequencies;
    the position strings are read only when a phrase asks for them."""

    __slots__ = ("_btext", "_charge", "_dense", "_field", "_lock", "_segments", "cached", "ids", "nbytes", "tf")

    def __init__(self, ids: np.ndarray, tf: np.ndarray, *, field: str, btext: bytes, dense: list[DenseFile],
                 charge: Callable[[Postings, int], None]) -> None:
        self.ids = ids
        self.tf = tf
        self.nbytes = ids.nbytes + tf.nbytes
        self.cached = False  # held by a cache that counts its bytes (set and read under that cache's lock)
        self._field = field
        self._btext = btext
        self._dense = dense
        self._charge = charge  # told how many bytes of position strings this term now holds
        self._segments: dict[int, _Segment] = {}
        self._lock = threading.Lock()

    def positions_many(self, docnums: list[int], leaves: Leaves) -> list[list[int]]:
        """Positions in each of these documents (sorted ascending), read through the caller's ``leaves``."""
        decode = _POSITIONS.decode_positions
        return [decode(v) if v else [] for v in self._many(docnums, leaves)]

    def _segment(self, i: int, leaves: Leaves) -> _Segment:
        found = self._segments.get(i)
        if found is not None:
            return found
        found = self._dense[i].values(self._field, self._btext)
        if found is None:
            found = _segment_values(leaves[i][0], self._field, self._btext)
        size = (found[0].nbytes + found[1].nbytes + len(found[2]) if isinstance(found, tuple)
                else sum(len(v) + 80 for v in found.values()))
        with self._lock:
            if i in self._segments:  # another thread read it meanwhile
                return self._segments[i]
            self._segments[i] = found
            self.nbytes += size
        self._charge(self, size)
        return found

    def _many(self, docnums: list[int], leaves: Leaves) -> list[bytes]:
        """Position strings of these documents (sorted ascending), b"" where the term is absent."""
        out: list[bytes] = []
        start = 0
        for i, (_leaf, base) in enumerate(leaves):
            end = bisect.bisect_left(docnums, leaves[i + 1][1], lo=start) if i + 1 < len(leaves) else len(docnums)
            local = docnums[start:end]
            start = end
            if not local:
                continue
            seg = self._segment(i, leaves)
            if isinstance(seg, dict):
                out.extend(seg.get(d - base, b"") for d in local)
                continue
            ids, ends, blob = seg
            wanted = np.asarray(local, dtype=np.int64) - base
            ks = np.minimum(np.searchsorted(ids, wanted), max(len(ids) - 1, 0))
            hit = (ids[ks] == wanted) if len(ids) else np.zeros(len(wanted), dtype=bool)
            stops = ends[ks]
            starts = np.where(ks > 0, ends[np.maximum(ks - 1, 0)], 0)
            out.extend(blob[a:b] if h else b"" for a, b, h in zip(starts.tolist(), stops.tolist(), hit.tolist()))
        return out


def read_postings(leaves: Leaves, dense: list[DenseFile], field: str, btext: bytes,
                  charge: Callable[[Postings, int], None]) -> Postings | None:
    """The term's postings over every segment, or None when no segment holds it."""
    ids: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    for i, (leaf, base) in enumerate(leaves):
        arrays = dense[i].get(field, btext)
        if arrays is not None:
            ids.append(arrays[0] + base)
            tfs.append(arrays[1])
            continue
        if (field, btext) not in leaf:
            continue
        m = leaf.postings(field, btext)
        while isinstance(m, FilterMatcher):  # deletions: handled by the alive mask
            m = m.child
        if isinstance(m, ListMatcher):
            ids.append(np.asarray(m._ids, dtype=np.int32) + base)
            weights = m._weights
            tfs.append(np.asarray(weights if weights is not None else [1.0] * len(m._ids), dtype=np.float32))
        elif isinstance(m, W3LeafMatcher):
            while m.is_active():
                block_ids, block_tf = _decode_block(m)
                ids.append(block_ids + base)
                tfs.append(block_tf)
                m._next_block()
        else:  # not expected with this codec: Whoosh's generic path
            while m.is_active():
                ids.append(np.array([m.id() + base], dtype=np.int32))
                tfs.append(np.array([m.weight()], dtype=np.float32))
                m.next()
    if not ids:
        return None
    return Postings(np.concatenate(ids), np.concatenate(tfs), field=field, btext=btext, dense=dense, charge=charge)


def _decode_block(m: W3LeafMatcher) -> tuple[np.ndarray, np.ndarray]:
    """One W3 postings block as arrays: Whoosh stores the document numbers as a tuple
    of deltas and the weights as None (all 1), one float (all equal) or a float32 array;
    its own reader turns these into Python objects one posting at a time."""
    m._read_data()
    deltas, weights = m._data[0], m._data[1]
    ids = np.cumsum(np.asarray(deltas, dtype=np.int64)).astype(np.int32)
    if weights is None:
        tf = np.ones(len(ids), dtype=np.float32)
    elif isinstance(weights, float):
        tf = np.full(len(ids), weights, dtype=np.float32)
    else:
        tf = np.frombuffer(weights, dtype=np.float32).copy() if isinstance(weights, array) else np.asarray(weights, dtype=np.float32)
    return ids, tf


def _segment_values(leaf: Any, field: str, btext: bytes) -> dict[int, bytes]:
    """All position strings of a term in one segment, by document, from Whoosh's blocks."""
    if (field, btext) not in leaf:
        return {}
    m = leaf.postings(field, btext)
    while isinstance(m, FilterMatcher):
        m = m.child
    out: dict[int, bytes] = {}
    if isinstance(m, W3LeafMatcher):
        while m.is_active():
            block_ids, _tf = _decode_block(m)
            m._read_values()
            out.update(zip(block_ids.tolist(), m._values))
            m._next_block()
    else:
        while m.is_active():
            out[m.id()] = m.value() or b""
            m.next()
    return out


def dense_files(leaves: Leaves) -> list[DenseFile]:
    """Each segment's dense file (``DenseFile.absent()`` for a segment without one)."""
    out: list[DenseFile] = []
    for leaf, _base in leaves:
        segment, storage = getattr(leaf, "_segment", None), getattr(leaf, "_storage", None)
        folder = getattr(storage, "folder", None)
        if segment is None or folder is None:
            out.append(DenseFile.absent())
        else:
            out.append(DenseFile.open(os.path.join(folder, segment.make_filename(DENSE_EXT))))
    return out


def in_order(positions: list[list[int]], slop: int) -> bool:
    """Whether some position of each list follows one of the previous list's by 1..``slop``."""
    reached = set(positions[0])
    for nxt in positions[1:]:
        reached = {p for p in nxt if any(p - k in reached for k in range(1, slop + 1))}
        if not reached:
            return False
    return True
