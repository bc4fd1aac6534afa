"""Shared fixtures: the shared data folder, and real indexes built once per session."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web._serve import create_server  # the server python -m web runs (raw UTF-8 request lines)

from indexer import Article, build_index, read_sources, settings
from tests import _corpus
from web import create_app

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
    build_index([SAMPLE_ARTICLES], index_dir=target, procs=1)
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
    build_index([seeds, subset], index_dir=target, procs=2)
    return target


class OwnCorpus:
    """An index of our own articles (generated plus the shipped sample) and their brute-force truth."""

    def __init__(self, index: Path, records: list[dict[str, Any]], truth: _corpus.Truth) -> None:
        self.index = index
        self.records = records  # the generated articles, as written to JSONL
        self.truth = truth  # every article of the index, generated and sample


@pytest.fixture(scope="session")
def own_corpus(tmp_path_factory: pytest.TempPathFactory) -> OwnCorpus:
    """The generated corpus (tests/_corpus.py) plus data/articles, indexed in two segments (procs=2)."""
    records = _corpus.generate()
    src = _corpus.write_jsonl(tmp_path_factory.mktemp("own-src") / "generated.jsonl", records)
    target = tmp_path_factory.mktemp("own-index")
    report = build_index([src, SAMPLE_ARTICLES], index_dir=target, procs=2)
    sample = [a for a in read_sources([SAMPLE_ARTICLES]) if isinstance(a, Article)]
    assert not report.skipped and report.indexed == len(records) + len(sample)
    return OwnCorpus(target, records, _corpus.Truth(_corpus.from_records(records) + _corpus.from_articles(sample)))


@pytest.fixture(scope="session")
def own_index(own_corpus: OwnCorpus) -> Path:
    return own_corpus.index


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@contextlib.contextmanager
def serving(index_dir: Path, *, threads: int = 4) -> Iterator[str]:
    """A waitress server for ``create_app({"INDEX_DIR": index_dir})`` on a free 127.0.0.1 port; yields its URL."""
    server: Any = create_server(create_app({"INDEX_DIR": index_dir}), host="127.0.0.1", port=0, threads=threads)
    loop = threading.Thread(target=server.run, name="waitress-loop", daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:

        def close_all() -> None:  # runs inside the server's own loop thread
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.close()
            server.close()

        server.trigger.pull_trigger(close_all)
        loop.join(10)
        server.task_dispatcher.shutdown()
        assert not loop.is_alive(), "the waitress loop did not stop"
