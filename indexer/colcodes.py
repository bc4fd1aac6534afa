"""The stored columns searches group and count by, as integer codes written beside each generation.

A search needs, for every document, a code per distinct source, year,
category and reprint key (facets count codes, reprint folding groups them).
``indexer.codes`` computes them from the segments' column files without a
Python loop, but on a million documents that is most of a fresh process's
first query (about 0.2 s a column). So every build, update and optimize writes
them once into the generation, and a search maps them from there:

- ``zhsearch-codes.json``: the segments (ids and document counts, in order)
  the codes were computed over, and per column how many codes it has and
  whether the last stands for the missing value;
- per column, ``zhsearch-codes-<column>.npy`` (a code per document, int32),
  ``…-values.npy`` (every code's value, back to back) and ``…-ends.npy``
  (where each ends).

The codes answer only for the same segments: an index that another writer
changed (Whoosh's own, which adds or merges segments) no longer matches the
header, and searches compute the codes again. Deleted documents keep their
codes; searches mask them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.columns import VarBytesColumn

from indexer import codes as _codes
from indexer import schema as F
from indexer.colfile import file_of, readable, var_bytes

CODED = (F.SOURCE, F.YEAR, F.CATEGORY, F.DUP_KEY)
HEADER = "zhsearch-codes.json"
FORMAT = 1


def segments_of(reader: Any) -> list[list[Any]]:
    """Each segment's id and number of documents (deleted included), in document order."""
    out = []
    for leaf, _base in reader.leaf_readers():
        segment = leaf.segment() if hasattr(leaf, "segment") else None
        out.append([segment.segment_id() if segment is not None else None, leaf.doc_count_all()])
    return out


def var_bytes_parts(reader: Any, name: str, first: int = 0) -> list[_codes.Part] | None:
    """Each segment's (from the ``first``) ``VarBytesColumn`` bytes with each document's offset and
    length there (its number of documents when it has no such column); None when the column is of
    another type or a segment is not one ``indexer.colfile`` reads."""
    if name not in reader.schema or type(reader.schema[name].column_type) is not VarBytesColumn:
        return None
    parts: list[_codes.Part] = []
    for leaf, _base in reader.leaf_readers()[first:]:
        if not readable(leaf):
            return None
        raw = file_of(leaf, name) if leaf.has_column(name) else None
        count = leaf.doc_count_all()
        parts.append(count if raw is None else (raw, *var_bytes(raw, count)))
    return parts


def compute(reader: Any, name: str) -> tuple[np.ndarray, _codes.Labels] | None:
    """Column ``name`` as codes, from the segments' files; None when they are not read as arrays."""
    parts = var_bytes_parts(reader, name)
    if parts is None:
        return None
    return _codes.encode(parts, reader.schema[name].from_column_value)


def _file(gen: Path, name: str, part: str = "") -> Path:
    return gen / f"zhsearch-codes-{name}{'-' + part if part else ''}.npy"


def write_codes(gen: Path, reader: Any, columns: Sequence[str] = CODED) -> None:
    """Compute and write the codes of ``columns`` for the generation ``gen`` (read through ``reader``).
    Each file replaces any of the same name by a rename (a cloned generation's are hard links);
    codes already there for these very segments (a delete changes none) are kept as they are, and
    codes there for the first of these segments (an update adds segments and may merge the last
    few) are extended with the other segments' rather than computed again."""
    segments = segments_of(reader)
    written = _header(gen)
    if written is not None and written["segments"] == segments and all(
            _load(gen, written, name, reader.doc_count_all()) is not None for name in columns):
        return
    header: dict[str, Any] = {"format": FORMAT, "segments": segments, "columns": {}}
    for name in columns:
        found = _extended(gen, written, reader, name, segments) if written is not None else None
        if found is None:
            computed = compute(reader, name)
            if computed is None:
                continue
            codes, labels = computed
            found = (codes, *labels.compact(), len(labels), labels.missing)
        codes, values, ends, count, missing = found
        _save(_file(gen, name), codes.astype(np.int32 if count < 2**31 else np.int64))
        _save(_file(gen, name, "values"), values)
        _save(_file(gen, name, "ends"), np.asarray(ends, dtype=np.int64))
        header["columns"][name] = {"codes": count, "missing": missing}
    _atomic_text(gen / HEADER, json.dumps(header))


def _header(gen: Path) -> dict[str, Any] | None:
    """The generation's codes header, if it is one of this format."""
    try:
        header = json.loads((gen / HEADER).read_text("utf-8"))
        if header.get("format") != FORMAT or not isinstance(header.get("segments"), list):
            return None
        return header
    except (OSError, ValueError, AttributeError):
        return None


