"""Shared helpers of the benchmark scripts: where the data is, cached index builds."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer import ANALYZER_VERSION, build_index  # noqa: E402
from indexer import settings  # noqa: E402
from indexer.schema import SCHEMA_VERSION  # noqa: E402

CACHE = Path(os.environ.get("ZHSEARCH_BENCH_CACHE", "/tmp/zhsearch-bench"))


def data_dir(arg: str | None = None) -> Path:
    path = Path(arg) if arg else settings.data_dir()
    if not path.is_absolute():
        path = (ROOT / path).resolve() if not path.exists() else path.resolve()
    if not path.is_dir():
        raise SystemExit(f"data folder {path} not found: set ZHSEARCH_DATA or pass --data")
    return path


def index_cache_path(*sources: Path, label: str, shards: int = 0) -> Path:
    """Where ``cached_index`` keeps the index of ``sources`` (of ``shards`` Xapian shards, when given)."""
    digest = hashlib.sha1(f"{ANALYZER_VERSION}/{SCHEMA_VERSION}".encode() + (f"/xapian{shards}".encode() if shards else b""))
    digest.update((ROOT / "indexer" / "_codec.py").read_bytes() + (ROOT / "indexer" / "postings.py").read_bytes())  # the on-disk layout of the postings
    if shards:
        digest.update((ROOT / "indexer" / "xapianformat.py").read_bytes() + (ROOT / "indexer" / "_xapian.py").read_bytes())
    for src in sources:
        stat = src.stat()
        digest.update(f"{src.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return CACHE / f"{label}-{digest.hexdigest()[:12]}"


def cached_index(*sources: Path, label: str, procs: int | None = None, shards: int = 0) -> Path:
    """An index of ``sources`` built once per content and analyzer version; with ``shards``,
    of that many Xapian shards (``--backend xapian``)."""
    target = index_cache_path(*sources, label=label, shards=shards)
    if not (target / "CURRENT").exists():
        print(f"building index of {', '.join(s.name for s in sources)} into {target} …", file=sys.stderr)
        if shards:
            from indexer._xapian import build_shards

            report = build_shards(sources, index_dir=target, shards=shards, procs=procs)
        else:
            report = build_index(sources, index_dir=target, procs=procs)
        print(f"  {report.indexed} articles in {report.seconds:.1f} s", file=sys.stderr)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ShardServer:
    """One ``xapian-tcpsrv`` serving ``path`` on 127.0.0.1, in its own process group: ``kill`` takes
    the children it forked per connection too, and ``start`` brings it back on the same port."""

    def __init__(self, path: str) -> None:
        self.path, self.port = path, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ShardServer:
        self.proc = subprocess.Popen(["xapian-tcpsrv", "--port", str(self.port), "--interface", "127.0.0.1", self.path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise SystemExit(f"xapian-tcpsrv did not start on port {self.port} (Debian: apt-get install xapian-tools)")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.contextmanager
def served_shards(stubs: list[str]) -> Iterator[str]:
    """One ``xapian-tcpsrv`` per shard stub on 127.0.0.1 (``ShardServer``), all killed on the way out;
    yields the ``xapian://`` location."""
    servers = [ShardServer(stub) for stub in stubs]
    try:
        for server in servers:
            server.start()
        yield "xapian://" + ",".join(server.address for server in servers)
    finally:
        for server in servers:
            server.kill()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def generated_label(n: int, seed: int) -> str:
    """The cache label of the index of a generated corpus (``bench/build.py`` and ``bench/query.py``)."""
    return f"gen{n}s{seed}"


def generated_corpus(source: Path, n: int, seed: int) -> Path:
    """``n`` articles generated from ``source`` (``bench/_generate.py``) in the cache folder, written
    once per generator version, source file, size and seed (a stable mtime keeps index caches valid)."""
    from _generate import VERSION, write

    stat = source.stat()
    digest = hashlib.sha1(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    target = CACHE / f"generated-{n}-s{seed}-v{VERSION}-{digest.hexdigest()[:10]}.jsonl"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        print(f"generating {n} articles (seed {seed}) into {target} …", file=sys.stderr, flush=True)
        write(source, n, seed, partial)
        partial.replace(target)
    return target
