"""Query latency side by side: the Whoosh + jieba recipe against ``search()``, in one process.

    python bench/query.py [--data DIR] [--articles 7000] [--queries 200] [--repeat 3] [--scale 1] [--skip-recipe]
    python bench/query.py --generated N [--seed 1] [--queries 200] [--repeat 3] [--skip-recipe]
    python bench/query.py ... --backend xapian [--shards 2]

Builds (once, cached in ``$ZHSEARCH_BENCH_CACHE``) both indexes over the same
first ``--articles`` CCTV articles (0: all; ``--scale K`` repeats them K times
with new ids, as ``bench/build.py`` does; ``--generated N`` takes instead ``N``
articles generated from the CCTV sentences by ``bench/_generate.py``, cached
too; ``--skip-recipe`` times ours alone), and draws ``--queries`` queries
(seeded) of 2–3 jieba words from random titles of those articles. Then, in
this one process, every query runs through three variants in turn (the order
rotates from query to query), ``--repeat`` times; each pass starts from freshly
opened indexes on both sides (ours also drops its postings cache), so the
passes do not time a cache of these same queries. With ``--backend xapian``
ours runs on ``--shards`` Xapian shards of the same articles (built once into
the cache by ``indexer._xapian.build_shards``), each served by its own
``xapian-tcpsrv`` on 127.0.0.1 for the run and stopped after it; the recipe
stays on its Whoosh index:

- recipe AND: ``QueryParser("content")`` + ``searcher.search(q, limit=10)``,
  reading id and title of the top 10 (no highlights);
- recipe +hl: the same, plus ``hit.highlights("content")`` of the top 10;
- ours: ``search(q, index_dir=..., per_page=10)`` (a folder, or ``xapian://…``), snippets and facets included.

The recipe's ``len(results)`` (an extra counting pass in Whoosh) is read
outside the timed part; ours always computes its total. Before the loop each
side answers one query (its "first query": index open and jieba dictionary
load); the cold time is measured apart, in a fresh process per side from
process start to exit. Prints p50/p95/p99 per variant (the median over the
repetitions of each percentile) and the ratio of ours to the recipe with
highlights; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import (CACHE, ROOT, cached_index, data_dir, generated_corpus, generated_label, median, percentile,
                     served_shards)
from _recipe import Recipe
from build import run_timed, write_corpus

import jieba
import whoosh

from indexer import index_stats
from search import close_indexes, search

_HAN_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
VARIANTS = ("recipe AND", "recipe +hl", "ours")
# Rough milliseconds per query on a loaded 2-core machine, for the up-front estimate.
EST_MS = {"recipe AND": 5.0, "recipe +hl": 40.0, "ours": 40.0}
EST_BUILD_RATE = {"recipe": 200.0, "ours": 70.0}


def subset(source: Path, articles: int, scale: int = 1) -> Path:
    """The first ``articles`` lines of ``source`` (repeated ``scale`` times with new ids) in the
    cache folder, written once (a stable mtime keeps caches valid)."""
    suffix = f"-x{scale}" if scale > 1 else ""
    target = CACHE / f"cctv-first{articles or 'all'}{suffix}.jsonl"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        write_corpus(source, partial, articles, scale)
        partial.replace(target)
    return target


def recipe_index(corpus: Path) -> Path:
    """The recipe's index of ``corpus``, built once per content, recipe code and library versions."""
    stat = corpus.stat()
    digest = hashlib.sha1(f"{corpus.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(f"{whoosh.versionstring()}/{jieba.__version__}".encode())
    digest.update((ROOT / "bench" / "_recipe.py").read_bytes())
    target = CACHE / f"recipe-{corpus.stem}-{digest.hexdigest()[:12]}"
    if not (target / "DONE").exists():
        print(f"building the recipe index of {corpus.name} into {target} …", file=sys.stderr)
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "bench" / "_recipe.py"), "build", str(corpus), str(target)],
                       check=True, cwd=ROOT, stdout=sys.stderr)
        (target / "DONE").write_text("")
        print(f"  {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return target


def title_queries(corpus: Path, *, count: int, seed: int) -> list[str]:
    """``count`` distinct queries of 2–3 Han words (length >= 2), each from one title, in title order."""
    with corpus.open(encoding="utf-8") as lines:  # a line at a time: a generated corpus can be GBs
        titles = [json.loads(line).get("title") or "" for line in lines if line.strip()]
    rng = random.Random(seed)
    tokenizer = jieba.Tokenizer()  # its own dictionary: the recipe's jieba stays unloaded for its first query
    queries: list[str] = []
    for _ in range(count * 50):
        if len(queries) >= count:
            break
        words = [w for w in dict.fromkeys(tokenizer.lcut(rng.choice(titles))) if _HAN_WORD.fullmatch(w)]
        if len(words) < 2:
            continue
        picked = sorted(rng.sample(range(len(words)), min(len(words), rng.choice((2, 3)))))
        query = " ".join(words[i] for i in picked)
        if query not in queries:
            queries.append(query)
    return queries


def cold(side: str, index: Path | str, query: str) -> tuple[float, float]:
    """Seconds and max RSS (MB) of a fresh process that opens the index and answers one query."""
    if side == "ours":
        code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from search import search; search({query!r}, index_dir={str(index)!r}, per_page=10)"
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, str(ROOT / "bench" / "_recipe.py"), "query", str(index), query, "--highlights"]
    seconds, max_rss, _ = run_timed(cmd)
    return seconds, max_rss


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    parser.add_argument("--articles", type=int, default=7000, help="first N CCTV articles (0: all)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the queries")
    parser.add_argument("--scale", type=int, default=1, help="repeat the articles K times with new ids (the 10x run)")
    parser.add_argument("--skip-recipe", action="store_true", help="time only ours (the recipe's 10x build takes long)")
    parser.add_argument("--generated", type=int, default=0, help="N generated articles instead of the CCTV ones (bench/_generate.py)")
    parser.add_argument("--seed", type=int, default=1, help="with --generated: the generator's seed")
    parser.add_argument("--backend", choices=("whoosh", "xapian"), default="whoosh",
                        help="ours on the local index, or on Xapian shards served by xapian-tcpsrv on loopback")
    parser.add_argument("--shards", type=int, default=2, help="with --backend xapian: the shards (default: 2)")
    args = parser.parse_args()
    source = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    if args.generated:
        corpus = generated_corpus(source, args.generated, args.seed)
        label = generated_label(args.generated, args.seed)
    else:
        corpus = subset(source, args.articles, max(1, args.scale))
        label = f"cctv{args.articles or 'all'}x{max(1, args.scale)}"
    articles = sum(1 for line in corpus.open(encoding="utf-8") if line.strip())
    estimate = args.repeat * args.queries * sum(EST_MS.values()) / 1000 + 4 * args.repeat + 10
    print(f"{articles} articles, {args.queries} queries x {args.repeat} passes x 3 variants; estimate ~{estimate / 60:.1f} min "
          f"(+ ~{articles / EST_BUILD_RATE['recipe'] / 60 + articles / EST_BUILD_RATE['ours'] / 60:.1f} min if the indexes "
          f"are not cached); load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    if args.backend == "whoosh":
        run(args, corpus, cached_index(corpus, label=label))
        return
    built = cached_index(corpus, label=f"{label}-xapian{args.shards}", shards=args.shards)
    with served_shards(index_stats(index_dir=built).shards) as location:
        print(f"ours: {args.shards} Xapian shards of {built}, served at {location}", flush=True)
        run(args, corpus, location)


def run(args: argparse.Namespace, corpus: Path, ours_index: Path | str) -> None:
    """Every variant over the queries of ``corpus``, ours on ``ours_index`` (a folder or a location); prints the figures."""
    rec_index = None if args.skip_recipe else recipe_index(corpus)
    variants = ("ours",) if rec_index is None else VARIANTS
    queries = title_queries(corpus, count=args.queries, seed=42)
    print(f"{len(queries)} queries, e.g. {' | '.join(queries[:4])}", flush=True)

    colds: dict[str, list[tuple[float, float]]] = {"recipe": [], "ours": []}
    sides = [(side, index) for side, index in (("recipe", rec_index), ("ours", ours_index)) if index is not None]
    for _ in range(args.repeat):
        for side, index in sides:
            colds[side].append(cold(side, index, queries[0]))

    rss = {"start": rss_mb()}
    started = time.perf_counter()
    recipe = Recipe.open(rec_index) if rec_index is not None else None
    if recipe is not None:
        recipe.query(queries[0], highlights=True)
    first = {"recipe": time.perf_counter() - started}
    rss["recipe"] = rss_mb()
    started = time.perf_counter()
    search(queries[0], index_dir=ours_index, per_page=10)
    first["ours"] = time.perf_counter() - started
    rss["ours"] = rss_mb()

    times: dict[str, list[list[float]]] = {v: [] for v in variants}
    rec_counts, rec_zero, our_counts, our_zero, relaxed = [], 0, [], 0, 0
    loop_started = time.perf_counter()
    for rep in range(args.repeat):
        # Each pass starts from freshly opened indexes (ours also drops its postings
        # cache), so repeating the queries does not time a cache of these very queries.
        close_indexes()
        if recipe is not None:
            recipe.close()
            recipe = Recipe.open(rec_index)  # type: ignore[arg-type]
        for v in variants:
            times[v].append([])
        for i, q in enumerate(queries):
            shift = (i + rep) % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                started = time.perf_counter()
                if variant == "ours":
                    res = search(q, index_dir=ours_index, per_page=10)
                else:
                    results, _ = recipe.query(q, highlights=variant == "recipe +hl")  # type: ignore[union-attr]
                elapsed = time.perf_counter() - started
                times[variant][rep].append(elapsed)
                if rep == 0 and variant == "ours":
                    our_counts.append(res.total)
                    our_zero += res.total == 0
                    relaxed += bool(res.query_info and res.query_info.relaxed)
                elif rep == 0 and variant == "recipe AND":
                    rec_counts.append(len(results))
                    rec_zero += len(results) == 0
    loop_seconds = time.perf_counter() - loop_started
    if recipe is not None:
        recipe.close()

    def pct(variant: str, p: float) -> float:
        return median([percentile(run, p) for run in times[variant]]) * 1000

    print(f"\n{'':<11} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'mean ms':>8}  per-pass p95 (ms)")
    for v in variants:
        mean = median([sum(run) / len(run) for run in times[v]]) * 1000
        print(f"{v:<11} {pct(v, 50):>7.1f} {pct(v, 95):>7.1f} {pct(v, 99):>7.1f} {mean:>8.1f}  "
              + ", ".join(f"{percentile(run, 95) * 1000:.1f}" for run in times[v]))
    if recipe is not None:
        print(f"ours/recipe +hl: p50 {pct('ours', 50) / pct('recipe +hl', 50):.2f}, p95 {pct('ours', 95) / pct('recipe +hl', 95):.2f}; "
              f"ours/recipe AND: p95 {pct('ours', 95) / pct('recipe AND', 95):.2f}")
    n = len(queries)
    print(f"\nresults per query (mean): recipe AND {sum(rec_counts) / n if rec_counts else float('nan'):.1f} ({rec_zero / n:.0%} with none; every word required), "
          f"ours {sum(our_counts) / n:.1f} ({our_zero / n:.0%} with none; reprints collapsed; "
          f"{relaxed / n:.0%} relaxed to partial matches when fewer than 10 had every word)")
    for side, _index in sides:
        secs = median([s for s, _ in colds[side]])
        mem = median([m for _, m in colds[side]])
        print(f"{side:<6} cold first query in a fresh process (start to exit, median of {args.repeat}): {secs:.2f} s, max RSS {mem:.0f} MB; "
              f"in this process: first query {first[side]:.2f} s, RSS +{rss[side] - rss['start' if side == 'recipe' else 'recipe']:.0f} MB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"this process: peak RSS {peak:.0f} MB (both sides and the query tokenizer); timed loop {loop_seconds:.1f} s")


if __name__ == "__main__":
    main()