def _load(gen: Path, header: dict[str, Any], name: str, doc_count: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool] | None:
    """Column ``name``'s written codes (memory-mapped), values, their ends, the number of codes and
    whether the last is the missing value's; None when ``header`` has none, or the files do not
    agree with it and with ``doc_count`` documents."""
    try:
        info = header["columns"][name]
        codes = np.load(_file(gen, name), mmap_mode="r")
        values = np.load(_file(gen, name, "values"), mmap_mode="r")
        ends = np.load(_file(gen, name, "ends"), mmap_mode="r")
        count, missing = int(info["codes"]), bool(info["missing"])
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
    if len(codes) != doc_count or len(ends) != count - missing or (len(ends) and ends[-1] != len(values)):
        return None
    return codes, values, ends, count, missing


def _extended(gen: Path, header: dict[str, Any], reader: Any, name: str, segments: list[list[Any]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool] | None:
    """Column ``name``'s codes (with its values, their ends, the number of codes and whether the last
    is the missing value's) from the codes written in ``gen`` (``header``) for a first run of these
    segments and the other segments' column files; None when there are none such.

    The written values (one a code) and the new segments' documents are coded together, so each new
    document gets the code its value already has, and a value not seen before the next free one."""
    old_segments = header["segments"]
    kept = 0
    while kept < min(len(old_segments), len(segments)) and old_segments[kept] == segments[kept]:
        kept += 1
    try:
        old_docs = sum(int(count) for _id, count in old_segments)
    except (TypeError, ValueError):
        return None
    loaded = _load(gen, header, name, old_docs) if kept else None
    new = var_bytes_parts(reader, name, first=kept) if loaded is not None else None
    if loaded is None or new is None:
        return None
    old_codes, old_values, old_ends, _count, old_missing = loaded
    old_values, old_ends = np.asarray(old_values, dtype=np.uint8), np.asarray(old_ends, dtype=np.int64)
    valued = len(old_ends)
    old_lengths = np.diff(np.concatenate([[0], old_ends]))
    together, labels = _codes.encode([(old_values, old_ends - old_lengths, old_lengths), *new],
                                     reader.schema[name].from_column_value)
    # together[:valued] are the written values' codes (all distinct), the rest the new documents'.
    final = np.full(len(labels), -1, dtype=np.int64)
    final[together[:valued]] = np.arange(valued)
    if not np.array_equal(final[together[:valued]], np.arange(valued)):
        return None
    new_docs = together[valued:]
    missing_code = len(labels) - 1 if labels.missing else -1
    unseen = np.unique(new_docs[final[new_docs] < 0])
    unseen = unseen[unseen != missing_code]
    final[unseen] = valued + np.arange(len(unseen))
    total_valued = valued + len(unseen)
    missing = old_missing or labels.missing
    if labels.missing:
        final[missing_code] = total_valued
    head = np.asarray(old_codes[: sum(int(c) for _id, c in segments[:kept])], dtype=np.int64)
    if old_missing:
        head = np.where(head == valued, total_valued, head)  # the missing value's code stays the last
    codes = np.concatenate([head, final[new_docs]])
    added_values, added_ends = labels.compact(unseen)
    values = np.concatenate([old_values, added_values])
    ends = np.concatenate([old_ends, (old_ends[-1] if valued else 0) + added_ends])
    if kept < len(old_segments):  # merged segments: the values only their purged documents had go
        used = np.bincount(codes, minlength=total_valued + missing) > 0
        if not used.all():
            codes = (np.cumsum(used) - 1)[codes]
            lengths = np.diff(np.concatenate([[0], ends]))
            values = values[np.repeat(used[:total_valued], lengths)]
            ends = np.cumsum(lengths[used[:total_valued]])
            missing = missing and bool(used[-1])
            total_valued = int(used[:total_valued].sum())
    return codes, values, ends, total_valued + missing, missing


def read_codes(gen: Path, reader: Any, name: str) -> tuple[np.ndarray, _codes.Labels] | None:
    """Column ``name``'s codes as written for ``gen``, memory-mapped; None when there are none for
    exactly this reader's segments (or they cannot be read)."""
    header = _header(gen)
    if header is None or header["segments"] != segments_of(reader):
        return None
    loaded = _load(gen, header, name, reader.doc_count_all())
    if loaded is None:
        return None
    codes, values, ends, _count, missing = loaded
    offsets = np.concatenate([[0], ends[:-1]]).astype(np.int64) if len(ends) else np.zeros(0, dtype=np.int64)
    labels = _codes.Labels(values, offsets, np.asarray(ends, dtype=np.int64) - offsets, missing,
                           reader.schema[name].from_column_value)
    return codes, labels


def _save(path: Path, array: np.ndarray) -> None:
    fd, partial = tempfile.mkstemp(prefix=path.name, suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array))
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _atomic_text(path: Path, text: str) -> None:
    fd, partial = tempfile.mkstemp(prefix=path.name, suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
