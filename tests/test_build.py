"""Building, updating and deleting: real indexes on disk, atomic swaps, one writer at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer import (
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    build_index,
    current_generation,
    delete_articles,
    index_stats,
    update_index,
)
from indexer import _store
from tests.conftest import SAMPLE_ARTICLES


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def ids_in(index_dir: Path) -> set[str]:
    ix = _store.open_generation(current_generation(index_dir))
    with ix.searcher() as s:
        return {d["id"] for d in s.all_stored_fields()}


def test_rebuild_sample_articles(tmp_path: Path) -> None:
    report = build_index([SAMPLE_ARTICLES], index_dir=tmp_path / "ix", procs=1)
    assert report.indexed >= 12 and not report.skipped
    stats = index_stats(index_dir=tmp_path / "ix")
    assert stats.articles == report.indexed
    assert stats.bytes_on_disk > 0
    assert stats.first_published is not None and stats.first_published <= (stats.last_published or "")


def test_rebuild_swaps_generations_and_keeps_one_previous(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "title": "甲", "text": "第一版正文。"}])
    ix = tmp_path / "ix"
    build_index([src], index_dir=ix, procs=1)
    first = current_generation(ix)
    write_jsonl(src, [{"id": "b", "title": "乙", "text": "第二版正文。"}])
    build_index([src], index_dir=ix, procs=1)
    second = current_generation(ix)
    assert first != second and first.exists()
    assert ids_in(ix) == {"b"}
    build_index([src], index_dir=ix, procs=1)
    assert not first.exists()  # only the previous generation is kept for open readers
    assert second.exists()


def test_update_replaces_by_id_and_delete_removes(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    build_index([write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "title": "甲", "text": "旧正文。"}])], index_dir=ix, procs=1)
    report = update_index([write_jsonl(tmp_path / "b.jsonl", [
        {"id": "a", "title": "甲", "text": "新正文。"},
        {"id": "c", "title": "丙", "text": "另一篇。"},
    ])], index_dir=ix)
    assert (report.indexed, report.replaced) == (1, 1)
    assert ids_in(ix) == {"a", "c"}
    report = delete_articles(["c", "nope"], index_dir=ix)
    assert report.deleted == 1 and report.not_found == ["nope"]
    assert ids_in(ix) == {"a"}


def test_duplicate_ids_in_one_rebuild_keep_the_first(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "title": "一", "text": "第一。"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "x", "title": "二", "text": "第二。"}])
    report = build_index([a, b], index_dir=tmp_path / "ix", procs=1)
    assert report.indexed == 1
    assert [s.reason for s in report.skipped] == ["duplicate id 'x' (first in a.jsonl:1)"]


def test_error_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rebuild"):
        index_stats(index_dir=tmp_path / "nothing-here")


def test_error_old_analyzer_version_asks_for_rebuild(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    build_index([SAMPLE_ARTICLES], index_dir=ix, procs=1)
    meta_path = current_generation(ix) / _store.META
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["analyzer_version"] = -1
    meta_path.write_text(json.dumps(meta), "utf-8")
    with pytest.raises(IndexVersionError, match="rebuild needed"):
        current_generation(ix)


def test_error_second_writer_fails_fast(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    build_index([SAMPLE_ARTICLES], index_dir=ix, procs=1)
    before = ids_in(ix)
    with _store.writer_lock(ix):
        with pytest.raises(IndexLockedError, match="another"):
            build_index([SAMPLE_ARTICLES], index_dir=ix, procs=1)
        with pytest.raises(IndexLockedError):
            delete_articles(["x"], index_dir=ix)
    assert ids_in(ix) == before


def test_leftover_build_folder_is_cleaned(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    build_index([SAMPLE_ARTICLES], index_dir=ix, procs=1)
    stale = ix / f"{_store.BUILDING_PREFIX}12345-dead"
    stale.mkdir()
    (stale / "junk").write_text("x")
    report = build_index([SAMPLE_ARTICLES], index_dir=ix, procs=1)
    assert stale.name in report.cleaned and not stale.exists()


def test_error_interrupted_rebuild_leaves_previous_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ix = tmp_path / "ix"
    build_index([SAMPLE_ARTICLES], index_dir=ix, procs=1)
    before, generation = ids_in(ix), current_generation(ix)

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_store, "publish", boom)
    with pytest.raises(KeyboardInterrupt):
        build_index([SAMPLE_ARTICLES], index_dir=ix, procs=1)
    assert current_generation(ix) == generation and ids_in(ix) == before
    assert not list(ix.glob(f"{_store.BUILDING_PREFIX}*"))


def test_rebuild_with_two_processes_matches_one(tmp_path: Path) -> None:
    # Enough articles for Whoosh to hand batches to both workers (two segments).
    records = [
        {"id": f"n{i}", "title": f"第{i}条新闻", "text": f"齐齐哈尔第{i}条消息，装备制造。", "date": f"2024-01-{i % 28 + 1:02d}", "source": f"来源{i % 3}"}
        for i in range(450)
    ]
    src = write_jsonl(tmp_path / "many.jsonl", records)
    build_index([src], index_dir=tmp_path / "one", procs=1)
    build_index([src], index_dir=tmp_path / "two", procs=2)
    assert ids_in(tmp_path / "one") == ids_in(tmp_path / "two")
    assert len(_store.open_generation(current_generation(tmp_path / "two"))._segments()) > 1
    one, two = index_stats(index_dir=tmp_path / "one"), index_stats(index_dir=tmp_path / "two")
    assert two.sources == one.sources == {"来源0": 150, "来源1": 150, "来源2": 150}
    assert (two.first_published, two.last_published, two.undated) == (one.first_published, one.last_published, 0)


def test_update_with_articles_lacking_a_column_keeps_every_article_its_own_values(tmp_path: Path) -> None:
    """A segment written without the category (or date) column: later documents must not take
    other documents' facets, dates or reprint keys (Whoosh's multi-segment column reader skips it)."""
    from search import search
    from search._index import CACHE

    first = write_jsonl(tmp_path / "a.jsonl", [
        {"id": "a", "title": "青蒿素研究", "date": "2022-01-01", "text": "青蒿素是一种药物。", "category": "科学"}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "b", "title": "冬奥会开幕", "text": "北京冬奥会今天开幕。"}])
    third = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "c", "title": "冬奥会闭幕", "date": "2022-02-20", "text": "北京冬奥会今天闭幕。", "category": "体育"}])
    index = tmp_path / "index"
    build_index([first], index_dir=index, procs=1)
    update_index([second], index_dir=index)
    update_index([third], index_dir=index)
    CACHE.clear()
    res = search("冬奥会", index_dir=index, sort="date")
    assert [h.id for h in res.hits] == ["c", "b"] and res.total == 2
    assert [(f.value, f.count) for f in res.facets["category"]] == [("体育", 1)]
    assert [(f.value, f.count) for f in res.facets["year"]] == [("2022", 1)]
    assert search("青蒿素", index_dir=index).facets["category"][0].value == "科学"
