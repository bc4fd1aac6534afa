"""Whoosh's W3 codec with short posting lists inlined and postings written a term at a time.

The on-disk format is Whoosh's own W3 format, read back by Whoosh's own
readers; only the writing side changes:

- A term with fewer than ``INLINE_LIMIT`` postings keeps them inside its term
  record instead of a zlib-compressed block of the postings file. Most terms of
  a Chinese corpus (rare words, most character bigrams) are such terms. Whoosh
  has this path, but its writer calls a method that does not exist
  (``set_inline`` for ``set_inlined``), so its default limit of 1 never uses it.
- Frequent terms also get their postings as plain arrays in one file per
  segment (``indexer.dense``), which ``search`` reads without Whoosh's decoding.
- ``add_postings`` takes each term's postings as a whole, reads every
  document's field length once per field instead of once per posting, and
  fills Whoosh's block buffers in bulk.

Whoosh's own writer can add to, merge and optimize segments written here:

- Whoosh reads inlined postings through a ``ListMatcher``, which answers ``""``
  (not ``b""``) for a posting without a value (fields of frequencies or mere
  presence) and which Whoosh's writer then refuses when it merges the segment.
  Whoosh never inlines with its default limit, so only inlined terms meet it;
  ``postings_reader`` wraps them in a matcher that behaves as Whoosh's block
  matcher does. The bytes on disk are unchanged, so indexes written before
  read back the same way.
- Term vectors are read back through the extent of their postings, so they are
  never inlined: they keep Whoosh's own writer and its limit of 1.

The codec object is pickled into each segment's table of contents, so this
class must stay importable under its name, and ``postings_reader`` applies to
every segment written with it, old ones included.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence

from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PostingsWriter
from whoosh.fields import Schema
from whoosh.matching import ListMatcher, Matcher, NullMatcher

from indexer import dense

INLINE_LIMIT = 8
BLOCK_LIMIT = 128
COMPRESSION = 3
class Codec(W3Codec):
    def __init__(self, blocklimit: int = BLOCK_LIMIT, compression: int = COMPRESSION, inlinelimit: int = INLINE_LIMIT) -> None:
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def field_writer(self, storage, segment):  # type: ignore[no-untyped-def]
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):  # type: ignore[no-untyped-def]
        if byteids:  # term vectors: Whoosh's own writer, never inlined (their reader needs an extent)
            return W3PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=True, compression=self._compression)
        return _PostingsWriter(
            dbfile, blocklimit=self._blocklimit, compression=self._compression, inlinelimit=self._inlinelimit
        )

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):  # type: ignore[no-untyped-def]
        if terminfo.is_inlined():
            ids, weights, values = terminfo.inlined_postings()
            return _InlinedMatcher(ids, weights, values, format_, scorer=scorer, term=term, terminfo=terminfo)
        return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)


class _InlinedMatcher(ListMatcher):
    """A term's inlined postings, answering as Whoosh's block matcher does.

    Whoosh's ``ListMatcher`` gives ``""`` for a posting without a value, loses
    the term and its statistics in ``copy()``, and asks the scorer for a bound
    in ``replace()`` even when the scorer has none (``FunctionWeighting``).
    """

    def value(self) -> bytes:
        return super().value() or b""

    def all_items(self) -> Iterator[tuple[int, bytes]]:
        values = self._values or [b""] * len(self._ids)
        return zip(self._ids, (v or b"" for v in values))

    def copy(self) -> _InlinedMatcher:
        return _InlinedMatcher(
            self._ids, self._weights, self._values, self._format, self._scorer,
            self._i, self._all_weights, term=self._term, terminfo=self._terminfo,
        )

    def replace(self, minquality: float = 0) -> Matcher:
        if not self.is_active():
            return NullMatcher()
        if minquality and self.supports_block_quality() and self.max_quality() < minquality:
            return NullMatcher()
        return self


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
    def __init__(self, codec, storage, segment):  # type: ignore[no-untyped-def]
        super().__init__(codec, storage, segment)
        self._dense: dense.DenseWriter | None = None

    def _write_dense(self, fieldname: str, btext: bytes, ids: Sequence[int], weights: Sequence[float], values: list[bytes]) -> None:
        if self._dense is None:
            self._dense = dense.DenseWriter(self._segment.create_file(self._storage, dense.EXT))
        self._dense.add(fieldname, btext, ids, weights, values)

    def close(self) -> None:
        if self._dense is not None:
            self._dense.close()
            self._dense = None
        super().close()

    def add_groups(self, schema: Schema, lengths, groups: Iterable[tuple[str, bytes, Sequence[int], Sequence[float], list[bytes]]]) -> None:  # type: ignore[no-untyped-def]
        """Write terms given in (field, term) order, each with all its postings in document order."""
        columns: dict[str, list[int]] = {}
        field = None
        for fieldname, btext, ids, weights, values in groups:
            if len(ids) >= dense.DENSE_MIN:
                self._write_dense(fieldname, btext, ids, weights, values)
            if fieldname != field:
                if field is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                field = fieldname
            column = columns.get(fieldname)
            if column is None:
                column = columns[fieldname] = self._lengths(lengths, fieldname)
            self.start_term(btext)
            self._postwriter.add_all(ids, weights, values, [column[d] for d in ids])
            self.finish_term()

    def _lengths(self, lengths, fieldname: str) -> Sequence[int]:  # type: ignore[no-untyped-def]
        if lengths is None:
            return _Zeros()
        if not hasattr(lengths, "doc_count_all"):  # Whoosh's contract asks only for doc_field_length
            return _FieldLengths(lengths, fieldname)
        return [lengths.doc_field_length(d, fieldname) for d in range(lengths.doc_count_all())]

    def add_postings(self, schema: Schema, lengths, items: Iterable[tuple[str, bytes, int, float, bytes]]) -> None:  # type: ignore[no-untyped-def]
        """Whoosh's flat posting stream (used when segments are merged), grouped by term."""
        def groups() -> Iterator[tuple[str, bytes, list[int], list[float], list[bytes]]]:
            key = None
            ids: list[int] = []
            weights: list[float] = []
            values: list[bytes] = []
            for fieldname, btext, docnum, weight, value in items:
                if docnum < 0:
                    continue
                if (fieldname, btext) != key:
                    if key is not None:
                        yield key[0], key[1], ids, weights, values
                    key, ids, weights, values = (fieldname, btext), [], [], []
                ids.append(docnum)
                weights.append(weight)
                values.append(value or b"")
            if key is not None:
                yield key[0], key[1], ids, weights, values

        self.add_groups(schema, lengths, groups())


class _Zeros:
    def __getitem__(self, docnum: int) -> int:
        return 0


class _FieldLengths:
    def __init__(self, lengths, fieldname: str) -> None:  # type: ignore[no-untyped-def]
        self._lengths = lengths
        self._fieldname = fieldname

    def __getitem__(self, docnum: int) -> int:
        return self._lengths.doc_field_length(docnum, self._fieldname)
