"""Small changes and ``optimize``: what an update merges, what optimize merges, and that search answers the same.

An update writes one segment and merges only a few small ones (``indexer._merge``);
``optimize`` merges every segment into one in a new generation. Both must leave
every live article findable by its words and no deleted one, keep the vocabulary
equal to one counted from scratch, and (optimize) answer every query as before.
A failed or killed optimize leaves the previous generation served.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

import search
from indexer import IndexWriteError, _cli, _merge, _store, build_index, current_generation, delete_articles
from indexer import optimize_index, update_index
from indexer.vocab import CHARS_FILE, COUNTS_FILE, VOCAB_FILE, read_counts, write_vocab
from search import _index as search_cache
from tests import _corpus
from tests.test_faults import building_dirs, cli, fill_disk_at, kill_delays, reap, run_and_kill, timed_cli

QUERIES = ("经济", "合作", "对口合作", "哈尔滨", "冷链 物流", '"装备制造"', "齐齐哈尔 铁路", "修订")
REVISED = "修订稿"  # only the replaced versions hold it


@pytest.fixture(autouse=True)
def fresh_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every search() re-checks CURRENT (no grace period between a change and its readers)."""
    monkeypatch.setattr(search_cache, "RECHECK_SECONDS", 0)


def segments(index: Path) -> list[Any]:
    return _store.open_generation(current_generation(index))._segments()


def stored_ids(index: Path) -> set[str]:
    with _store.open_generation(current_generation(index)).searcher() as searcher:
        return {fields["id"] for fields in searcher.all_stored_fields()}


def results(index: Path, query: str) -> tuple[Any, ...]:
    """Every listed hit of ``query`` in order with its score, the total and the facets."""
    hits: list[tuple[str, str, float]] = []
    page = 1
    while True:
        res = search.search(query, index_dir=index, page=page, per_page=100, correct=False)
        hits += [(h.id, h.match, round(h.score, 9)) for h in res.hits]
        if page >= res.pages:
            break
        page += 1
    facets = {name: tuple((f.value, f.count) for f in values) for name, values in res.facets.items()}
    return res.total, tuple(hits), facets


def exact_ids(index: Path, query: str) -> set[str]:
    return {i for i, match, _score in results(index, query)[1] if match == "exact"}


def assert_findable(index: Path, live: dict[str, dict[str, Any]]) -> None:
    """Brute force: each live article is found by its words, every word finds exactly the articles
    holding it, and no deleted or replaced version is found."""
    assert stored_ids(index) == set(live)
    truth = _corpus.Truth(_corpus.from_records(live.values()))
    for word in (*_corpus.WORDS[:12], *_corpus.PHRASES, REVISED):
        expected = truth.holding(word)
        assert exact_ids(index, word) == expected, word
        assert search.search(word, index_dir=index, correct=False).total == len(expected), word


def assert_vocab_as_counted_afresh(index: Path, tmp_path: Path) -> None:
    gen = current_generation(index)
    fresh = tmp_path / f"fresh-{gen.name}"
    fresh.mkdir()
    write_vocab(_store.open_generation(gen), fresh)
    for name in (VOCAB_FILE, CHARS_FILE):
        assert (gen / name).read_text("utf-8") == (fresh / name).read_text("utf-8"), name
    assert read_counts(gen)[::2] == read_counts(fresh)[::2]  # segments and counts (not the documents then)


def revised(record: dict[str, Any], n: int) -> dict[str, Any]:
    return {**record, "title": f"{record['title']}{REVISED}", "text": f"{record['text']}\n第{n}次{REVISED}。"}


@pytest.fixture()
def records() -> list[dict[str, Any]]:
    return [r for r in _corpus.generate(200, seed=31) if "-r" not in r["id"]]


