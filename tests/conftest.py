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

from indexer import build_index, settings
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
