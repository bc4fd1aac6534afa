"""Shared fixtures: the shared data folder, and real indexes built once per session."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from indexer import build_index, settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ARTICLES = ROOT / "data" / "articles"
CCTV_SAMPLE_SIZE = 3000


def _data_root() -> Path:
    path = settings.data_dir()
    return path if path.is_absolute() else (ROOT / path).resolve()


def require_data(*parts: str) -> Path:
    """A folder or file of the shared data; skip when absent, fail under CI=true."""
    path = _data_root().joinpath(*parts)
    if not path.exists():
        reason = f"shared data {path} not found (set ZHSEARCH_DATA)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    return require_data()


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return require_data("seeds")


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the project's own sample articles (data/articles)."""
    target = tmp_path_factory.mktemp("sample-index")
    build_index([SAMPLE_ARTICLES], target, procs=1)
    return target


@pytest.fixture(scope="session")
def news_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index: the two seeds plus the first CCTV_SAMPLE_SIZE CCTV news articles."""
    seeds = require_data("seeds")
    cctv = require_data("cctv-xwlb", "articles.jsonl")
    work = tmp_path_factory.mktemp("news-src")
    subset = work / "cctv.jsonl"
    with cctv.open(encoding="utf-8") as src, subset.open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, CCTV_SAMPLE_SIZE))
    target = tmp_path_factory.mktemp("news-index")
    build_index([seeds, subset], target, procs=2)
    return target


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