def test_small_updates_and_deletes_keep_every_article_findable(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    index = tmp_path / "ix"
    first, rest = records[:80], records[80:]
    build_index([_corpus.write_jsonl(tmp_path / "a.jsonl", first)], index_dir=index, procs=1)
    live = {r["id"]: r for r in first}
    rng = random.Random(7)
    merged = 0
    for n in range(12):
        changed = [revised(live[i], n) for i in rng.sample(sorted(live), 2)]
        added, rest = rest[:3], rest[3:]
        report = update_index([_corpus.write_jsonl(tmp_path / f"u{n}.jsonl", changed + added)], index_dir=index)
        assert (report.indexed, report.replaced) == (3, 2)
        live.update({r["id"]: r for r in changed + added})
        victim = rng.choice(sorted(live))
        report = delete_articles([victim], index_dir=index)
        assert report.deleted == 1 and report.segments == len(segments(index))
        del live[victim]
        merged += report.merged
        if n in (3, 11):
            assert_findable(index, live)
            assert_vocab_as_counted_afresh(index, tmp_path)
    assert merged, "no update or delete merged the small segments"
    small = [seg for seg in segments(index) if seg.doc_count_all() < _merge.MERGE_BUDGET_DOCS]
    assert len(small) <= _merge.MERGE_AT, "small segments pile up: the update's merge did not run"
    assert all(seg.doc_count() > 0 for seg in segments(index)), "a segment of deleted documents only is kept"


def test_delete_keeps_the_vocabulary_files_it_cannot_change(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    index = tmp_path / "ix"
    build_index([_corpus.write_jsonl(tmp_path / "a.jsonl", records[:30])], index_dir=index, procs=1)
    before = current_generation(index)
    delete_articles([records[0]["id"]], index_dir=index)
    after = current_generation(index)
    for name in (VOCAB_FILE, CHARS_FILE, COUNTS_FILE):  # the same segments: the very same files (hard links)
        assert (after / name).stat().st_ino == (before / name).stat().st_ino, name


def test_deleting_every_article_leaves_an_empty_index_that_takes_updates(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    index = tmp_path / "ix"
    build_index([_corpus.write_jsonl(tmp_path / "a.jsonl", records[:5])], index_dir=index, procs=1)
    report = delete_articles([r["id"] for r in records[:5]], index_dir=index)
    assert (report.deleted, report.segments, report.merged) == (5, 0, 1)  # the segment of deleted articles dropped
    assert search.search("经济", index_dir=index).total == 0
    update_index([_corpus.write_jsonl(tmp_path / "b.jsonl", records[5:8])], index_dir=index)
    assert_findable(index, {r["id"]: r for r in records[5:8]})
    assert_vocab_as_counted_afresh(index, tmp_path)


@pytest.fixture()
def segmented(tmp_path: Path, records: list[dict[str, Any]]) -> tuple[Path, dict[str, dict[str, Any]]]:
    """An index of four segments without deletions (a build and three updates of new articles)."""
    index = tmp_path / "ix"
    build_index([_corpus.write_jsonl(tmp_path / "a.jsonl", records[:60])], index_dir=index, procs=1)
    for n in range(3):
        update_index([_corpus.write_jsonl(tmp_path / f"u{n}.jsonl", records[60 + 20 * n : 80 + 20 * n])], index_dir=index)
    assert len(segments(index)) == 4
    return index, {r["id"]: r for r in records[:120]}


def test_optimize_merges_to_one_segment_and_search_answers_the_same(
        segmented: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    index, live = segmented
    before = {q: results(index, q) for q in QUERIES}
    suggestions = search.suggest("经", index_dir=index)
    report = optimize_index(index_dir=index)
    assert (report.merged, report.segments) == (4, 1) and len(segments(index)) == 1
    # The same hits in the same order with the same scores (the merged segment keeps the exact
    # field-length totals, which ranking divides by), and the same facets.
    assert {q: results(index, q) for q in QUERIES} == before
    assert search.suggest("经", index_dir=index) == suggestions
    assert_vocab_as_counted_afresh(index, tmp_path)

    served = current_generation(index)
    again = optimize_index(index_dir=index)  # one segment, no deletions: nothing to do, nothing published
    assert (again.merged, again.segments) == (0, 1) and current_generation(index) == served


def test_optimize_drops_deleted_articles_and_updates_go_on(
        segmented: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    index, live = segmented
    ids = sorted(live)
    changed = [revised(live[i], 1) for i in ids[5:9]]
    update_index([_corpus.write_jsonl(tmp_path / "c.jsonl", changed)], index_dir=index)
    live.update({r["id"]: r for r in changed})
    delete_articles(ids[:3], index_dir=index)
    for i in ids[:3]:
        del live[i]
    before = {q: (results(index, q)[0], exact_ids(index, q)) for q in QUERIES}
    optimize_index(index_dir=index)
    (seg,) = segments(index)
    assert not seg.has_deletions() and seg.doc_count() == len(live)
    # Term statistics lose the deleted documents, so scores (and order) may change; what matches may not.
    assert {q: (results(index, q)[0], exact_ids(index, q)) for q in QUERIES} == before
    assert_findable(index, live)
    assert_vocab_as_counted_afresh(index, tmp_path)

    extra = [{**revised(live[ids[10]], 2)}, {**live[ids[11]], "id": "after-optimize", "text": "佳木斯冷链物流园区开工。"}]
    report = update_index([_corpus.write_jsonl(tmp_path / "d.jsonl", extra)], index_dir=index)
    assert (report.indexed, report.replaced, report.segments) == (1, 1, 2)
    live.update({r["id"]: r for r in extra})
    assert_findable(index, live)
    assert_vocab_as_counted_afresh(index, tmp_path)


def test_optimize_cli_and_json(segmented: tuple[Path, dict[str, dict[str, Any]]], capsys: pytest.CaptureFixture[str]) -> None:
    index, _ = segmented
    assert _cli.main(["optimize", "--index-dir", str(index), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["action"], data["merged"], data["segments"]) == ("optimize", 4, 1)
    assert _cli.main(["optimize", "--index-dir", str(index)]) == 0
    assert "nothing to merge" in capsys.readouterr().out


def test_error_disk_full_during_optimize_keeps_previous_index(
        segmented: tuple[Path, dict[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    index, _ = segmented
    served = current_generation(index)
    before = {q: results(index, q) for q in QUERIES}
    with monkeypatch.context() as m:
        fill_disk_at(m, "segment")
        with pytest.raises(IndexWriteError, match="previous index is intact"):
            optimize_index(index_dir=index)
    assert current_generation(index) == served and not building_dirs(index)
    assert len(segments(index)) == 4 and {q: results(index, q) for q in QUERIES} == before  # scores too
    assert optimize_index(index_dir=index).segments == 1  # space again: the next optimize works


def test_kill_optimize_at_random_moments(segmented: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    """SIGKILL at any moment: the previous generation (four segments) or the optimized one, never a mix."""
    index, _ = segmented
    pristine = tmp_path / "pristine"
    _copy(index, pristine)
    old = {q: results(index, q) for q in QUERIES}
    reference = _copy(pristine, tmp_path / "reference")
    seconds = timed_cli("optimize", "--index-dir", reference)
    problems = []
    for n, delay in enumerate(kill_delays(random.Random(11), seconds, 4)):
        target = _copy(pristine, tmp_path / f"kill-{n}")
        proc = run_and_kill(("optimize", "--index-dir", target), delay)
        try:
            count = len(segments(target))
            state = {q: results(target, q) for q in QUERIES}
        finally:
            reap(proc)
        killed = proc.returncode == -signal.SIGKILL
        if count not in (1, 4) or state != old or (not killed and count != 1):
            problems.append(f"kill {n} at {delay:.2f}/{seconds:.2f} s: {count} segments, same answers: {state == old}")
        done = cli("optimize", "--index-dir", target)
        if done.returncode != 0 or len(segments(target)) != 1 or building_dirs(target):
            problems.append(f"kill {n}: the next optimize failed ({done.returncode}): {done.stderr.strip()}")
    assert not problems, "\n".join(problems)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
