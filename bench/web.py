"""Throughput and latency of ``/api/search`` under concurrent clients, through a real waitress server;
with ``--soak``, the memory of a real ``python -m web`` process over a long run of varied requests.

    python bench/web.py [--index-dir DIR] [--data DIR] [--clients 4] [--seconds 10] [--max-requests 20000]
    python bench/web.py --soak 300 [--index-dir DIR] [--baseline-code DIR --baseline-index-dir DIR]
    python bench/web.py --workers 1,2 [--client-counts 4,8] [--seconds 20] [--index-dir DIR]

Serves the app with waitress on 127.0.0.1 (a free port) over ``--index-dir``, by
default a cached index of the seeds and the CCTV news. After a short warm-up
(every server thread opens its own searcher), ``--clients`` threads, each on
one keep-alive connection, send queries of 2–3 words drawn (seeded) from CCTV
titles until the time or the request budget runs out. Prints requests/s,
p50/p95/p99 latency and the error count, next to the in-process ``search()``
latency of the same queries; nothing is asserted.

The soak starts ``python -m web`` as its own process (the code of this checkout,
or of ``--baseline-code``, a checkout of another commit, for a side-by-side run
one after the other), sends a varied mix (2–3 word title queries, single
characters, quoted substrings, later pages, date sorting, year filters, article
pages) from ``--clients`` keep-alive connections for ``--soak`` seconds, and
samples the server's RSS, PSS and anonymous memory from ``/proc`` every
``--sample`` seconds.

``--workers 1,2`` starts ``python -m web --workers N`` for each N in turn and
runs each of ``--client-counts`` against it (after a warm-up that reaches every
worker), printing requests/s, p50/p95 and errors side by side.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

from _common import ROOT, cached_index, data_dir, median, percentile

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


def api_answered(status: int, body: bytes) -> bool:
    """A ``/api/search`` answer: 200 with the JSON envelope's ``ok``."""
    try:
        return status == 200 and json.loads(body).get("ok") is True
    except ValueError:
        return False


def page_answered(status: int, body: bytes) -> bool:
    """Any page of the mix: a page past the last redirects to the last; an unknown article is a 404."""
    return status in (200, 302, 303, 404)


