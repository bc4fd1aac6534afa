"""The benchmarks' generated scale corpus (bench/_generate.py): small N, real CCTV sentences."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from indexer import build_index, index_stats
from tests.conftest import ROOT, require_data

sys.path.insert(0, str(ROOT / "bench"))
import _generate  # noqa: E402

N = 200


@pytest.fixture(scope="module")
def source() -> Path:
    return require_data("cctv-xwlb", "articles.jsonl")


@pytest.fixture(scope="module")
def pool(source: Path) -> _generate.Pool:
    return _generate.load_pool(source)


@pytest.fixture(scope="module")
def records(source: Path, pool: _generate.Pool) -> list[dict[str, str]]:
    return list(_generate.generate(source, N, seed=3, pool=pool))


def test_deterministic_for_a_seed(source: Path, pool: _generate.Pool, records: list[dict[str, str]]) -> None:
    assert list(_generate.generate(source, N, seed=3, pool=pool)) == records
    other = list(_generate.generate(source, N, seed=4, pool=pool))
    assert [r["text"] for r in other] != [r["text"] for r in records]


def test_written_file_is_the_records(source: Path, pool: _generate.Pool, records: list[dict[str, str]], tmp_path: Path) -> None:
    out = tmp_path / "gen.jsonl"
    assert _generate.write(source, N, 3, out, pool=pool) == N
    assert [json.loads(line) for line in out.read_text("utf-8").splitlines()] == records


def test_any_article_is_made_again_alone(pool: _generate.Pool, records: list[dict[str, str]]) -> None:
    gen = _generate.Generator(pool, N, 3)
    assert [gen.record(k) for k in (0, 57, N - 1)] == [records[0], records[57], records[N - 1]]


def test_ids_unique_and_fields_valid(records: list[dict[str, str]]) -> None:
    assert len({r["id"] for r in records}) == N
    dates = [r["date"] for r in records]
    assert dates == sorted(dates)
    assert len({d[:4] for d in dates}) >= 5
    assert len({r["source"] for r in records}) >= 3
    for r in records:
        assert set(r) <= {"id", "title", "date", "source", "category", "url", "text"}
        assert r["title"].strip() and r["text"].strip() and r["source"].strip()
        assert r.get("category") is None or r["category"].strip()


def test_reprints_are_true_copies_near_the_share(pool: _generate.Pool) -> None:
    n = 5000  # the share needs more articles than the rest; only the draws are made
    gen = _generate.Generator(pool, n, 3)
    reprints = [k for k in range(n) if gen.is_reprint(k)]
    assert 0.013 <= len(reprints) / n <= 0.027
    for k in reprints[:10]:
        copy, original = gen.record(k), gen.record(gen.original_of(k))
        assert gen.original_of(k) < k and not gen.is_reprint(gen.original_of(k))
        assert (copy["title"], copy["text"]) == (original["title"], original["text"])
        assert copy["id"] != original["id"] and copy["source"] != original["source"]
        assert copy["date"] >= original["date"]


def test_reprints_among_the_records(records: list[dict[str, str]]) -> None:
    copies = Counter((r["title"], r["text"]) for r in records)
    assert 0 < sum(c - 1 for c in copies.values()) <= 0.06 * N


def test_lengths_within_the_real_range(pool: _generate.Pool, records: list[dict[str, str]]) -> None:
    sentences = [pool.starts[i + 1] - pool.starts[i] for i in range(pool.articles)]
    paragraphs = [len(shape) for shape in pool.shapes]
    longest = max(len(s) for s in pool.sentences)
    for r in records:
        parts = r["text"].split("\n")
        assert min(paragraphs) <= len(parts) <= max(paragraphs)
        assert sum(len(_generate.split_sentences(p)) for p in parts) <= max(sentences)
        assert len(r["text"]) <= max(sentences) * longest
    lengths = sorted(len(r["text"]) for r in records)
    real = sorted(len("".join(pool.sentences[pool.starts[i] : pool.starts[i + 1]])) for i in range(pool.articles))
    median, real_median = lengths[N // 2], real[len(real) // 2]
    assert real_median / 2 <= median <= real_median * 2


def test_indexer_reads_them(source: Path, pool: _generate.Pool, tmp_path: Path) -> None:
    out = tmp_path / "gen.jsonl"
    _generate.write(source, N, 3, out, pool=pool)
    report = build_index([out], index_dir=tmp_path / "index", procs=1)
    assert report.indexed == N and not report.skipped
    assert index_stats(index_dir=tmp_path / "index").articles == N
