"""Whoosh's W3 codec with short posting lists inlined and postings written a term at a time.

The on-disk format is Whoosh's own W3 format, read back by Whoosh's own
readers; only the writing side changes:

- A term with fewer than ``INLINE_LIMIT`` postings keeps them inside its term
  record instead of a zlib-compressed block of the postings file. Most terms of
  a Chinese corpus (rare words, most character bigrams) are such terms. Whoosh
  has this path, but its writer calls a method that does not exist
  (``set_inline`` for ``set_inlined``), so its default limit of 1 never uses it.
- ``add_postings`` takes each term's postings as a whole, reads every
  document's field length once per field instead of once per posting, and
  fills Whoosh's block buffers in bulk.

The codec object is pickled into each segment's table of contents, so this
class must stay importable under its name.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PostingsWriter
from whoosh.fields import Schema

INLINE_LIMIT = 8
BLOCK_LIMIT = 128
COMPRESSION = 3


class Codec(W3Codec):
    def __init__(self) -> None:
        super().__init__(blocklimit=BLOCK_LIMIT, compression=COMPRESSION, inlinelimit=INLINE_LIMIT)

    def field_writer(self, storage, segment):  # type: ignore[no-untyped-def]
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):  # type: ignore[no-untyped-def]
        if byteids:  # term vectors: Whoosh's own writer
            return super().postings_writer(dbfile, byteids=True)
        return _PostingsWriter(
            dbfile, blocklimit=self._blocklimit, compression=self._compression, inlinelimit=self._inlinelimit
        )


class _PostingsWriter(W3PostingsWriter):
    def finish_postings(self):  # type: ignore[no-untyped-def]
        terminfo = self._terminfo
        if not self.written() and len(self) < self._inlinelimit:
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
        else:
            if self._ids:
                self._write_block(last=True)
            startoffset = self._startoffset
            terminfo.set_extent(startoffset, self._postfile.tell() - startoffset)
        self._terminfo = None
        return terminfo

    def add_all(self, ids: list[int], weights: list[float], values: list[bytes], lengths: list[int]) -> None:
        """Buffer one term's postings (sorted by document), writing full blocks as they fill."""
        limit = self._blocklimit
        for start in range(0, len(ids), limit):
            if self._ids:
                self._write_block()  # also starts a new block
            end = start + limit
            chunk_lengths = [n for n in lengths[start:end] if n]
            self._ids = array("I", ids[start:end])
            self._weights = array("f", weights[start:end])
            self._values = [v for v in values[start:end] if v]
            self._minlength = min(chunk_lengths) if chunk_lengths else None
            self._maxlength = max(chunk_lengths) if chunk_lengths else 0
            self._maxweight = max(0, max(weights[start:end]))


class _FieldWriter(W3FieldWriter):
    def add_postings(self, schema: Schema, lengths, items: Iterable[tuple[str, bytes, int, float, bytes]]) -> None:  # type: ignore[no-untyped-def]
        cache: dict[str, dict[int, int]] = {}

        def length_of(docnum: int, fieldname: str) -> int:
            column = cache.setdefault(fieldname, {})
            value = column.get(docnum)
            if value is None:
                value = column[docnum] = lengths.doc_field_length(docnum, fieldname) if lengths else 0
            return value

        field = term = None
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []

        def flush() -> None:
            self.start_term(term)
            self._postwriter.add_all(ids, weights, values, [length_of(d, field) for d in ids])
            self.finish_term()

        for fieldname, btext, docnum, weight, value in items:
            if docnum == -1:  # Whoosh's marker for spelling-only words; no spelling fields here
                continue
            if fieldname != field or btext != term:
                if term is not None:
                    flush()
                    ids, weights, values = [], [], []
                if fieldname != field:
                    if field is not None and field > fieldname:
                        raise base.OutOfOrderError(f"field {field!r} .. {fieldname!r}")
                    if field is not None:
                        self.finish_field()
                    self.start_field(fieldname, schema[fieldname])
                    field = fieldname
                elif term is not None and btext < term:
                    raise base.OutOfOrderError(f"term {fieldname}:{term!r} .. {btext!r}")
                term = btext
            ids.append(docnum)
            weights.append(weight)
            values.append(value or b"")
        if term is not None:
            flush()
