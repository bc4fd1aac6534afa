"""The compact postings encoding: one term's postings in one segment, as bytes.

The index's term dictionary and files stay Whoosh's W3 ones (``indexer._codec``
writes them, Whoosh's readers read them); what this module defines is what a
term's record points at, in place of Whoosh's pickled, zlib-compressed blocks:

- a flags byte: how the weights are kept (``W_ONES`` all 1, ``W_INTS`` whole
  numbers, ``W_FLOATS`` float32), how the values are kept (``V_NONE`` none,
  ``V_POSITIONS`` position lists in ``encode_positions`` form, ``V_FREQUENCY``
  Whoosh's ``Frequency`` value rebuilt from the weight, ``V_RAW`` any bytes) and
  ``COUNTS_ARE_WEIGHTS`` (each position list holds as many positions as its
  weight, so the counts are not written);
- the number of postings, then sections, each its byte length and its bytes,
  all numbers LEB128 varints: document number gaps (the first gap from 0),
  then the weights, then the values (for positions: the count per document,
  unless ``COUNTS_ARE_WEIGHTS``, and every list one after the other; for raw
  values: the length of each and their bytes).

A position list is the gaps between its positions (the first from 0), as
varints: that is also the value of a posting of ``indexer.analysis.IndexPositions``,
so a list moves from the pool to the file without being decoded.

Small postings are kept inside the term record (``inline``/``uninline``): W3
unpickles an inlined record, and a pickled integer is its bytes plus six.
Encoding and decoding are numpy passes over whole sections; lists of a few
numbers take a plain loop, which is faster for them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from whoosh.matching.wrappers import FilterMatcher

VERSION = 1  # a codec that writes this encoding says so: ``codec.compact_postings == VERSION``
W_ONES, W_INTS, W_FLOATS = 0, 1, 2
V_NONE, V_POSITIONS, V_FREQUENCY, V_RAW = 0, 4, 8, 12
COUNTS_ARE_WEIGHTS = 16
_WEIGHTS, _VALUES = 3, 12
SMALL = 24  # lists up to this many numbers are coded by a Python loop
INLINE_MAX = 256  # encoded postings up to this many bytes stay inside the term record
_FREQUENCY = struct.Struct("!I")  # Whoosh's Frequency value: the frequency as a big-endian uint32


# ----- varints


def _encode_small(numbers: Sequence[int]) -> bytes:
    out = bytearray()
    for v in numbers:
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out)


def varints(numbers: Sequence[int] | np.ndarray) -> bytes:
    """Non-negative integers as LEB128 varints, one after the other."""
    if len(numbers) <= SMALL:
        return _encode_small([int(v) for v in numbers])
    a = np.asarray(numbers, dtype=np.uint64)
    if a.size and int(a.max()) < 0x80:
        return a.astype(np.uint8).tobytes()
    sizes = np.ones(a.size, dtype=np.int64)
    for k in range(1, 10):
        more = a >= np.uint64(1 << (7 * k))
        if not more.any():
            break
        sizes += more
    ends = np.cumsum(sizes)
    starts = ends - sizes
    out = np.empty(int(ends[-1]) if a.size else 0, dtype=np.uint8)
    for k in range(int(sizes.max()) if a.size else 0):
        sel = sizes > k
        chunk = (a[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)
        cont = (sizes[sel] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[sel] + k] = (chunk | cont).astype(np.uint8)
    return out.tobytes()


def _decode_small(data: bytes) -> list[int]:
    out: list[int] = []
    v = shift = 0
    for byte in data:
        v |= (byte & 0x7F) << shift
        if byte < 0x80:
            out.append(v)
            v = shift = 0
        else:
            shift += 7
    return out


def read_varints(data: bytes | memoryview) -> np.ndarray:
    """Every varint of ``data``, as int64."""
    if len(data) <= SMALL:
        return np.array(_decode_small(bytes(data)), dtype=np.int64)
    raw = np.frombuffer(data, dtype=np.uint8)
    last = raw < 0x80
    if last.all():
        return raw.astype(np.int64)
    ends = np.flatnonzero(last)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    shifts = np.arange(raw.size, dtype=np.int64) - np.repeat(starts, ends - starts + 1)
    parts = (raw & 0x7F).astype(np.int64) << (7 * shifts)
    return np.add.reduceat(parts, starts)


class _Reader:
    """Sections of one encoded posting list, in order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def number(self) -> int:
        v = shift = 0
        data = self.data
        while True:
            byte = data[self.at]
            self.at += 1
            v |= (byte & 0x7F) << shift
            if byte < 0x80:
                return v
            shift += 7

    def section(self) -> memoryview:
        size = self.number()
        start = self.at
        self.at += size
        if self.at > len(self.data):
            raise ValueError("postings: a section runs past the end")
        return memoryview(self.data)[start : self.at]


