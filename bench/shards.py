"""Xapian shards over the network: build time, size and query latency for 1, 2 and 4 shards,
beside the local Whoosh index, on the same articles, in one run.

    python bench/shards.py [--data DIR] [--articles 7000] [--shards 1 2 4] [--queries 200] [--repeat 3]
    python bench/shards.py --generated N [--generator-seed 1] [--local-index DIR | --no-local] ...
    python bench/shards.py --generated N --shard-index DIR --shards 4 2 1 --no-local
    python bench/shards.py --generated N --shard-index DIR --shards --no-local   # as built only

For each shard count, builds the first ``--articles`` CCTV articles into that
many Xapian shards (``python -m indexer rebuild --backend xapian``, timed here,
uncached), serves each shard with its own ``xapian-tcpsrv`` on 127.0.0.1 and
runs ``--queries`` title queries (as ``bench/query.py`` draws them) through
``search(q, index_dir="xapian://…")`` (snippets, facets, exact totals), and
through the local Whoosh index (cached) for comparison; prints build seconds,
size on disk, p50/p95 (median over ``--repeat`` passes), whether every
query's total and tier counts equal the local backend's, and the mean number
of articles a query lists (all tiers). ``--generated N``
takes ``N`` generated articles instead (``bench/_generate.py``, as
``bench/build.py --generated N``), and ``--local-index DIR`` an already built
local index of the same articles instead of the cached one, and ``--no-local``
none (no comparison of totals). ``--shard-index DIR`` takes an already built
Xapian index of the same articles instead of building (the build column says
``-``): it is searched as it is, and each count of ``--shards`` is made by
compacting groups of its shards into that many databases
(``xapian.Database.compact``: database k of n holds the source shards i with
i mod n = k, a partition by the same id hash), so a 1M corpus is built once.
Those sizes are of compacted databases (a build leaves its B-trees partly
filled). On loopback the figures show the protocol and merge cost, not
network latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from pathlib import Path

import xapian
from _common import cached_index, data_dir, generated_corpus, generated_label, median, percentile, served_shards
from query import subset, title_queries

from indexer import index_stats
from indexer._xapian import build_shards
from search import _shards, close_indexes, search


def timed(location: str, queries: list[str], repeat: int) -> tuple[float, float, list[tuple[int, int, int]]]:
    p50s, p95s, counts = [], [], []
    for _ in range(repeat):
        close_indexes()
        search(queries[0], index_dir=location)  # the first query: connections and dictionaries
        times, counts = [], []
        for q in queries:
            started = time.perf_counter()
            res = search(q, index_dir=location, per_page=10)
            times.append(time.perf_counter() - started)
            counts.append((res.total, res.query_info.regional_total, res.query_info.partial_total))
        p50s.append(median(times) * 1000)
        p95s.append(percentile(times, 95) * 1000)
    return median(p50s), median(p95s), counts


def regrouped(databases: list[str], n: int, folder: Path) -> list[str]:
    """The ``databases`` merged into ``n`` compacted ones in ``folder`` (metadata kept: the
    vocabulary of shard 0 stays in the first)."""
    out = []
    for k in range(n):
        combined = xapian.Database()
        for path in databases[k::n]:
            combined.add_database(xapian.Database(path))
        target = folder / f"shard-{k}"
        combined.compact(str(target))
        combined.close()
        out.append(str(target))
    return out


def size_mb(paths: list[str]) -> float:
    return sum(f.stat().st_size for p in paths for f in Path(p).rglob("*") if f.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data")
    parser.add_argument("--articles", type=int, default=7000)
    parser.add_argument("--shards", type=int, nargs="*", default=[1, 2, 4],
                        help="shard counts (with --shard-index, none: only the index as built)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11, help="the queries' seed")
    parser.add_argument("--generated", type=int, default=0, help="N generated articles instead of the CCTV ones")
    parser.add_argument("--generator-seed", type=int, default=1, help="with --generated: the generator's seed")
    parser.add_argument("--local-index", help="a built local index of the same articles (default: the cached one)")
    parser.add_argument("--no-local", action="store_true", help="no local index: no comparison of totals")
    parser.add_argument("--shard-index", help="a built Xapian index of the same articles: compacted and regrouped, not built")
    parser.add_argument("--timeout-ms", type=int, default=_shards.timeout_ms(),
                        help="the remote timeout (default: ZHSEARCH_SHARD_TIMEOUT_MS, else the product's); a shard slower than this fails the query")
    args = parser.parse_args()
    os.environ["ZHSEARCH_SHARD_TIMEOUT_MS"] = str(args.timeout_ms)
    source = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    if args.generated:
        corpus = generated_corpus(source, args.generated, args.generator_seed)
        label = generated_label(args.generated, args.generator_seed)
    else:
        corpus = subset(source, args.articles)
        label = corpus.stem
    queries = title_queries(corpus, count=args.queries, seed=args.seed)
    truth = None
    print(f"{'backend':<14} {'build s':>8} {'size MB':>8} {'p50 ms':>7} {'p95 ms':>7}  {'totals equal':<12} {'matches':>9}")
    if not args.no_local:
        local = args.local_index or cached_index(corpus, label=label)
        p50, p95, truth = timed(str(local), queries, args.repeat)
        print(f"{'whoosh':<14} {'-':>8} {index_stats(index_dir=local).bytes_on_disk / 2**20:>8.0f} {p50:>7.1f} {p95:>7.1f}  -")

    def report(name: str, seconds: float | None, size: float, databases: list[str]) -> None:
        with served_shards(databases) as location:
            p50, p95, counts = timed(location, queries, args.repeat)
        same = "-" if truth is None else f"{sum(a == b for a, b in zip(counts, truth))}/{len(queries)}"
        built = "-" if seconds is None else f"{seconds:.1f}"
        matches = sum(sum(c) for c in counts) / max(1, len(counts))
        print(f"{name:<14} {built:>8} {size:>8.0f} {p50:>7.1f} {p95:>7.1f}  {same:<12} {matches:>9,.0f}", flush=True)

    if args.shard_index:
        stats = index_stats(index_dir=args.shard_index)
        source = list(stats.shard_databases)
        report(f"xapian {len(source)} shard", None, stats.bytes_on_disk / 2**20, list(stats.shards))
        for n in args.shards:
            with tempfile.TemporaryDirectory(prefix=f"zhsearch-regroup{n}-", dir=Path(args.shard_index).parent) as folder:
                started = time.perf_counter()
                databases = regrouped(source, n, Path(folder))
                print(f"  ({len(source)} shards compacted into {n} in {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
                report(f"compacted {n}", None, size_mb(databases), databases)
    else:
        for n in args.shards:
            with tempfile.TemporaryDirectory(prefix=f"zhsearch-shards{n}-") as folder:
                started = time.perf_counter()
                build_shards([corpus], index_dir=folder, shards=n)
                seconds = time.perf_counter() - started
                stats = index_stats(index_dir=folder)
                report(f"xapian {n} shard", seconds, stats.bytes_on_disk / 2**20, list(stats.shards))
    close_indexes()


if __name__ == "__main__":
    sys.exit(main())