def client(port: int, paths: list[str], budget: Budget, seed: int, latencies: list[float], errors: list[str],
           answered: Callable[[int, bytes], bool] = api_answered) -> None:
    """One keep-alive connection sending ``paths`` (drawn at random) while the budget lasts."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        while budget.take():
            path = rng.choice(paths)
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                if not answered(response.status, response.read()):
                    errors.append(f"{response.status} {path}")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
                continue
            latencies.append(time.perf_counter() - started)
    finally:
        conn.close()


def run_clients(port: int, queries: list[str], *, clients: int, seconds: float, max_requests: int,
                seed: int) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    budget = Budget(seconds, max_requests)
    paths = ["/api/search?q=" + quote(q) for q in queries]
    threads = [threading.Thread(target=client, args=(port, paths, budget, seed + n, latencies, errors))
               for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


# ---- the memory soak ---------------------------------------------------------------------------


def soak_paths(cctv: Path, *, count: int, seed: int) -> list[str]:
    """A varied request mix over the CCTV titles and ids."""
    records = [json.loads(line) for line in cctv.read_text("utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    words = title_queries(cctv, count=count, seed=seed)
    paths: list[str] = []
    while len(paths) < count:
        record = rng.choice(records)
        title = record.get("title") or "新闻"
        kind = rng.random()
        if kind < 0.35:
            params = {"q": rng.choice(words)}
        elif kind < 0.45:
            params = {"q": rng.choice(title)}
        elif kind < 0.6:
            start = rng.randrange(max(1, len(title) - 3))
            params = {"q": f'"{title[start:start + rng.choice((2, 3, 4))]}"'}
        elif kind < 0.7:
            params = {"q": rng.choice(words), "page": str(rng.choice((2, 3, 5)))}
        elif kind < 0.8:
            params = {"q": rng.choice(words), "sort": "date"}
        elif kind < 0.9:
            params = {"q": rng.choice(words), "year": str(rng.choice(range(2016, 2024)))}
        else:
            paths.append("/article/" + quote(str(record.get("id")), safe=""))
            continue
        paths.append(("/api/search?" if rng.random() < 0.5 else "/?") + urlencode(params))
    return paths


def memory_of(pid: int) -> dict[str, float]:
    """The process's RSS, PSS and anonymous memory in MB (Linux ``/proc``)."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss", "Anonymous"):
                out[name.lower()] = int(rest.split()[0]) / 1024
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(code: Path, index: Path, *, threads: int, workers: int = 1) -> tuple[subprocess.Popen[bytes], int]:
    """``python -m web`` of ``code`` over ``index`` on a free loopback port, once it accepts connections."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(code)}
    server = subprocess.Popen(
        [sys.executable, "-m", "web", "--index-dir", str(index), "--port", str(port), "--threads", str(threads),
         "--workers", str(workers)],
        cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection((HOST, port), timeout=2).close()
            return server, port
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop_server(server)
                raise SystemExit(f"the server did not start: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    if server.stderr is not None:
        server.stderr.close()


def soak(code: Path, index: Path, paths: list[str], *, clients: int, seconds: float, sample: float,
         threads: int) -> tuple[list[tuple[float, dict[str, float]]], list[float], list[str]]:
    """Run ``python -m web`` of ``code`` over ``index`` under the request mix; memory samples over time."""
    server, port = start_server(code, index, threads=threads)
    try:
        samples = [(0.0, memory_of(server.pid))]
        latencies: list[float] = []
        errors: list[str] = []
        budget = Budget(seconds, 10**9)
        threads_ = [threading.Thread(target=client, args=(port, paths, budget, n, latencies, errors, page_answered))
                    for n in range(clients)]
        started = time.perf_counter()
        for thread in threads_:
            thread.start()
        while any(t.is_alive() for t in threads_):
            time.sleep(min(sample, 1.0))
            now = time.perf_counter() - started
            if now - samples[-1][0] >= sample:
                samples.append((now, memory_of(server.pid)))
        for thread in threads_:
            thread.join()
        samples.append((time.perf_counter() - started, memory_of(server.pid)))
        return samples, latencies, errors
    finally:
        stop_server(server)


def main_workers(args: argparse.Namespace, cctv: Path, index: Path) -> None:
    queries = title_queries(cctv, count=2000, seed=args.seed)
    counts = [int(n) for n in args.workers.split(",")]
    clients = [int(n) for n in args.client_counts.split(",")]
    print(f"python -m web --workers N over {index}, {args.threads} threads per process, {args.seconds:.0f} s per run")
    print(f"medians of {args.repeat} runs; errors summed")
    print("workers  clients  requests/s    p50 ms   p95 ms   errors")
    for workers in counts:
        server, port = start_server(ROOT, index, threads=args.threads, workers=workers)
        try:
            run_clients(port, queries, clients=8 * workers, seconds=4.0, max_requests=200 * workers,
                        seed=args.seed + 1000)  # warm-up: every worker opens the index and loads jieba
            for n in clients:
                rates, p50s, p95s, failed = [], [], [], 0
                for run in range(args.repeat):
                    latencies, errors, elapsed = run_clients(port, queries, clients=n, seconds=args.seconds,
                                                             max_requests=args.max_requests, seed=args.seed + run)
                    ms = [t * 1000 for t in latencies]
                    rates.append(len(latencies) / elapsed)
                    p50s.append(percentile(ms, 50))
                    p95s.append(percentile(ms, 95))
                    failed += len(errors)
                print(f"{workers:>7}  {n:>7}  {median(rates):>10.1f}  {median(p50s):>8.1f}  "
                      f"{median(p95s):>7.1f}  {failed:>7}")
        finally:
            stop_server(server)


def print_soak(label: str, samples: list[tuple[float, dict[str, float]]], latencies: list[float], errors: list[str]) -> None:
    ms = [t * 1000 for t in latencies]
    elapsed = samples[-1][0] or 1.0
    print(f"{label}: {len(latencies)} requests in {elapsed:.0f} s ({len(latencies) / elapsed:.1f}/s), "
          f"{len(errors)} errors, p50 {median(ms):.1f} ms, p95 {percentile(ms, 95):.1f} ms")
    print("   t (s)   RSS MB   PSS MB  anon MB")
    for at, mem in samples:
        print(f"  {at:6.0f}  {mem['rss']:7.0f}  {mem['pss']:7.0f}  {mem['anonymous']:7.0f}")
    late = [mem["rss"] for at, mem in samples if at >= elapsed / 5]
    if late:
        print(f"  RSS over the last {elapsed * 4 / 5:.0f} s: {min(late):.0f}–{max(late):.0f} MB "
              f"(growth {late[-1] - late[0]:+.0f} MB); at the end {samples[-1][1]['rss']:.0f} MB")
    for error in errors[:5]:
        print(f"  error: {error}")


def main_soak(args: argparse.Namespace, root: Path, cctv: Path, index: Path) -> None:
    paths = soak_paths(cctv, count=5000, seed=args.seed)
    runs = []
    if args.baseline_code:
        runs.append(("baseline " + str(args.baseline_code), Path(args.baseline_code), args.baseline_index_dir or index))
    runs.append(("this checkout", ROOT, index))
    print(f"soak: {args.clients} clients x {args.soak:.0f} s, {args.threads} waitress threads, over {index}")
    for label, code, ix in runs:
        samples, latencies, errors = soak(code, Path(ix), paths, clients=args.clients, seconds=args.soak,
                                          sample=args.sample, threads=args.threads)
        print_soak(label, samples, latencies, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, help="index to serve (default: cached index of seeds + CCTV news)")
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default: 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to run (default: 10)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="stop after this many requests")
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads (default: 8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--soak", type=float, default=0.0, help="run the memory soak for this many seconds")
    parser.add_argument("--workers", help="compare python -m web --workers N for these N (comma-separated)")
    parser.add_argument("--client-counts", default="4,8", help="--workers: client counts to run (default: 4,8)")
    parser.add_argument("--repeat", type=int, default=3, help="--workers: runs per setting, the median printed")
    parser.add_argument("--sample", type=float, default=30.0, help="soak: seconds between memory samples")
    parser.add_argument("--baseline-code", help="soak: a checkout of another commit to run first, side by side")
    parser.add_argument("--baseline-index-dir", help="soak: the index the baseline serves (default: --index-dir)")
    args = parser.parse_args()

    root = data_dir(args.data)
    cctv = root / "cctv-xwlb" / "articles.jsonl"
    index = args.index_dir or cached_index(root / "seeds", cctv, label="news")
    if args.soak:
        main_soak(args, root, cctv, index)
        return
    if args.workers:
        main_workers(args, cctv, index)
        return
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