def _section(data: bytes) -> bytes:
    return _encode_small([len(data)]) + data


# ----- position lists (the values of IndexPositions postings)


def encode_positions(positions: Sequence[int]) -> bytes:
    """A sorted position list as varint gaps (the first from 0)."""
    prev = 0
    gaps = []
    for p in positions:
        gaps.append(p - prev)
        prev = p
    return varints(gaps)


def decode_positions(value: bytes) -> list[int]:
    """The positions of ``encode_positions`` bytes."""
    out = _decode_small(value)
    for i in range(1, len(out)):
        out[i] += out[i - 1]
    return out


def count_positions(value: bytes) -> int:
    return sum(1 for byte in value if byte < 0x80)


# ----- posting lists


def encode(ids: Sequence[int], weights: Sequence[float], values: Sequence[bytes], *, positional: bool,
           frequency: bool = False) -> bytes:
    """One term's postings (document numbers ascending). ``positional``: the values are
    ``encode_positions`` lists; ``frequency``: they may be Whoosh ``Frequency`` values
    (kept as such only when each equals its weight's).

    Most terms have a few postings: they take plain Python (numpy's per-call cost is
    many times theirs); long lists take numpy passes."""
    n = len(ids)
    small = n <= SMALL
    if small:
        gaps: Sequence[int] | np.ndarray = [b - a for a, b in zip((0, *ids[:-1]), ids)]
        whole = all(w >= 0 and w < 2**32 and float(w).is_integer() for w in weights)
        ones = whole and all(w == 1 for w in weights)
        counts_of_weights: Sequence[int] | np.ndarray = [int(w) for w in weights] if whole else []
    else:
        gaps = np.diff(np.asarray(ids, dtype=np.int64), prepend=0)
        w = np.asarray(weights, dtype=np.float64)
        whole = bool(np.all(w == np.floor(w)) and np.all(w >= 0) and np.all(w < 2**32))
        ones = whole and bool(np.all(w == 1))
        counts_of_weights = w.astype(np.int64) if whole else np.zeros(0, dtype=np.int64)
    flags = 0
    parts = [_encode_small([n]), _section(varints(gaps))]
    if ones:
        flags |= W_ONES
    elif whole:
        flags |= W_INTS
        parts.append(_section(varints(counts_of_weights)))
    else:
        flags |= W_FLOATS
        parts.append(_section(struct.pack(f"<{n}f", *weights)))
    joined = b"".join(values)
    if not joined:
        flags |= V_NONE
    elif positional:
        flags |= V_POSITIONS
        counts = _counts(values, joined) if not small else [count_positions(v) for v in values]
        if whole and list(counts) == list(counts_of_weights):
            flags |= COUNTS_ARE_WEIGHTS
        else:
            parts.append(_section(varints(counts)))
        parts.append(_section(joined))
    elif frequency and len(joined) == 4 * n and list(struct.unpack(f"!{n}I", joined)) == list(counts_of_weights):
        flags |= V_FREQUENCY
    else:
        flags |= V_RAW
        parts.append(_section(varints([len(v) for v in values])))
        parts.append(_section(joined))
    return bytes([flags]) + b"".join(parts)


def _counts(values: Sequence[bytes], joined: bytes) -> np.ndarray:
    """How many varints each value holds (numpy, for long lists)."""
    raw = np.frombuffer(joined, dtype=np.uint8)
    ends = np.cumsum([len(v) for v in values])
    numbers_before = np.cumsum(raw < 0x80)  # numbers ended at or before each byte
    return np.diff(np.where(ends > 0, numbers_before[np.maximum(ends - 1, 0)], 0), prepend=0)


