"""Xapian shards over the network: build time, size and query latency for 1, 2 and 4 shards,
beside the local Whoosh index, on the same articles, in one run.

    python bench/shards.py [--data DIR] [--articles 7000] [--shards 1 2 4] [--queries 200] [--repeat 3]
    python bench/shards.py --generated N [--generator-seed 1] [--local-index DIR] ...

For each shard count, builds the first ``--articles`` CCTV articles into that
many Xapian shards (``python -m indexer rebuild --backend xapian``, timed here,
uncached), serves each shard with its own ``xapian-tcpsrv`` on 127.0.0.1 and
runs ``--queries`` title queries (as ``bench/query.py`` draws them) through
``search(q, index_dir="xapian://…")`` (snippets, facets, exact totals), and
through the local Whoosh index (cached) for comparison; prints build seconds,
size on disk, p50/p95 (median over ``--repeat`` passes) and whether every
query's total and tier counts equal the local backend's. ``--generated N``
takes ``N`` generated articles instead (``bench/_generate.py``, as
``bench/build.py --generated N``), and ``--local-index DIR`` an already built
local index of the same articles instead of the cached one. On loopback the
figures show the protocol and merge cost, not network latency.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from _common import cached_index, data_dir, generated_corpus, generated_label, median, percentile, served_shards
from query import subset, title_queries

from indexer import index_stats
from indexer._xapian import build_shards
from search import close_indexes, search


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data")
    parser.add_argument("--articles", type=int, default=7000)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11, help="the queries' seed")
    parser.add_argument("--generated", type=int, default=0, help="N generated articles instead of the CCTV ones")
    parser.add_argument("--generator-seed", type=int, default=1, help="with --generated: the generator's seed")
    parser.add_argument("--local-index", help="a built local index of the same articles (default: the cached one)")
    args = parser.parse_args()
    source = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    if args.generated:
        corpus = generated_corpus(source, args.generated, args.generator_seed)
        label = generated_label(args.generated, args.generator_seed)
    else:
        corpus = subset(source, args.articles)
        label = corpus.stem
    queries = title_queries(corpus, count=args.queries, seed=args.seed)
    local = args.local_index or cached_index(corpus, label=label)
    p50, p95, truth = timed(str(local), queries, args.repeat)
    print(f"{'backend':<14} {'build s':>8} {'size MB':>8} {'p50 ms':>7} {'p95 ms':>7}  totals equal")
    print(f"{'whoosh':<14} {'-':>8} {index_stats(index_dir=local).bytes_on_disk / 2**20:>8.0f} {p50:>7.1f} {p95:>7.1f}  -")
    for n in args.shards:
        with tempfile.TemporaryDirectory(prefix=f"zhsearch-shards{n}-") as folder:
            started = time.perf_counter()
            build_shards([corpus], index_dir=folder, shards=n)
            seconds = time.perf_counter() - started
            stats = index_stats(index_dir=folder)
            with served_shards(stats.shards) as location:
                p50, p95, counts = timed(location, queries, args.repeat)
            same = sum(a == b for a, b in zip(counts, truth))
            print(f"{f'xapian {n} shard':<14} {seconds:>8.1f} {stats.bytes_on_disk / 2**20:>8.0f} {p50:>7.1f} {p95:>7.1f}"
                  f"  {same}/{len(queries)}", flush=True)
    close_indexes()


if __name__ == "__main__":
    sys.exit(main())
