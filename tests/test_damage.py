"""A damaged index file is a typed error and a 503 that says to rebuild, never a 500."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from indexer import _cli, build_index, current_generation, delete_articles, update_index
from indexer._integrity import checksum_problems, crc32_of, read_manifest, write_manifest
from search import IndexDamagedError, get_article, search
from search._index import CACHE
from tests.conftest import SAMPLE_ARTICLES
from web import create_app

QUERIES = ("哈尔滨", "齐齐哈尔 合作", "冷链", "人工智能", "5G")


def _flip(path: Path, start: float, count: int = 256) -> None:
    data = bytearray(path.read_bytes())
    at = int(len(data) * start)
    for i in range(at, min(len(data), at + count)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.fixture()
def damaged(tmp_path: Path) -> Path:
    build_index([SAMPLE_ARTICLES], index_dir=tmp_path, procs=1)
    (stored,) = tmp_path.glob("gen-*/*_stored.col")
    _flip(stored, 0.3)
    _flip(stored, 0.7)
    CACHE.clear()
    return tmp_path


def test_error_damaged_stored_fields_raise_a_typed_error(damaged: Path) -> None:
    raised = 0
    for q in QUERIES:
        try:
            search(q, index_dir=damaged)
        except IndexDamagedError as exc:
            assert "rebuild" in str(exc)
            raised += 1
    assert raised


def test_error_damaged_index_is_a_503_on_the_page_and_the_api(damaged: Path) -> None:
    client = create_app({"INDEX_DIR": damaged}).test_client()
    statuses = set()
    for q in QUERIES:
        api = client.get("/api/search", query_string={"q": q})
        page = client.get("/", query_string={"q": q})
        statuses |= {api.status_code, page.status_code}
        if api.status_code == 503:
            body = api.get_json()
            assert body["ok"] is False and body["status"] == 503 and "rebuild" in body["error"]
    assert 503 in statuses and 500 not in statuses


def test_error_damaged_article_page_is_a_503(damaged: Path) -> None:
    client = create_app({"INDEX_DIR": damaged}).test_client()
    codes = {client.get(f"/article/{path.name}").status_code for path in SAMPLE_ARTICLES.glob("*.txt")}
    assert codes <= {200, 404, 503} and 503 in codes
    with pytest.raises(IndexDamagedError):
        for path in SAMPLE_ARTICLES.glob("*.txt"):
            get_article(path.name, index_dir=damaged)


# ---- checksums and `python -m indexer check` ------------------------------------------------------


def _check(index_dir: Path) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = _cli.main(["check", "--index-dir", str(index_dir)])
    return code, out.getvalue()


@pytest.fixture()
def changed(tmp_path: Path) -> Path:
    """An index that took a rebuild, an update (with a replacement) and a delete."""
    build_index([SAMPLE_ARTICLES], index_dir=tmp_path, procs=1)
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "x-1", "title": "冬奥会开幕", "date": "2022-02-04", "text": "北京冬奥会今天开幕。"},
                                ensure_ascii=False) + "\n", "utf-8")
    update_index([extra], index_dir=tmp_path)
    update_index([extra], index_dir=tmp_path)
    delete_articles([next(SAMPLE_ARTICLES.glob("*.txt")).name], index_dir=tmp_path)
    CACHE.clear()
    return tmp_path


def test_check_passes_on_a_fresh_and_a_changed_index(sample_index: Path, changed: Path) -> None:
    for index_dir in (sample_index, changed):
        code, out = _check(index_dir)
        assert code == 0, out
        assert out.rstrip().endswith("| ok") and "problem" not in out
    listed = read_manifest(current_generation(changed))
    assert listed and all(crc32_of(current_generation(changed) / n) == e["crc32"] for n, e in listed.items())


def test_check_after_update_leaves_the_previous_generation_sound(changed: Path) -> None:
    # An update hard-links the served files into its new generation; rewriting the manifest there
    # must not write through the link into the generation readers may still hold open.
    generations = sorted(changed.glob("gen-*"))
    assert len(generations) == 2
    for gen in generations:
        assert list(checksum_problems(gen)) == []


@pytest.mark.parametrize("pattern", ["*.trm", "*.pst", "*_stored.col", "*.match_text.col", "*.published.col", "vocab.tsv",
                                     "_MAIN_*.toc", "zhsearch.json"])
def test_check_names_a_file_with_flipped_bytes(sample_index: Path, tmp_path: Path, pattern: str) -> None:
    copy = tmp_path / "ix"
    shutil.copytree(sample_index, copy)
    target = max(sorted(current_generation(copy).glob(pattern)), key=lambda p: p.stat().st_size)
    if not target.stat().st_size:  # tests/test_engine.py damages .pst files of an index that fills them
        pytest.skip(f"every {pattern} file of the sample index is empty (its postings all fit in their term records)")
    _flip(target, 0.5, count=8)
    code, out = _check(copy)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert problems == [f"problem: {target}: checksum mismatch (the file changed on disk after it was written)"]
    assert "1 problem(s): rebuild" in out


def test_a_truncated_or_missing_file_is_refused_at_open(sample_index: Path, tmp_path: Path) -> None:
    for damage in ("truncate", "remove"):
        copy = tmp_path / damage
        shutil.copytree(sample_index, copy)
        # The sample's .pst files are empty (short postings live in the term records): truncate a .trm.
        (target,) = current_generation(copy).glob("*.trm" if damage == "truncate" else "*.pst")
        if damage == "truncate":
            with open(target, "r+b") as fh:
                fh.truncate(target.stat().st_size // 2)
        else:
            target.unlink()
        CACHE.clear()
        with pytest.raises(IndexDamagedError, match=re.escape(target.name)):
            search("哈尔滨", index_dir=copy)
        api = create_app({"INDEX_DIR": copy}).test_client().get("/api/search", query_string={"q": "哈尔滨"})
        assert api.status_code == 503 and target.name in api.get_json()["error"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            assert _cli.main(["stats", "--index-dir", str(copy)]) == 1  # stats no longer says all is well
        assert target.name in out.getvalue() and "rebuild" in out.getvalue()
        code, text = _check(copy)
        assert code == 1 and target.name in text


def test_check_reports_broken_invariants_behind_valid_checksums(sample_index: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ix"
    shutil.copytree(sample_index, copy)
    gen = current_generation(copy)
    meta = json.loads((gen / "zhsearch.json").read_text("utf-8"))
    meta["articles"] += 5
    (gen / "zhsearch.json").write_text(json.dumps(meta), "utf-8")
    (gen / "stray.bin").write_bytes(b"\0" * 10)
    write_manifest(gen)  # as if the tool that changed them had also re-checksummed
    (gen / "late.bin").write_bytes(b"\1")
    code, out = _check(copy)
    assert code == 1
    assert f"problem: {gen / 'late.bin'}: not part of the index" in out
    code, out = _check_after(gen / "late.bin", copy)
    assert code == 1 and f"says {meta['articles']} articles, the index holds {meta['articles'] - 5}" in out


def _check_after(remove: Path, index_dir: Path) -> tuple[int, str]:
    remove.unlink()
    return _check(index_dir)


def test_rebuild_recovers_a_damaged_index(damaged: Path) -> None:
    assert _check(damaged)[0] == 1
    build_index([SAMPLE_ARTICLES], index_dir=damaged, procs=1)
    CACHE.clear()
    assert _check(damaged)[0] == 0
    for q in QUERIES:
        search(q, index_dir=damaged)