@dataclass
class Decoded:
    """One term's postings in one segment."""

    ids: np.ndarray  # int64, ascending
    weights: np.ndarray  # float32
    flags: int
    counts: np.ndarray | None  # positions per document (V_POSITIONS)
    payload: memoryview | None  # the position lists or raw values, one after the other
    lengths: np.ndarray | None  # byte length of each raw value (V_RAW)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Every position (int64, each document's ascending) and where each document's end."""
        if self.flags & _VALUES != V_POSITIONS or self.payload is None or self.counts is None:
            return np.zeros(0, dtype=np.int64), np.zeros(len(self.ids), dtype=np.int64)
        gaps = read_varints(self.payload)
        ends = np.cumsum(self.counts)
        if len(gaps) != (int(ends[-1]) if len(ends) else 0):
            raise ValueError("postings: position counts do not add up")
        totals = np.cumsum(gaps)
        starts = ends - self.counts
        before = np.where(starts > 0, totals[np.maximum(starts - 1, 0)], 0)
        return totals - np.repeat(before, self.counts), ends

    def values(self) -> list[bytes]:
        """Each posting's value as Whoosh's format decodes it (b"" when there is none)."""
        kind = self.flags & _VALUES
        n = len(self.ids)
        if kind == V_NONE:
            return [b""] * n
        if kind == V_FREQUENCY:
            return [_FREQUENCY.pack(int(w)) for w in self.weights.tolist()]
        payload = bytes(self.payload or b"")
        if kind == V_RAW:
            ends = np.cumsum(self.lengths).tolist() if self.lengths is not None else []
        else:
            last = np.flatnonzero(np.frombuffer(payload, dtype=np.uint8) < 0x80)
            cum = np.cumsum(self.counts) if self.counts is not None else np.zeros(0, dtype=np.int64)
            ends = np.where(cum > 0, last[np.maximum(cum - 1, 0)] + 1, 0).tolist() if len(last) else [0] * n
        starts = [0, *ends[:-1]]
        return [payload[a:b] for a, b in zip(starts, ends)]


def decode(data: bytes) -> Decoded:
    """The postings of ``encode`` bytes; ``ValueError`` when they are not such bytes."""
    if not data:
        raise ValueError("postings: empty")
    flags = data[0]
    r = _Reader(data)
    r.at = 1
    try:
        n = r.number()
        ids = np.cumsum(read_varints(r.section()))
        kind = flags & _WEIGHTS
        if kind == W_ONES:
            weights = np.ones(n, dtype=np.float32)
        elif kind == W_INTS:
            weights = read_varints(r.section()).astype(np.float32)
        else:
            weights = np.frombuffer(r.section(), dtype="<f4").astype(np.float32)
        counts = lengths = payload = None
        values = flags & _VALUES
        if values == V_POSITIONS:
            counts = weights.astype(np.int64) if flags & COUNTS_ARE_WEIGHTS else read_varints(r.section())
            payload = r.section()
        elif values == V_RAW:
            lengths = read_varints(r.section())
            payload = r.section()
    except IndexError as exc:
        raise ValueError("postings: cut short") from exc
    if len(ids) != n or len(weights) != n or (counts is not None and len(counts) != n) or (lengths is not None and len(lengths) != n):
        raise ValueError("postings: section sizes do not match the count")
    return Decoded(ids, weights, flags, counts, payload, lengths)


# ----- inside a W3 term record


def inline(data: bytes) -> int:
    """Encoded postings as the integer W3 pickles into its term record (a closing 1 byte keeps trailing zeros)."""
    return int.from_bytes(data + b"\x01", "little")


def uninline(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "little")
    if not raw or raw[-1] != 1:
        raise ValueError("postings: not an inlined posting list")
    return raw[:-1]


def of_term_record(terminfo, read) -> bytes:  # type: ignore[no-untyped-def]
    """A W3 term record's postings: inlined, or ``read(offset, length)`` from the segment's ``.pst``."""
    if terminfo.is_inlined():
        inlined = terminfo.inlined_postings()
        if not isinstance(inlined, int):
            raise ValueError("a term record whose postings are not in this encoding")
        return uninline(inlined)
    offset, length = terminfo.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes keeps the length as unpack's tuple
        (length,) = length
    return read(offset, length)


def decode_term(terminfo, read) -> Decoded:  # type: ignore[no-untyped-def]
    """A W3 term record's postings, checked against the record's own statistics
    (count, first and last document): ``ValueError`` when they disagree."""
    decoded = decode(of_term_record(terminfo, read))
    n = len(decoded.ids)
    if n != terminfo.doc_frequency() or (n and (decoded.ids[0] != terminfo.min_id() or decoded.ids[-1] != terminfo.max_id())):
        raise ValueError("postings: they disagree with their term record")
    return decoded


def in_this_encoding(codec) -> bool:  # type: ignore[no-untyped-def]
    """Whether a segment's codec writes its postings in this encoding (``indexer._codec.Codec``)."""
    return getattr(codec, "compact_postings", None) == VERSION


def matcher_lists(m) -> tuple[list[int], list[float], list[bytes]]:  # type: ignore[no-untyped-def]
    """A Whoosh matcher's (document numbers, weights, values), a posting at a time, for segments
    of another codec; a deletion filter is looked through (deleted documents are included)."""
    while isinstance(m, FilterMatcher):
        m = m.child
    ids: list[int] = []
    weights: list[float] = []
    values: list[bytes] = []
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        values.append(m.value() or b"")
        m.next()
    return ids, weights, values
