"""Byte strings of many segments as integer codes, one code a distinct value, without a Python loop.

The values (the bytes of each document in each segment's ``VarBytesColumn``)
are copied into one buffer and hashed to 64 bits, eight bytes at a time. The
distinct hashes are numbered: through a sorted array of those of the first
documents when they are few (a source, a year), else through an
open-addressing table (numpy rounds of linear probing, no sort). Then every
value is compared byte for byte with the one value its code stands for, so two
values share a code only when they are equal; on a hash collision (under one
chance in 10**7 for a million distinct values) the codes come from a dict over
the values instead, a document at a time. A segment without the column gives
its documents one more code, for the missing value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# A segment's values: its column's bytes, and each document's offset and length
# there; or, for a segment without the column, its number of documents.
Part = tuple[np.ndarray, np.ndarray, np.ndarray] | int

_MULTIPLY = np.uint64(0x9E3779B97F4A7C15)
_KEPT_BYTES = 1 << 28  # at most this many bytes of words kept from hashing to compare values with
_SAMPLE, _FEW = 4096, 256  # a column with at most _FEW values in its first _SAMPLE documents has few
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # the first k bytes of a little-endian word


class Labels(Sequence[Any]):
    """The value each code stands for, decoded on first use; None for the missing value."""

    def __init__(self, values: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, missing: bool,
                 decode: Callable[[bytes], Any]) -> None:
        self._values = values
        self._offsets = offsets  # per code but the missing value's: where its bytes are
        self._lengths = lengths
        self._count = len(offsets) + missing
        self._decode = decode
        self._decoded: dict[int, Any] = {}

    def __len__(self) -> int:
        return self._count

    @property
    def missing(self) -> bool:
        """Whether the last code stands for the missing value."""
        return self._count > len(self._offsets)

    def compact(self, codes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The value bytes of ``codes`` (default: every code but the missing value's) back to back,
        and where each ends."""
        offsets = np.asarray(self._offsets, dtype=np.int64)
        lengths = np.asarray(self._lengths, dtype=np.int64)
        if codes is not None:
            offsets, lengths = offsets[codes], lengths[codes]
        ends = np.cumsum(lengths)
        starts = ends - lengths
        at = np.repeat(offsets - starts, lengths) + np.arange(int(ends[-1]) if len(ends) else 0)
        return np.asarray(self._values)[at].astype(np.uint8), ends

    def __getitem__(self, code: Any) -> Any:  # type: ignore[override]
        code = int(code)
        if code < 0 or code >= self._count:
            raise IndexError(code)
        if code not in self._decoded:
            value = None
            if code < len(self._offsets):
                start = int(self._offsets[code])
                value = self._decode(self._values[start : start + int(self._lengths[code])].tobytes())
            self._decoded[code] = value
        return self._decoded[code]


class _Values:
    """The values of every part that has the column, in one buffer, each at an offset with a length."""

    def __init__(self, parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        ends = [int((offsets + lengths).max(initial=0)) for _data, offsets, lengths in parts]
        self.buffer = np.concatenate([data[:end] for (data, _o, _l), end in zip(parts, ends)]
                                     + [np.zeros(8, dtype=np.uint8)])  # 8 bytes read at any value's start stay inside
        bases = np.concatenate([[0], np.cumsum(ends)[:-1]]).astype(np.int64)
        self.offsets = np.concatenate([offsets + base for (_d, offsets, _l), base in zip(parts, bases)]
                                      + [np.zeros(0, dtype=np.int64)])
        self.lengths = np.concatenate([lengths for _d, _o, lengths in parts] + [np.zeros(0, dtype=np.int64)])
        self._at_any_byte = np.ndarray((len(self.buffer) - 7,), dtype="<u8", buffer=self.buffer, strides=(1,))
        self.words = -(-int(self.lengths.max(initial=0)) // 8)
        self._shortest = int(self.lengths.min()) if len(self.lengths) else 0
        self._rows: list[np.ndarray] | None = None

    def word(self, j: int, which: np.ndarray | None, of: np.ndarray | None = None) -> np.ndarray:
        """Bytes ``8 j`` to ``8 j + 7`` (zero past the end) of values ``which`` (None: all), or of
        ``of[which]``; each value longer than ``8 j``."""
        at = of if which is None else which if of is None else of[which]
        offsets, lengths = (self.offsets, self.lengths) if at is None else (self.offsets[at], self.lengths[at])
        words = self._at_any_byte[offsets + 8 * j]
        if j < self._shortest // 8:  # every value has all 8 bytes of this word
            return words
        return words & _LOW_BYTES[np.minimum(lengths - 8 * j, 8)]

    def longer_than(self, size: int) -> np.ndarray | None:
        """The values longer than ``size`` bytes; None when all are."""
        return None if self._shortest > size else np.flatnonzero(self.lengths > size)

    def hashes(self) -> np.ndarray:
        """Each value's hash; its words are kept for ``all_equal`` (the values zero-padded to a common
        width), unless that would take more than ``_KEPT_BYTES``."""
        n = len(self.lengths)
        self._rows = [] if n * self.words * 8 <= _KEPT_BYTES else None
        h = self.lengths.astype(np.uint64) * _MULTIPLY
        for j in range(self.words):
            which = self.longer_than(8 * j)
            word = self.word(j, which)
            mixed = ((h if which is None else h[which]) ^ word) * _MULTIPLY
            mixed ^= mixed >> np.uint64(29)
            if which is None:
                h = mixed
            else:
                h[which] = mixed
            if self._rows is not None:
                row = word
                if which is not None:  # zero for the values this word is past the end of
                    row = np.zeros(n, dtype=np.uint64)
                    row[which] = word
                self._rows.append(row)
        h *= _MULTIPLY  # the table takes its slots from the top bits
        return h

    def all_equal(self, rep_of: np.ndarray) -> bool:
        """Whether every value equals, byte for byte, the value at ``rep_of`` (its code's representative)."""
        if not np.array_equal(self.lengths[rep_of], self.lengths):
            return False
        if self._rows is not None:
            return all(np.array_equal(row[rep_of], row) for row in self._rows)
        return all(np.array_equal(self.word(j, which, rep_of), self.word(j, which))
                   for j in range(self.words) for which in (self.longer_than(8 * j),))

    def exact(self) -> tuple[np.ndarray, np.ndarray]:
        """Codes from a dict over the values, a document at a time: for when two distinct values share a hash."""
        seen: dict[bytes, int] = {}
        codes = np.fromiter((seen.setdefault(self.buffer[o : o + n].tobytes(), len(seen))
                             for o, n in zip(self.offsets.tolist(), self.lengths.tolist())),
                            dtype=np.int64, count=len(self.offsets))
        rep = np.empty(len(seen), dtype=np.int64)
        rep[codes] = np.arange(len(codes))
        return codes, rep


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
    values = _Values([parts[i] for i in present])  # type: ignore[misc]
    inverse, rep = _number(values.hashes())
    if not values.all_equal(rep[inverse]):
        inverse, rep = values.exact()
    labels = Labels(values.buffer, values.offsets[rep], values.lengths[rep], len(values.lengths) < n, decode)
    if len(values.lengths) == n:
        return inverse, labels
    codes = np.full(n, len(rep), dtype=np.int64)  # the missing value's code
    codes[np.concatenate([np.arange(starts[i], starts[i + 1]) for i in present] + [np.zeros(0, dtype=np.int64)])] = inverse
    return codes, labels
