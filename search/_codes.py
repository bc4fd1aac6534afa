"""Byte strings of many segments as integer codes, one code a distinct value, without a Python loop.

Each value (the bytes of one document in one segment's ``VarBytesColumn``) is
padded to a common width and hashed to 64 bits; the distinct hashes are
numbered through an open-addressing table (numpy rounds of linear probing, no
sort), and every value is then compared byte for byte with the one value its
code stands for, so two values share a code only when they are equal (on a
hash collision the codes come from an exact, slower sort instead). A segment
without the column gives its documents one more code, for the missing value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# A segment's values: its column's bytes, and each document's offset and length
# there; or, for a segment without the column, its number of documents.
Part = tuple[np.ndarray, np.ndarray, np.ndarray] | int

_MULTIPLY = np.uint64(0x9E3779B97F4A7C15)
_SAMPLE, _FEW = 4096, 256  # a column with at most _FEW values in its first _SAMPLE documents has few
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # the first k bytes of a little-endian word


class Labels(Sequence[Any]):
    """The value each code stands for, decoded on first use; None for the missing value."""

    def __init__(self, parts: Sequence[Part], starts: np.ndarray, reps: np.ndarray, missing: bool,
                 decode: Callable[[bytes], Any]) -> None:
        self._parts = parts
        self._starts = starts  # each part's first document
        self._reps = reps  # per code but the missing value's: a document holding it
        self._count = len(reps) + missing
        self._decode = decode
        self._decoded: dict[int, Any] = {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, code: Any) -> Any:  # type: ignore[override]
        code = int(code)
        if code < 0 or code >= self._count:
            raise IndexError(code)
        if code not in self._decoded:
            value = None
            if code < len(self._reps):
                doc = int(self._reps[code])
                i = int(np.searchsorted(self._starts, doc, side="right")) - 1
                data, offsets, lengths = self._parts[i]  # type: ignore[misc]
                start = int(offsets[doc - self._starts[i]])
                value = self._decode(data[start : start + int(lengths[doc - self._starts[i]])].tobytes())
            self._decoded[code] = value
        return self._decoded[code]


def _padded(part: tuple[np.ndarray, np.ndarray, np.ndarray], width: int) -> np.ndarray:
    """A segment's values, zero-padded to ``width`` bytes (a multiple of 8), as ``uint64`` words:
    row ``j`` holds each value's bytes ``8 j`` to ``8 j + 7``."""
    data, offsets, lengths = part
    count = len(lengths)
    if count == 0:
        return np.zeros((width // 8, 0), dtype=np.uint64)
    if np.all(lengths == width) and np.array_equal(offsets, offsets[0] + width * np.arange(count)):
        return data[offsets[0] : offsets[0] + count * width].view(np.uint64).reshape(count, width // 8).T
    need = int(offsets.max()) + width  # reading 8 bytes at each word's start
    if len(data) < need:
        data = np.concatenate([data, np.zeros(need - len(data), dtype=np.uint8)])
    at_any_byte = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))  # 8 bytes from each byte on
    out = np.empty((width // 8, count), dtype=np.uint64)
    for j in range(width // 8):
        out[j] = at_any_byte[offsets + 8 * j] & _LOW_BYTES[np.clip(lengths - 8 * j, 0, 8)]
    return out


def _hash(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    h = lengths.astype(np.uint64) * _MULTIPLY
    for row in words:
        h ^= row
        h *= _MULTIPLY
        h ^= h >> np.uint64(29)
    h *= _MULTIPLY  # the table takes its slots from the top bits
    return h


def _number(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each hash's number among the distinct hashes, and some position of each number.

    The few values of a column like a source or a year are all among its first
    documents: those are looked up in a sorted array of them (cheap, it fits a
    cache); the other hashes go through the table.
    """
    sample = np.unique(hashes[:_SAMPLE])
    if len(sample) > _FEW or len(hashes) == 0:
        return _table(hashes)
    pos = np.minimum(np.searchsorted(sample, hashes), len(sample) - 1)
    hit = sample[pos] == hashes
    rep = np.empty(len(sample), dtype=np.int64)
    rep[pos[hit]] = np.flatnonzero(hit)
    if hit.all():
        return pos, rep
    rest = np.flatnonzero(~hit)
    rest_codes, rest_rep = _table(hashes[rest])
    pos[rest] = len(sample) + rest_codes
    return pos, np.concatenate([rep, rest[rest_rep]])


def _table(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_number`` through an open-addressing table, at most half full, in rounds of linear probing."""
    n = len(hashes)
    bits = max(4, (2 * n).bit_length())
    size = 1 << bits
    keys = np.zeros(size, dtype=np.uint64)
    used = np.zeros(size, dtype=bool)
    slot = (hashes >> np.uint64(64 - bits)).astype(np.int64)
    keys[slot] = hashes  # the first round, into an empty table: of the hashes sharing a slot, one keeps it
    used[slot] = True
    home = slot.copy()
    pending = np.flatnonzero(keys[slot] != hashes)
    while len(pending):  # equal hashes probe the same slots in the same rounds, so they stop together
        slot[pending] = (slot[pending] + 1) & (size - 1)
        s = slot[pending]
        free = ~used[s]
        keys[s[free]] = hashes[pending[free]]
        used[s[free]] = True
        found = keys[s] == hashes[pending]
        home[pending[found]] = s[found]
        pending = pending[~found]
    taken = np.flatnonzero(used)
    number = np.empty(size, dtype=np.int64)
    number[taken] = np.arange(len(taken))
    codes = number[home]
    rep = np.empty(len(taken), dtype=np.int64)
    rep[codes] = np.arange(n)
    return codes, rep


def encode(parts: Sequence[Part], decode: Callable[[bytes], Any]) -> tuple[np.ndarray, Labels]:
    """Every document's code (``int64``, over all parts in turn) and what each code stands for."""
    counts = [p if isinstance(p, int) else len(p[1]) for p in parts]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(starts[-1])
    present = [i for i, p in enumerate(parts) if not isinstance(p, int)]
    longest = max((int(parts[i][2].max(initial=0)) for i in present), default=0)  # type: ignore[index]
    width = max(8, -(-longest // 8) * 8)

    # the documents of every part that has the column, in turn: their padded words and lengths
    docs = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in present] + [np.zeros(0, dtype=np.int64)])
    words = np.concatenate([_padded(parts[i], width) for i in present]  # type: ignore[arg-type]
                           + [np.zeros((width // 8, 0), dtype=np.uint64)], axis=1)
    lengths = np.concatenate([parts[i][2] for i in present] + [np.zeros(0, dtype=np.int64)])  # type: ignore[index]
    inverse, rep = _number(_hash(words, lengths))
    if not _all_equal(words, lengths, rep[inverse]):
        inverse, rep = _exact(words, lengths)

    if len(docs) == n:
        codes = inverse
    else:
        codes = np.full(n, len(rep), dtype=np.int64)  # the missing value's code
        codes[docs] = inverse
    return codes, Labels(parts, starts, docs[rep], len(docs) < n, decode)


def _all_equal(words: np.ndarray, lengths: np.ndarray, rep_of: np.ndarray) -> bool:
    """Whether every value equals, byte for byte, the value at ``rep_of`` (its code's representative)."""
    return np.array_equal(lengths[rep_of], lengths) and all(np.array_equal(row[rep_of], row) for row in words)


def _exact(words: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes by sorting the values themselves (lengths first): for when two distinct values share a hash."""
    keys = np.vstack([lengths.astype(np.uint64), words]).T
    _distinct, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1), first
