"""The schema's shared values: what the search side reads from an index the build wrote."""

from __future__ import annotations

import json
from pathlib import Path

import indexer
from indexer import build_index
from indexer.schema import NO_DATE, PUBLISHED


def test_no_date_is_what_an_undated_article_holds(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    records = [{"id": "dated", "title": "有日期", "text": "有日期的正文。", "date": "2024-02-03"},
               {"id": "undated", "title": "没有日期", "text": "没有日期的正文。"}]
    feed.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    root = tmp_path / "index"
    build_index([feed], index_dir=root, procs=1)
    assert (root / indexer.CURRENT).is_file()
    ix = indexer.open_generation(indexer.current_generation(root))
    with ix.reader() as reader:
        column = reader.column_reader(PUBLISHED, translate=False)
        raw = {reader.stored_fields(d)["id"]: column[d] for d in reader.all_doc_ids()}
    assert raw["undated"] == NO_DATE == indexer.NO_DATE
    assert raw["dated"] != NO_DATE
    assert indexer.index_stats(index_dir=root).undated == 1
