"""Throughput and latency of ``/api/search`` under concurrent clients, through a real waitress server.

    python bench/web.py [--index-dir DIR] [--data DIR] [--clients 4] [--seconds 10] [--max-requests 20000]

Serves the app with waitress on 127.0.0.1 (a free port) over ``--index-dir``, by
default a cached index of the seeds and the CCTV news. After a short warm-up
(every server thread opens its own searcher), ``--clients`` threads, each on
one keep-alive connection, send queries of 2–3 words drawn (seeded) from CCTV
titles until the time or the request budget runs out. Prints requests/s,
p50/p95/p99 latency and the error count, next to the in-process ``search()``
latency of the same queries; nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote

from _common import cached_index, data_dir, percentile

import waitress

from indexer import ChineseAnalyzer
from search import search
from web import create_app

HOST = "127.0.0.1"
BASELINE_QUERIES = 50
_HAN_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")


def title_queries(cctv: Path, *, count: int, seed: int) -> list[str]:
    """``count`` queries of 2–3 words, each from one CCTV title."""
    titles = [json.loads(line).get("title") or "" for line in cctv.read_text("utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    analyzer = ChineseAnalyzer()
    queries: list[str] = []
    while len(queries) < count:
        words = list(dict.fromkeys(t.text for t in analyzer(rng.choice(titles), mode="query")))
        words = [w for w in words if _HAN_WORD.fullmatch(w)]
        if len(words) >= 2:
            queries.append(" ".join(rng.sample(words, min(len(words), rng.choice((2, 3))))))
    return queries


def in_process(index: Path, queries: list[str]) -> list[float]:
    """Milliseconds per ``search()`` call without HTTP, for comparison."""
    search(queries[0], index_dir=index)  # open the index, load the dictionary
    out = []
    for q in queries:
        started = time.perf_counter()
        search(q, index_dir=index)
        out.append((time.perf_counter() - started) * 1000)
    return out


class Budget:
    """Hands out request tickets until the deadline or the maximum count."""

    def __init__(self, seconds: float, max_requests: int) -> None:
        self.deadline = time.perf_counter() + seconds
        self.left = max_requests
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0 or time.perf_counter() >= self.deadline:
                return False
            self.left -= 1
            return True


def client(port: int, queries: list[str], budget: Budget, seed: int, latencies: list[float], errors: list[str]) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        while budget.take():
            path = "/api/search?q=" + quote(rng.choice(queries))
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200 and json.loads(body).get("ok") is True
                if not ok:
                    errors.append(f"{response.status} {path}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            latencies.append(time.perf_counter() - started)
    finally:
        conn.close()


def run_clients(port: int, queries: list[str], *, clients: int, seconds: float, max_requests: int,
                seed: int) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    budget = Budget(seconds, max_requests)
    threads = [threading.Thread(target=client, args=(port, queries, budget, seed + n, latencies, errors))
               for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, help="index to serve (default: cached index of seeds + CCTV news)")
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default: 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to run (default: 10)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="stop after this many requests")
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads (default: 8)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    root = data_dir(args.data)
    cctv = root / "cctv-xwlb" / "articles.jsonl"
    index = args.index_dir or cached_index(root / "seeds", cctv, label="news")
    queries = title_queries(cctv, count=2000, seed=args.seed)
    direct = in_process(index, queries[:BASELINE_QUERIES])

    server = waitress.create_server(create_app({"INDEX_DIR": index}), host=HOST, port=0, threads=args.threads)
    port = server.effective_port  # type: ignore[union-attr]
    serving = threading.Thread(target=server.run, name="waitress", daemon=True)
    serving.start()
    try:
        run_clients(port, queries, clients=max(args.clients, args.threads), seconds=2.0,
                    max_requests=4 * args.threads, seed=args.seed + 1000)  # warm-up: open every thread's searcher
        latencies, errors, elapsed = run_clients(port, queries, clients=args.clients, seconds=args.seconds,
                                                 max_requests=args.max_requests, seed=args.seed)
    finally:
        server.close()
    ms = [t * 1000 for t in latencies]
    print(f"index       {index}")
    print(f"server      waitress on {HOST}:{port}, {args.threads} threads")
    print(f"load        {args.clients} clients, {elapsed:.1f} s, {len(latencies) + len(errors)} requests, "
          f"{len(errors)} errors")
    print(f"throughput  {len(latencies) / elapsed:.1f} requests/s")
    print(f"latency ms  p50 {percentile(ms, 50):.1f}  p95 {percentile(ms, 95):.1f}  "
          f"p99 {percentile(ms, 99):.1f}  max {max(ms, default=float('nan')):.1f}")
    print(f"baseline    search() in-process, one thread: p50 {percentile(direct, 50):.1f} ms, "
          f"p95 {percentile(direct, 95):.1f} ms over {len(direct)} queries")
    for error in errors[:5]:
        print(f"  error: {error}")


if __name__ == "__main__":
    main()
