"""Shared fixtures: the shared data folder, and real indexes built once per session."""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waitress import wasyncore
from web._serve import create_server  # the server python -m web runs (raw UTF-8 request lines)

from indexer import Article, build_index, index_stats, read_sources, settings
from tests import _corpus
from web import create_app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ARTICLES = ROOT / "data" / "articles"
CCTV_SAMPLE_SIZE = 3000
BACKENDS = ("whoosh", "xapian")


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
def sample_shards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sample articles in two Xapian shards served on loopback."""
    with on_backend("xapian", [SAMPLE_ARTICLES], tmp_path_factory.mktemp("sample-shards")) as location:
        yield str(location)


@pytest.fixture(params=BACKENDS)
def sample_location(request: pytest.FixtureRequest) -> Path | str:
    """Where search() finds the sample articles on each backend."""
    return request.getfixturevalue("sample_index" if request.param == "whoosh" else "sample_shards")


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

    def __init__(self, index: Path, sources: list[Path], records: list[dict[str, Any]], truth: _corpus.Truth) -> None:
        self.index = index
        self.sources = sources  # what the index was built from, for the Xapian shards of the same articles
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
    return OwnCorpus(target, [src, SAMPLE_ARTICLES], records, _corpus.Truth(_corpus.from_records(records) + _corpus.from_articles(sample)))


@pytest.fixture(scope="session")
def own_index(own_corpus: OwnCorpus) -> Path:
    return own_corpus.index


@pytest.fixture(scope="session")
def own_shards(own_corpus: OwnCorpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same articles as own_corpus in two Xapian shards, each served by its own xapian-tcpsrv on loopback."""
    with on_backend("xapian", own_corpus.sources, tmp_path_factory.mktemp("own-shards"), procs=2) as location:
        yield str(location)


@pytest.fixture(params=BACKENDS)
def own_location(request: pytest.FixtureRequest) -> Path | str:
    """Where search() finds own_corpus on each backend: its Whoosh folder, or its served shards (xapian://…)."""
    return request.getfixturevalue("own_index" if request.param == "whoosh" else "own_shards")


def tcpsrv() -> str:
    """The xapian-tcpsrv program; skips (fails under CI=true) when it or the Python bindings are missing."""
    found = shutil.which("xapian-tcpsrv") if importlib.util.find_spec("xapian") else None
    if found is None:
        reason = "the Xapian backend needs the xapian extra and Debian's xapian-tools (xapian-tcpsrv)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``xapian-tcpsrv`` on loopback, in its own process group (it forks a child per connection)."""

    def __init__(self, path: str, port: int | None = None) -> None:
        self.path, self.port = path, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.proc = subprocess.Popen([tcpsrv(), "--port", str(self.port), "--interface", "127.0.0.1", self.path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"xapian-tcpsrv did not start on port {self.port}")

    def kill(self) -> None:
        """The whole process group: the connections' children die with the listener."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def signal(self, sig: int) -> None:
        """``sig`` to the whole process group: SIGSTOP stands for a host that stops answering, SIGCONT brings it back."""
        if self.proc is not None:
            os.killpg(self.proc.pid, sig)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.contextmanager
def serving_shards(xapian_dir: Path, replicas: int = 1) -> Iterator[list[list[Server]]]:
    """A server (or ``replicas`` of them) per shard of ``xapian_dir``, all stopped on the way out."""
    from search import _index

    stubs = index_stats(index_dir=xapian_dir).shards
    servers = [[Server(stub) for _ in range(replicas)] for stub in stubs]
    try:
        for group in servers:
            for server in group:
                server.start()
        yield servers
    finally:
        for group in servers:
            for server in group:
                server.kill()
        _index.CACHE.clear()


def shard_location(servers: list[list[Server]]) -> str:
    return "xapian://" + ",".join("|".join(s.address for s in group) for group in servers)


@contextlib.contextmanager
def on_backend(backend: str, sources: Iterable[Path], target: Path, *, procs: int = 1) -> Iterator[Path | str]:
    """An index of ``sources`` on ``backend``: a Whoosh folder, or two Xapian shards served on loopback
    for as long as the block runs; yields the location search() takes."""
    if backend == "whoosh":
        build_index(sources, index_dir=target, procs=procs)
        yield target
        return
    tcpsrv()
    from indexer._xapian import build_shards

    build_shards(sources, index_dir=target, shards=2, procs=procs)
    with serving_shards(target) as servers:
        yield shard_location(servers)


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
            # The listening socket closes and the trigger leaves the loop's map (so the loop ends),
            # but its pipe stays open: the loop may run this thunk, woken by an earlier pull,
            # before pull_trigger below has written to the pipe (closing it here made that
            # write fail with EBADF now and then).
            wasyncore.dispatcher.close(server)
            server.trigger.del_channel()

        server.trigger.pull_trigger(close_all)
        loop.join(10)
        server.trigger.close()
        server.task_dispatcher.shutdown()
        assert not loop.is_alive(), "the waitress loop did not stop"
