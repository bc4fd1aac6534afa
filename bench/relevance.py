"""Relevance on the retrieval sets: MRR@10, Recall@1, Recall@10 and the zero-result share.

    python bench/relevance.py [--data DIR] [--sets cmrc2018 drcd] [--limit N] [--backends whoosh xapian] [--shards 2]

Builds (once, cached) an index of each set's ``corpus.jsonl`` for each backend
(``xapian``: ``--shards`` Xapian shard databases, searched as local files),
runs every query of ``queries.jsonl`` through ``search()`` and scores the
ranking against ``qrels.tsv``. Prints one row per set and backend.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import cached_index, data_dir, median, percentile

from search import search

PEERS = {
    "cmrc2018": {"whoosh+jieba AND": 0.002, "whoosh+jieba OR": 0.978, "tantivy+jieba": 0.981, "FTS5 trigram": 0.929, "Lucene CJK bigram": 0.979},
    "drcd": {"whoosh+jieba AND": 0.005, "whoosh+jieba OR": 0.907, "tantivy+jieba": 0.912, "FTS5 trigram": 0.902, "Lucene CJK bigram": 0.944},
}


def evaluate(name: str, root, limit: int | None, shards: int = 0) -> dict[str, float]:
    folder = root / name
    index = cached_index(folder / "corpus.jsonl", label=name if not shards else f"{name}-xapian{shards}", shards=shards)
    qrels: dict[str, set[str]] = {}
    for line in (folder / "qrels.tsv").read_text("utf-8").splitlines():
        qid, doc, rel = line.split("\t")
        if int(rel) > 0:
            qrels.setdefault(qid, set()).add(doc)
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text("utf-8").splitlines() if line.strip()]
    queries = [q for q in queries if q["id"] in qrels][:limit]
    rr, r1, r10, zero, times, blank = [], [], [], 0, [], 0
    for q in queries:
        if not q["text"].strip():
            blank += 1
            continue
        started = time.perf_counter()
        res = search(q["text"], index_dir=index, per_page=10)
        times.append(time.perf_counter() - started)
        ids = [h.id for h in res.hits]
        relevant = qrels[q["id"]]
        rank = next((i for i, d in enumerate(ids, 1) if d in relevant), None)
        rr.append(1 / rank if rank else 0.0)
        r1.append(1.0 if rank == 1 else 0.0)
        r10.append(1.0 if rank else 0.0)
        zero += not res.hits  # nothing listed at all (total counts only articles with every word)
    n = len(rr)
    return {
        "queries": n, "mrr10": sum(rr) / n, "r1": sum(r1) / n, "r10": sum(r10) / n, "zero": zero / n,
        "p50_ms": median(times) * 1000, "p95_ms": percentile(times, 95) * 1000, "blank": blank,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    parser.add_argument("--sets", nargs="+", default=["cmrc2018", "drcd"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N queries of each set")
    parser.add_argument("--backends", nargs="+", choices=("whoosh", "xapian"), default=["whoosh"])
    parser.add_argument("--shards", type=int, default=2, help="Xapian shards (default: 2)")
    args = parser.parse_args()
    root = data_dir(args.data)
    print(f"{'set':<10} {'backend':<9} {'queries':>7} {'MRR@10':>7} {'R@1':>6} {'R@10':>6} {'zero':>6} {'p50 ms':>7} {'p95 ms':>7}  best peer MRR@10")
    for name, backend in ((n, b) for n in args.sets for b in args.backends):
        m = evaluate(name, root, args.limit, args.shards if backend == "xapian" else 0)
        peer = max(PEERS.get(name, {}).items(), key=lambda kv: kv[1], default=("-", float("nan")))
        label = backend if backend == "whoosh" else f"xapian/{args.shards}"
        print(f"{name:<10} {label:<9} {m['queries']:>7} {m['mrr10']:>7.4f} {m['r1']:>6.3f} {m['r10']:>6.3f} {m['zero']:>6.3f} "
              f"{m['p50_ms']:>7.1f} {m['p95_ms']:>7.1f}  {peer[1]:.3f} ({peer[0]})")


if __name__ == "__main__":
    main()
