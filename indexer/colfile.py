"""A segment's Whoosh column files read as numpy arrays, without a Python loop over documents.

The layouts are Whoosh 2.7's (``whoosh.columns``); every integer is big-endian:

- ``NumericColumn``: one number a document (``struct`` format ``"!" + typecode``).
  The writer skips trailing default values, so documents past the end of the
  file hold the column's default.
- ``VarBytesColumn``: the values back to back, then their lengths (a Python
  ``array`` of native item size) and its typecode byte. A column of more than
  its cutoff of documents (2**15 by default) also holds the offsets array
  after the lengths, then the lengths' typecode, the offsets' typecode and
  ``X``; without offsets, they are the running sum of the lengths.

The file is memory-mapped where the segment's files are plain files (Whoosh's
``FileStorage``), so the pages of a column are shared by every thread and
every process that reads it; a compound segment's column is read into memory.
"""

from __future__ import annotations

import mmap
import os
import struct
from array import array
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader
from whoosh.filedb.filestore import FileStorage

# Python array typecodes (native sizes, as VarBytesColumn writes them) and struct
# typecodes with "!" (standard sizes, as NumericColumn writes them): signed or not.
_SIGNED = {"b": True, "B": False, "h": True, "H": False, "i": True, "I": False,
           "l": True, "L": False, "q": True, "Q": False}
_FLOATS = {"f", "d"}


def readable(leaf: Any) -> bool:
    """Whether ``file_of`` reads this segment reader's column files: Whoosh's W3 codec's."""
    return isinstance(getattr(leaf, "_perdoc", None), W3PerDocReader)


def file_of(leaf: Any, name: str) -> np.ndarray | None:
    """The bytes of a ``readable`` segment's column file ``name`` (a field, or Whoosh's
    ``_FIELD_len``) as ``uint8``; None when the segment has no such file."""
    perdoc = leaf._perdoc
    storage = perdoc._storage
    filename = W3Codec.column_filename(perdoc._segment, name)
    if not storage.file_exists(filename):
        return None
    if isinstance(storage, FileStorage):
        with open(os.path.join(storage.folder, filename), "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:  # mmap refuses an empty file
                return np.zeros(0, dtype=np.uint8)
            return np.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), dtype=np.uint8)
    f = storage.open_file(filename)
    try:
        return np.frombuffer(f.read(storage.file_length(filename)), dtype=np.uint8)
    finally:
        f.close()


def _dtype(typecode: str, *, native: bool) -> np.dtype:
    """The big-endian numpy type of an ``array`` (native sizes) or a ``"!"`` struct (standard sizes) typecode."""
    size = array(typecode).itemsize if native else struct.calcsize("!" + typecode)
    if typecode in _FLOATS:
        return np.dtype(f">f{size}")
    if typecode not in _SIGNED:
        raise ValueError(f"unknown column typecode {typecode!r}")
    return np.dtype(f">{'i' if _SIGNED[typecode] else 'u'}{size}")


def numeric(raw: np.ndarray | None, typecode: str, default: Any, doccount: int) -> np.ndarray:
    """A ``NumericColumn``'s value of each of ``doccount`` documents (native byte order);
    ``raw`` None (a segment without the column) gives ``default`` for each."""
    stored = _dtype(typecode, native=False)
    values = np.full(doccount, default, dtype=stored.newbyteorder("="))
    if raw is not None:
        count = min(len(raw) // stored.itemsize, doccount)
        values[:count] = raw[: count * stored.itemsize].view(stored)
    return values


def var_bytes(raw: np.ndarray, doccount: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``VarBytesColumn``'s offset and length of each document's value within ``raw`` (``int64``)."""
    if doccount == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    end = len(raw) - 1  # the last typecode byte
    code = chr(raw[end])
    offsets = None
    if code == "X":
        code, offsets_code = chr(raw[end - 2]), chr(raw[end - 1])
        odt = _dtype(offsets_code, native=True)
        end -= 2
        start = end - doccount * odt.itemsize
        offsets = raw[start:end].view(odt).astype(np.int64)
        end = start
    ldt = _dtype(code, native=True)
    start = end - doccount * ldt.itemsize
    if start < 0:
        raise ValueError("a VarBytes column shorter than its lengths")
    lengths = raw[start:end].view(ldt).astype(np.int64)
    if offsets is None:
        offsets = np.zeros(doccount, dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
    return offsets, lengths
