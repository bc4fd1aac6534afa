"""Whoosh's W3 codec with each term's postings in this project's compact encoding.

The segment files are Whoosh's W3 files: the term dictionary (``.trm``, one
W3 term record per term with Whoosh's statistics), the postings file (``.pst``),
the per-document columns and the stored fields. What changes is what a term
record points at: instead of Whoosh's blocks (pickled tuples of numbers, zlib,
a float per posting and each position list pickled), the term's postings in
``indexer.postings`` form, inside the record when short, else in ``.pst``.
Whoosh's own readers, searcher and writer work on such segments: every segment
names its codec (this class, pickled into the table of contents), and Whoosh
reads postings only through the codec's ``postings_reader``, which gives them
back as a matcher over decoded lists.

What the encoding saves on a news corpus (``bench/size.py``): the weights of
character grams and words are small whole numbers, one or two bytes instead of
four; position lists are varint gaps instead of a pickled list each; a
``Frequency`` value (its weight again, as four bytes) is not written at all; a
term of a few postings costs its bytes plus six in its record. ``search`` reads
the same bytes straight into numpy arrays (``search._postings``).

Writing takes each term's postings whole (``add_groups``): every document's
field length is read once per field, not once per posting. Term vectors keep
Whoosh's own postings writer: Whoosh reads them without the codec.

The codec object is pickled into each segment's table of contents, so this
class must stay importable under its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from hashlib import md5
from pickle import dumps

from whoosh.codec.base import PostingsWriter
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PostingsWriter, W3TermInfo
from whoosh.fields import Schema
from whoosh.filedb.filetables import OrderedHashWriter, _lengths as _LENGTHS
from whoosh.formats import Format, Frequency
from whoosh.matching import ListMatcher, Matcher, NullMatcher
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte

from indexer import postings
from indexer.analysis import IndexPositions

BLOCK_LIMIT = 128  # Whoosh's own, for term vectors
COMPRESSION = 3


class Codec(W3Codec):
    compact_postings = postings.VERSION  # how readers tell this codec's segments from Whoosh's own

    def __init__(self, blocklimit: int = BLOCK_LIMIT, compression: int = COMPRESSION, inlinelimit: int = 1) -> None:
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def field_writer(self, storage, segment):  # type: ignore[no-untyped-def]
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):  # type: ignore[no-untyped-def]
        if byteids:  # term vectors: Whoosh's own writer (Whoosh reads them without the codec)
            return W3PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=True, compression=self._compression)
        return _PostingsWriter(dbfile)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):  # type: ignore[no-untyped-def]
        decoded = postings.decode_term(terminfo, dbfile.get)
        return _ListedMatcher(decoded.ids.tolist(), decoded.weights.tolist(), decoded.values(), format_,
                              scorer=scorer, term=term, terminfo=terminfo)


class _ListedMatcher(ListMatcher):
    """A term's decoded postings, answering as Whoosh's block matcher does.

    Whoosh's ``ListMatcher`` gives ``""`` for a posting without a value, loses
    the term and its statistics in ``copy()``, and asks the scorer for a bound
    in ``replace()`` even when the scorer has none (``FunctionWeighting``).
    """

    def value(self) -> bytes:
        return super().value() or b""

    def all_items(self) -> Iterator[tuple[int, bytes]]:
        values = self._values or [b""] * len(self._ids)
        return zip(self._ids, (v or b"" for v in values))

    def copy(self) -> _ListedMatcher:
        return _ListedMatcher(
            self._ids, self._weights, self._values, self._format, self._scorer,
            self._i, self._all_weights, term=self._term, terminfo=self._terminfo,
        )

    def replace(self, minquality: float = 0) -> Matcher:
        if not self.is_active():
            return NullMatcher()
        if minquality and self.supports_block_quality() and self.max_quality() < minquality:
            return NullMatcher()
        return self


class _PostingsWriter(PostingsWriter):
    """Buffers one term's postings and writes them in ``indexer.postings`` form.

    It answers the block statistics Whoosh's ``W3TermInfo.add_block`` asks for,
    over the whole term (one block).
    """

    def __init__(self, postfile) -> None:  # type: ignore[no-untyped-def]
        self._postfile = postfile
        self._terminfo = None
        self._format: Format | None = None
        self._ids: list[int] = []
        self._weights: list[float] = []
        self._values: list[bytes] = []
        self._lengths: list[int] = []

    def start_postings(self, format_: Format, terminfo) -> None:  # type: ignore[no-untyped-def]
        if self._terminfo is not None:
            raise RuntimeError("start_postings called inside a term")
        self._format = format_
        self._terminfo = terminfo
        self._ids, self._weights, self._values, self._lengths = [], [], [], []

    def add_posting(self, id_: int, weight: float, vbytes: bytes, length: int | None = None) -> None:
        self._ids.append(id_)
        self._weights.append(weight)
        self._values.append(vbytes or b"")
        self._lengths.append(length or 0)

    def written(self) -> bool:
        return False

    def finish_postings(self):  # type: ignore[no-untyped-def]
        terminfo, fmt = self._terminfo, self._format
        terminfo.add_block(self)
        data = postings.encode(self._ids, self._weights, self._values, positional=isinstance(fmt, IndexPositions),
                               frequency=isinstance(fmt, Frequency))
        if len(data) <= postings.INLINE_MAX:
            terminfo._inlined = postings.inline(data)  # W3TermInfo.to_bytes pickles whatever is inlined
        else:
            start = self._postfile.tell()
            self._postfile.write(data)
            terminfo.set_extent(start, len(data))
        self._terminfo = None
        return terminfo

    # The statistics W3TermInfo.add_block reads.
    def __len__(self) -> int:
        return len(self._ids)

    def min_id(self) -> int:
        return self._ids[0]

    def max_id(self) -> int:
        return self._ids[-1]

    def min_length(self) -> int | None:
        present = [n for n in self._lengths if n]
        return min(present) if present else None

    def max_length(self) -> int:
        return max(self._lengths, default=0)

    def max_weight(self) -> float:
        return max(0, max(self._weights, default=0))


class _TermTable(OrderedHashWriter):
    """Whoosh's ordered hash file of term records, each added in one write: the same file
    (``OrderedHashWriter`` with its MD5 hash) without asking the file for its position
    twice a term and hashing through a hex string."""

    def __init__(self, dbfile) -> None:  # type: ignore[no-untyped-def]
        super().__init__(dbfile)
        self._at = dbfile.tell()

    def add(self, key: bytes, value: bytes) -> None:
        if self.hashtype != 0:  # not MD5: Whoosh's own
            super().add(key, value)
            self._at = self.dbfile.tell()
            return
        if key <= self.lastkey:
            raise ValueError(f"Keys must increase: {self.lastkey!r}..{key!r}")
        at = self._at
        self.index.append(at)
        self.dbfile.write(_LENGTHS.pack(len(key), len(value)) + key + value)
        h = int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big")  # filetables.md5_hash
        self.buckets[h & 255].append((h, at))
        self.lastkey = key
        self._at = at + _LENGTHS.size + len(key) + len(value)


class _FieldWriter(W3FieldWriter):
    def __init__(self, codec, storage, segment) -> None:  # type: ignore[no-untyped-def]
        # W3FieldWriter's own set-up, with the term table above.
        self._codec = codec
        self._storage = storage
        self._segment = segment
        self._fieldname = None
        self._fieldid = None
        self._btext = None
        self._fieldobj = None
        self._format = None
        self._tindex = _TermTable(self._create_file(W3Codec.TERMS_EXT))
        self._fieldmap = self._tindex.extras["fieldmap"] = {}
        self._postfile = self._create_file(W3Codec.POSTS_EXT)
        self._postwriter = None
        self._infield = False
        self.is_closed = False

    def add_groups(self, schema: Schema, lengths, groups: Iterable[tuple[str, bytes, Sequence[int], Sequence[float], list[bytes]]]) -> None:  # type: ignore[no-untyped-def]
        """Write terms given in (field, term) order, each with all its postings in document order.

        Each term's record is packed here, as ``W3FieldWriter.finish_term`` and ``W3TermInfo``
        would pack it (the same bytes; ``tests/test_writer.py`` compares the two), without the
        three objects and dozen calls a term costs there: most terms have a posting or two."""
        columns: dict[str, Sequence[int]] = {}
        field = None
        add_record = self._tindex.add
        postfile = self._postfile
        pack_record = W3TermInfo._struct.pack
        positional = frequency = False
        prefix = b""
        for fieldname, btext, ids, weights, values in groups:
            if fieldname != field:
                if field is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                field = fieldname
                fmt = self._format
                positional, frequency = isinstance(fmt, IndexPositions), isinstance(fmt, Frequency)
                prefix = pack_ushort(self._fieldid)
            column = columns.get(fieldname)
            if column is None:
                column = columns[fieldname] = self._lengths(lengths, fieldname)
            doc_lengths = [column[d] for d in ids]
            present = [n for n in doc_lengths if n]
            data = postings.encode(ids, weights, values, positional=positional, frequency=frequency)
            inlined = len(data) <= postings.INLINE_MAX
            if inlined:
                where = dumps(postings.inline(data), 2)
            else:
                where = pack_long(postfile.tell()) + pack_int(len(data))
                postfile.write(data)
            record = pack_record(
                inlined, sum(weights), len(ids),
                length_to_byte(min(present)) if present else 0, length_to_byte(max(0, max(doc_lengths, default=0))),
                max(0, max(weights, default=0)), ids[0], ids[-1],
            )
            add_record(prefix + btext, record + where)

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
