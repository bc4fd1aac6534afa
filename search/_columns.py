"""Per-document arrays of one generation: the alive mask, field lengths, dates,
stored columns as integer codes, and the stored normal form for exact matching.

Each is read once per process and generation (``Shared.once``), whatever the
number of threads, straight from each segment's column files as arrays
(``indexer.colfile``, the files memory-mapped), with no Python loop over the
documents; stored values become codes in ``indexer.codes``, written beside each generation by
the indexer (``indexer.colcodes``) and mapped from there when they match its segments. A segment written
without a column (no article of it had the field) gives the missing value for
each of its documents: Whoosh's multi-segment column reader leaves such
segments out, which would shift every later document onto another's value.

Column types other than Whoosh's ``NumericColumn`` (dates) and ``VarBytesColumn``
(stored ID columns, the match text), and segment readers of another codec than
Whoosh's W3, are read through Whoosh's own readers, a document at a time.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.columns import NumericColumn

from indexer import colcodes
from indexer import schema as F
from indexer.matchtext import match_text
from indexer.colfile import file_of, numeric, readable
from search._postings import Leaves
from search._shared import Shared

_LENGTH_OF_BYTE = np.array([F.stored_length(b) for b in range(256)])
NO_DATE = np.uint64(F.NO_DATE)  # an undated article's raw PUBLISHED value


class Columns:
    """The per-document arrays of one thread's reader, over its generation's ``Shared``."""

    def __init__(self, reader: Any, shared: Shared, *, generation: Path | None = None) -> None:
        self.reader = reader
        self.generation = generation  # its folder, for the codes written beside it (indexer.colcodes)
        self.shared = shared
        self.n = reader.doc_count_all()
        self.leaves: Leaves = list(reader.leaf_readers())
        self._bases = [base for _leaf, base in self.leaves]
        self._text_columns: dict[int, Any] = {}

    @property
    def alive(self) -> np.ndarray:
        return self.shared.once("alive", self._read_alive)

    def _read_alive(self) -> np.ndarray:
        alive = np.ones(self.n, dtype=bool)
        for leaf, base in self.leaves:
            if not leaf.has_deletions():
                continue
            if readable(leaf):  # Whoosh's segment keeps its deleted documents as a set
                deleted = np.fromiter(leaf._perdoc.deleted_docs(), dtype=np.int64)
            else:  # another kind of reader: ask it document by document
                deleted = np.array([d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d)], dtype=np.int64)
            alive[base + deleted] = False
        return alive

    def lengths(self, field: str) -> np.ndarray:
        return self.shared.once(("lengths", field), lambda: self._read_lengths(field))[0]

    def average_length(self, field: str) -> float:
        return self.shared.once(("lengths", field), lambda: self._read_lengths(field))[1]

    def _read_lengths(self, field: str) -> tuple[np.ndarray, float]:
        parts = []
        for leaf, _base in self.leaves:
            count = leaf.doc_count_all()
            if readable(leaf):  # Whoosh's lengths column: a byte a document (``length_to_byte``), 0 when absent
                parts.append(_LENGTH_OF_BYTE[numeric(file_of(leaf, f"_{field}_len"), "B", 0, count)])
            else:
                parts.append(np.array([leaf.doc_field_length(d, field, 1) for d in range(count)], dtype=np.float64))
        lengths = np.concatenate(parts) if parts else np.zeros(0)
        return lengths, (self.reader.field_length(field) / (self.n or 1)) or 1.0

    def _files(self, name: str, kind: type) -> list[np.ndarray | None] | None:
        """Each segment's file of column ``name`` (None for a segment without the column), when the
        schema's column is of type ``kind`` and every segment reader is ``readable``; else None."""
        if type(self.reader.schema[name].column_type) is not kind:
            return None
        files: list[np.ndarray | None] = []
        for leaf, _base in self.leaves:
            if not readable(leaf):
                return None
            files.append(file_of(leaf, name) if leaf.has_column(name) else None)
        return files

    def _per_leaf(self, name: str, *, translate: bool, missing: Any) -> list[Any]:
        """Every document's value through Whoosh's column readers, a call a document: for the
        column types and segment readers that ``indexer.colfile`` does not read."""
        values: list[Any] = []
        for leaf, _base in self.leaves:
            count = leaf.doc_count_all()
            if leaf.has_column(name):
                column = leaf.column_reader(name, translate=translate)
                values.extend(column[d] for d in range(count))
            else:
                values.extend([missing] * count)
        return values

    def dates(self) -> np.ndarray:
        """Publication times as Whoosh's raw DATETIME column values; ``NO_DATE`` when undated."""
        return self.shared.once("dates", self._read_dates)

    def _read_dates(self) -> np.ndarray:
        files = self._files(F.PUBLISHED, NumericColumn)
        if files is None:
            return np.array(self._per_leaf(F.PUBLISHED, translate=False, missing=int(NO_DATE)), dtype=np.uint64)
        column = self.reader.schema[F.PUBLISHED].column_type
        parts = [np.full(leaf.doc_count_all(), NO_DATE, dtype=np.uint64) if raw is None
                 else numeric(raw, column._typecode, column._default, leaf.doc_count_all()).astype(np.uint64)
                 for raw, (leaf, _base) in zip(files, self.leaves)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)

    def column(self, name: str) -> tuple[np.ndarray, Sequence[Any]]:
        """A stored column as integer codes per document and the value each code stands for
        (None for the documents of segments without the column)."""
        return self.shared.once(("column", name), lambda: self._read_column(name))

    def _read_column(self, name: str) -> tuple[np.ndarray, Sequence[Any]]:
        if self.generation is not None and (written := colcodes.read_codes(self.generation, self.reader, name)) is not None:
            return written
        computed = colcodes.compute(self.reader, name)
        if computed is not None:
            return computed
        raw = self._per_leaf(name, translate=True, missing=None)
        labels: dict[Any, int] = {}
        codes = np.fromiter((labels.setdefault(v, len(labels)) for v in raw), dtype=np.int64, count=len(raw))
        return codes, list(labels)

    def _texts(self) -> list[Any] | None:
        """Each segment's stored normal forms (``indexer.colcodes.var_bytes_parts``) with the
        ``find`` of the buffer they lie in (None for a segment without the column); None when
        they are not read as arrays here."""
        return self.shared.once(("texts", F.MATCH_TEXT), self._read_texts)

    def _read_texts(self) -> list[Any] | None:
        parts = colcodes.var_bytes_parts(self.reader, F.MATCH_TEXT)
        if parts is None:
            return None
        out: list[Any] = []
        for part in parts:
            if isinstance(part, int):
                out.append(None)
                continue
            data = part[0]
            holder = data.base.obj if isinstance(data.base, memoryview) else data.base
            if not (hasattr(holder, "find") and len(holder) == len(data)):  # not the mmap or bytes itself
                holder = data.tobytes()
            out.append((*part, holder.find))
        return out

    def match_text_spans(self, docnums: np.ndarray) -> Any:
        """Where the stored normal forms of ``docnums`` (ascending) lie (``search._exact.Spans``):
        per segment with the column, its buffer's ``find`` and each document's start and end there;
        the documents of other segments apart."""
        texts = self._texts()
        if texts is None:
            return [], docnums
        cuts = np.searchsorted(docnums, self._bases + [self.n])
        groups, rest = [], []
        for i, part in enumerate(texts):
            ids = docnums[cuts[i] : cuts[i + 1]]
            if not len(ids):
                continue
            if part is None:
                rest.append(ids)
                continue
            _data, offsets, lengths, find = part
            local = ids - self._bases[i]
            starts = offsets[local].astype(np.int64)
            groups.append((find, ids, starts, starts + lengths[local]))
        return groups, np.concatenate(rest) if rest else np.zeros(0, dtype=np.int64)

    def match_text(self, docnum: int) -> bytes:
        """A document's stored normal form (``indexer.matchtext``), for exact matching."""
        i = bisect.bisect_right(self._bases, docnum) - 1
        leaf, base = self.leaves[i]
        texts = self._texts()
        if texts is not None:
            part = texts[i]
            if part is not None:
                data, offsets, lengths, _find = part
                start = int(offsets[docnum - base])
                return data[start : start + int(lengths[docnum - base])].tobytes()
        else:  # not read as arrays here: this thread's own Whoosh column readers
            column = self._text_columns.get(i)
            if column is None:
                column = self._text_columns[i] = leaf.column_reader(F.MATCH_TEXT) if leaf.has_column(F.MATCH_TEXT) else False
            if column is not False:
                return column[docnum - base]
        stored = leaf.stored_fields(docnum - base)
        return match_text(None if stored.get(F.TITLE_DERIVED) else stored.get(F.HEADLINE), stored.get(F.BODY, ""))
