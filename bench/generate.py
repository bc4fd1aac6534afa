"""Write a generated scale corpus, and compare it with the real one.

    python bench/generate.py --generated N [--seed 1] [--out FILE.jsonl] [--data DIR] [--stats]
    python bench/generate.py --vocab 10000,30000,100000 [--words] [--seed 1]

The first form writes ``N`` articles recombined from the CCTV sentences (see
``bench/_generate.py`` for how, and how they differ from a real archive) to
``--out`` (default: the benchmark cache, where ``bench/build.py --generated N``
and ``bench/query.py --generated N`` find it) and prints the time, the rate and
the peak memory; ``--stats`` then compares lengths, titles and reprints with
the real corpus. The second form measures vocabulary growth: distinct Han
character bigrams (and with ``--words`` distinct jieba words) and the share
seen only once, for the real corpus at the sizes it has and for a generated
corpus of each size (each generated on its own: a corpus of 10k is not the
first 10k of one of 100k). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from _common import data_dir, generated_corpus, percentile
from _generate import Generator, generate, load_pool, write

MB = 2**20
_HAN = re.compile(r"[\u4e00-\u9fff]+")


def real_records(source: Path) -> Iterator[dict[str, str]]:
    with source.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def vocabulary(records: Iterable[dict[str, str]], *, words: bool) -> tuple[int, Counter[str], Counter[str] | None]:
    """Articles, the Han character bigram counts and (if ``words``) the jieba word counts of title + text."""
    bigrams: Counter[str] = Counter()
    vocab: Counter[str] | None = Counter() if words else None
    cut = None
    if words:
        try:
            import jieba_fast as jieba
        except ImportError:
            import jieba
        jieba.setLogLevel(60)
        cut = jieba.Tokenizer().lcut
    n = 0
    for record in records:
        n += 1
        text = f"{record.get('title') or ''}\n{record.get('text') or ''}"
        for run in _HAN.findall(text):
            bigrams.update(map(str.__add__, run, run[1:]))
        if cut is not None and vocab is not None:
            vocab.update(w for w in cut(text) if _HAN.fullmatch(w))
    return n, bigrams, vocab


def vocab_table(source: Path, sizes: list[int], seed: int, *, words: bool) -> None:
    real_total = sum(1 for _ in real_records(source))
    rows: list[tuple[str, int, Counter[str], Counter[str] | None, float]] = []

    def measure(label: str, records: Iterable[dict[str, str]]) -> None:
        started = time.perf_counter()
        n, bigrams, vocab = vocabulary(records, words=words)
        rows.append((label, n, bigrams, vocab, time.perf_counter() - started))
        print(f"  {label}: {n} articles, {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    pool = load_pool(source)
    for size in sizes:
        if size < real_total:
            measure("real, first (date order)", (r for _, r in zip(range(size), real_records(source))))
            rng = random.Random(seed)
            keep = set(rng.sample(range(real_total), size))
            measure("real, random sample", (r for i, r in enumerate(real_records(source)) if i in keep))
    measure("real, whole corpus", real_records(source))
    for size in sizes:
        measure("generated", generate(source, size, seed, pool=pool))
    rows.sort(key=lambda r: (r[1], r[0]))
    head = f"{'corpus':<26} {'articles':>9} {'bigrams':>10} {'once':>6}"
    if words:
        head += f" {'jieba words':>12} {'once':>6}"
    print(head)
    for label, n, bigrams, vocab, _ in rows:
        line = f"{label:<26} {n:>9,} {len(bigrams):>10,} {sum(1 for c in bigrams.values() if c == 1) / len(bigrams):>6.1%}"
        if vocab is not None:
            line += f" {len(vocab):>12,} {sum(1 for c in vocab.values() if c == 1) / len(vocab):>6.1%}"
        print(line)
    print("once: the share of the distinct bigrams (words) seen in one place only (the Zipf tail's hapaxes)")


def stats(source: Path, corpus: Path, seed: int) -> None:
    """Lengths, titles and reprints of a generated corpus against the real one."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from indexer._build import reprint_key
    from indexer.article import Article

    def summary(records: Iterable[dict[str, str]]) -> dict[str, object]:
        chars, paragraphs, titles, bodies = [], [], Counter(), Counter()
        keys: dict[str, set[int]] = {}
        sources, years, categories = Counter(), Counter(), Counter()
        for r in records:
            text = r.get("text") or ""
            chars.append(len(text))
            paragraphs.append(text.count("\n") + 1)
            titles[r["title"]] += 1
            bodies[(r["title"], text)] += 1
            keys.setdefault(reprint_key(Article(id=r["id"], title=r["title"], body=text)), set()).add(hash((r["title"], text)))
            sources[r.get("source")] += 1
            years[r.get("date", "")[:4]] += 1
            categories[r.get("category")] += 1
        n = len(chars)
        copies = sum(c - 1 for c in bodies.values())
        # articles sharing a reprint key with an article that is not the same title + body
        false_groups = sum(len(distinct) - 1 for distinct in keys.values())
        return {
            "articles": n,
            "chars p10/p50/p90/max": "/".join(str(percentile(chars, p)) for p in (10, 50, 90, 100)),
            "chars min": min(chars),
            "paragraphs p50/p90/max": "/".join(str(percentile(paragraphs, p)) for p in (50, 90, 100)),
            "distinct titles": f"{len(titles) / n:.1%}",
            "same title + body as an earlier one": f"{copies} ({copies / n:.2%})",
            "reprint keys shared by different bodies": false_groups,
            "sources": len(sources),
            "years": f"{min(years)}..{max(years)} ({len(years)})",
            "categories": len(categories) - (None in categories),
        }

    real = summary(real_records(source))
    gen = summary(json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip())
    print(f"\n{'':<42} {'real':>22} {'generated':>22}")
    for key in real:
        print(f"{key:<42} {real[key]!s:>22} {gen[key]!s:>22}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    parser.add_argument("--generated", type=int, help="articles to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="JSON-lines file to write (default: the benchmark cache)")
    parser.add_argument("--stats", action="store_true", help="compare the written corpus with the real one")
    parser.add_argument("--vocab", help="comma-separated sizes: vocabulary growth, real against generated")
    parser.add_argument("--words", action="store_true", help="with --vocab: also count jieba words (slower)")
    args = parser.parse_args()
    source = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    if args.vocab:
        vocab_table(source, [int(s) for s in args.vocab.split(",")], args.seed, words=args.words)
        return
    if not args.generated:
        parser.error("give --generated N or --vocab SIZES")
    started = time.perf_counter()
    if args.out:
        out = Path(args.out)
        pool = load_pool(source)
        loaded = time.perf_counter() - started
        count = write(source, args.generated, args.seed, out, pool=pool)
    else:
        out = generated_corpus(source, args.generated, args.seed)
        loaded, count = 0.0, args.generated
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count:,} articles -> {out} ({out.stat().st_size / MB:,.0f} MB) in {seconds:.1f} s "
          f"(sentence pool {loaded:.1f} s; {count / seconds:,.0f} articles/s); peak RSS {peak:.0f} MB")
    if args.stats:
        stats(source, out, args.seed)


if __name__ == "__main__":
    main()
