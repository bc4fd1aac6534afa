"""Which segments a change merges: a few small ones after an update or delete, all of them on optimize.

Each update writes one new segment and each replacement or delete marks a
document deleted in an older one, so segments pile up and keep their deleted
documents until they are merged. Merging reads every posting of the segments
merged, so its cost is their size: an update merges only what it can afford.

``small_merge``, the policy of ``update`` and ``delete``:

- a segment whose every document is deleted is dropped without being read;
- the smallest segments whose documents (deleted ones included: their postings
  are read too) add up to at most ``MERGE_BUDGET_DOCS`` are merged into the
  segment the change writes, when there are at least ``MERGE_AT`` of them.

So an update re-reads at most ``MERGE_BUDGET_DOCS`` documents, the small
segments stay fewer than about ``MERGE_AT``, and segments of about the budget's
size are left for ``optimize`` (``OPTIMIZE``: every segment into one, deleted
documents gone), which costs about what writing the index in a rebuild does.
"""

from __future__ import annotations

from typing import Any

from whoosh.reading import SegmentReader

MERGE_BUDGET_DOCS = 100
MERGE_AT = 8


def small_merge(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh's merge-policy interface: merge into ``writer`` what this policy picks,
    return the segments kept as they are."""
    live = [seg for seg in segments if seg.doc_count() > 0]
    picked: list[Any] = []
    total = 0
    for seg in sorted(live, key=lambda s: s.doc_count_all()):
        if total + seg.doc_count_all() > MERGE_BUDGET_DOCS:
            break
        picked.append(seg)
        total += seg.doc_count_all()
    if len(picked) < MERGE_AT:
        return live
    for seg in picked:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    chosen = {id(seg) for seg in picked}
    return [seg for seg in live if id(seg) not in chosen]
