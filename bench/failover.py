"""Shard servers killed under load: what readers of a real ``python -m web`` see.

    python bench/failover.py [--data DIR] [--articles 7000] [--shards 3] [--clients 4] [--seconds 8]

Builds (cached) ``--shards`` Xapian shards of the first ``--articles`` CCTV
articles, serves each with two ``xapian-tcpsrv`` replicas on 127.0.0.1 (both on
the same database: the protocol's view of a copy kept by ``xapian-replicate``),
starts ``python -m web`` on ``xapian://a|a',b|b',...`` and keeps ``--clients``
threads sending ``/api/search`` requests (2–3 word title queries) through four
phases of ``--seconds`` each:

1. every server up;
2. the first replica of shard 0 killed (its whole process group, open
   connections included): the web front must fail over with no error;
3. both replicas of shard 1 killed as well: results must come back partial
   (``unavailable_shards``), never a 5xx or a hang;
4. shard 1's servers started again on the same ports: full results again.

Per phase: requests, HTTP 5xx, other failures (timeouts, refused), partial
answers, p50 / p95 / max latency. Nothing is asserted (``tests/test_xapian.py``
asserts the behaviour).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from _common import ROOT, ShardServer, cached_index, data_dir, free_port, median, percentile
from query import subset, title_queries

from indexer import index_stats

REQUEST_TIMEOUT = 10.0  # a request slower than this counts as a failure (a hang)


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"python -m web exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=%E7%BB%8F%E6%B5%8E", timeout=5):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise SystemExit("python -m web did not answer within 60 s")


class Load:
    """``clients`` threads sending queries in turn; each phase collects its own outcomes."""

    def __init__(self, port: int, queries: list[str], clients: int) -> None:
        self.port, self.queries = port, queries
        self.lock = threading.Lock()
        self.outcomes: list[tuple[float, str]] = []  # (seconds, "ok" | "partial" | "5xx" | "failed")
        self.errors: list[str] = []  # the first lines of each 5xx answer, shown at the end
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(clients)]

    def _run(self, k: int) -> None:
        n = k
        while not self.stop.is_set():
            q = self.queries[n % len(self.queries)]
            n += len(self.threads)
            url = f"http://127.0.0.1:{self.port}/api/search?q={urllib.parse.quote(q)}"
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as resp:
                    body = json.loads(resp.read())
                kind = "partial" if body.get("unavailable_shards") else "ok"
            except urllib.error.HTTPError as exc:
                kind = "5xx" if exc.code >= 500 else f"{exc.code}"
                with self.lock:
                    self.errors.append(f"{exc.code}: {exc.read()[:300].decode('utf-8', 'replace')}")
            except (OSError, ValueError):
                kind = "failed"
            with self.lock:
                self.outcomes.append((time.perf_counter() - started, kind))

    def phase(self, seconds: float) -> list[tuple[float, str]]:
        with self.lock:
            self.outcomes = []
        time.sleep(seconds)
        with self.lock:
            return list(self.outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data")
    parser.add_argument("--articles", type=int, default=7000)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11, help="the queries' seed")
    args = parser.parse_args()
    if args.shards < 2:
        raise SystemExit("--shards must be at least 2 (one shard stays up, one is lost)")
    corpus = subset(data_dir(args.data) / "cctv-xwlb" / "articles.jsonl", args.articles)
    folder = cached_index(corpus, label=f"{corpus.stem}-xapian{args.shards}", shards=args.shards)
    queries = title_queries(corpus, count=args.queries, seed=args.seed)
    servers = [[ShardServer(stub), ShardServer(stub)] for stub in index_stats(index_dir=folder).shards]
    web = None
    load = None
    try:
        for pair in servers:
            for server in pair:
                server.start()
        location = "xapian://" + ",".join("|".join(s.address for s in pair) for pair in servers)
        port = free_port()
        web = subprocess.Popen([sys.executable, "-m", "web", "--index-dir", location, "--host", "127.0.0.1",
                                "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(port, web)
        load = Load(port, queries, args.clients)
        for thread in load.threads:
            thread.start()
        load.phase(2.0)  # warm-up: every server thread connected
        print(f"{args.articles} articles, {args.shards} shards x 2 replicas, {args.clients} clients, {args.seconds:.0f} s a phase")
        print(f"{'phase':<34} {'requests':>8} {'5xx':>4} {'failed':>6} {'partial':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
        phases = [
            ("every server up", lambda: None),
            ("shard 0: replica 1 killed", lambda: servers[0][0].kill()),
            ("shard 1: both replicas killed", lambda: [s.kill() for s in servers[1]]),
            ("shard 1: both started again", lambda: [s.start() for s in servers[1]]),
        ]
        for name, action in phases:
            action()
            outcomes = load.phase(args.seconds)
            times = [t * 1000 for t, _ in outcomes]
            count = {kind: sum(1 for _, k in outcomes if k == kind) for kind in ("5xx", "failed", "partial")}
            print(f"{name:<34} {len(outcomes):>8} {count['5xx']:>4} {count['failed']:>6} {count['partial']:>7} "
                  f"{median(times):>7.1f} {percentile(times, 95):>7.1f} {max(times, default=float('nan')):>7.1f}", flush=True)
        for error in dict.fromkeys(load.errors):
            print(f"  answered {error!r}")
    finally:
        if load is not None:
            load.stop.set()
            for thread in load.threads:
                thread.join(timeout=REQUEST_TIMEOUT + 1)
        if web is not None:
            web.terminate()
            try:
                web.wait(timeout=10)
            except subprocess.TimeoutExpired:
                web.kill()
                web.wait()
        for pair in servers:
            for server in pair:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
