"""The web under load: a few concurrent clients for a fixed time against waitress on loopback.

Only zero errors and some throughput are asserted; requests/s and the 95th percentile
latency are printed and recorded (``record_property``), never asserted: they depend on the machine.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from indexer import build_index
from tests.conftest import serving
from tests.test_faults import Client, corpus, write_jsonl

CLIENTS = 4
SECONDS = 5.0
SERVER_THREADS = 4
QUERIES = ["经济 合作", "哈尔滨", '"高速列车"', "冷链 -医院", "title:丰收", "qiqihaer", "教育 OR 医疗", "完全没有的词"]


@pytest.fixture(scope="module")
def load_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("load")
    build_index([write_jsonl(work / "articles.jsonl", corpus(300, seed=31))], index_dir=work / "index", procs=1)
    return work / "index"


def request_mix() -> list[str]:
    """What people do: search (API and page), page on, sort, filter, complete, open an article."""
    paths = [f"/api/search?{urlencode({'q': q})}" for q in QUERIES]
    paths += [f"/?{urlencode({'q': q})}" for q in QUERIES[:4]]
    paths += ["/api/search?" + urlencode({"q": "经济", "page": 2}),
              "/api/search?" + urlencode({"q": "经济", "sort": "date", "source": "央视网"})]
    paths += [f"/api/suggest?{urlencode({'q': p})}" for p in ("ha", "jj", "经", "hae")]
    paths += [f"/article/{quote(f'a{n:04d}')}" for n in (1, 50, 150)] + ["/api/article/a0002"]
    return paths


def test_web_under_load(load_index: Path, record_property: Any) -> None:
    paths = request_mix()
    latencies: list[float] = []
    errors: list[str] = []
    with serving(load_index, threads=SERVER_THREADS) as base_url:
        warm = Client(base_url)
        try:
            for path in paths:  # every request of the mix works before the clock starts
                status, body = warm.get(path)
                assert status == 200, (path, status, body[:300])
        finally:
            warm.close()
        start = threading.Barrier(CLIENTS + 1)

        def client_loop(offset: int) -> None:
            client, n = Client(base_url), offset
            try:
                start.wait()
                deadline = time.monotonic() + SECONDS
                while time.monotonic() < deadline:
                    path = paths[n % len(paths)]
                    n += 1
                    began = time.perf_counter()
                    try:
                        status, body = client.get(path)
                        if status != 200:
                            errors.append(f"{path} -> {status}: {body[:200]!r}")
                    except Exception as exc:
                        errors.append(f"{path} -> {type(exc).__name__}: {exc}")
                    latencies.append(time.perf_counter() - began)
            finally:
                client.close()

        threads = [threading.Thread(target=client_loop, args=(i * 5,), name=f"load-{i}") for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.monotonic()
        for thread in threads:
            thread.join(SECONDS + 60)
        elapsed = time.monotonic() - began
    assert not any(thread.is_alive() for thread in threads)
    rps = len(latencies) / elapsed
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    p95 = statistics.quantiles(latencies, n=20)[18] * 1000 if len(latencies) > 1 else 0.0
    print(f"\nweb under load: {CLIENTS} clients x {SECONDS:.0f} s, {SERVER_THREADS} waitress threads: "
          f"{len(latencies)} requests, {rps:.1f} requests/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms, {len(errors)} errors")
    record_property("requests", len(latencies))
    record_property("requests_per_second", round(rps, 1))
    record_property("p50_ms", round(p50, 1))
    record_property("p95_ms", round(p95, 1))
    record_property("errors", len(errors))
    assert not errors, "\n".join(errors[:20])
    assert latencies and rps > 0
