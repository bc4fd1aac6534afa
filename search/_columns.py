"""Per-document arrays of one generation: the alive mask, field lengths, dates,
stored columns as integer codes, and the stored normal form for exact matching.

Each is read once per process and generation (``Shared.once``), whatever the
number of threads. A segment written without a column (no article of it had
the field) gives the missing value for each of its documents: Whoosh's
multi-segment column reader leaves such segments out, which would shift every
later document onto another's value.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.util.numeric import byte_to_length

from indexer import schema as F
from indexer.matchtext import match_text
from search._postings import Leaves
from search._shared import Shared

_LENGTH_OF_BYTE = np.array([1.0] + [float(byte_to_length(b)) for b in range(1, 256)])
NO_DATE = np.uint64(F.NO_DATE)  # an undated article's raw PUBLISHED value


class Columns:
    """The per-document arrays of one thread's reader, over its generation's ``Shared``."""

    def __init__(self, reader: Any, shared: Shared) -> None:
        self.reader = reader
        self.shared = shared
        self.n = reader.doc_count_all()
        self.leaves: Leaves = list(reader.leaf_readers())
        self._bases = [base for _leaf, base in self.leaves]
        self._text_columns: dict[int, Any] = {}

    @property
    def alive(self) -> np.ndarray:
        def compute() -> np.ndarray:
            alive = np.zeros(self.n, dtype=bool)
            alive[list(self.reader.all_doc_ids())] = True
            return alive

        return self.shared.once("alive", compute)

    def lengths(self, field: str) -> np.ndarray:
        return self.shared.once(("lengths", field), lambda: self._read_lengths(field))[0]

    def average_length(self, field: str) -> float:
        return self.shared.once(("lengths", field), lambda: self._read_lengths(field))[1]

    def _read_lengths(self, field: str) -> tuple[np.ndarray, float]:
        parts = []
        for leaf, _base in self.leaves:
            count = leaf.doc_count_all()
            perdoc = leaf._perdoc  # Whoosh's per-document reader: the lengths column is one byte a document
            column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN) if hasattr(perdoc, "_cached_reader") else None
            if column is None:
                parts.append(np.array([leaf.doc_field_length(d, field, 1) for d in range(count)], dtype=np.float64))
            else:
                raw = np.fromiter(iter(column), dtype=np.uint8, count=count)
                parts.append(_LENGTH_OF_BYTE[raw])
        lengths = np.concatenate(parts) if parts else np.zeros(0)
        return lengths, (self.reader.field_length(field) / (self.n or 1)) or 1.0

    def _per_leaf(self, name: str, *, translate: bool, missing: Any) -> list[Any]:
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
        return self.shared.once("dates", lambda: np.array(
            self._per_leaf(F.PUBLISHED, translate=False, missing=int(NO_DATE)), dtype=np.uint64))

    def column(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """A stored column as integer codes per document and the list of distinct values."""

        def compute() -> tuple[np.ndarray, list[Any]]:
            raw = self._per_leaf(name, translate=True, missing=None)
            labels: dict[Any, int] = {}
            codes = np.fromiter((labels.setdefault(v, len(labels)) for v in raw), dtype=np.int64, count=len(raw))
            return codes, list(labels)

        return self.shared.once(("column", name), compute)

    def match_text(self, docnum: int) -> bytes:
        """A document's stored normal form (``indexer.matchtext``), for exact matching."""
        i = bisect.bisect_right(self._bases, docnum) - 1
        leaf, base = self.leaves[i]
        column = self._text_columns.get(i)
        if column is None:
            column = self._text_columns[i] = leaf.column_reader(F.MATCH_TEXT) if leaf.has_column(F.MATCH_TEXT) else False
        if column is False:
            stored = leaf.stored_fields(docnum - base)
            return match_text(None if stored.get(F.TITLE_DERIVED) else stored.get(F.HEADLINE), stored.get(F.BODY, ""))
        return column[docnum - base]
