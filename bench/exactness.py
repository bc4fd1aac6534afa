"""Exact-matching recall against a brute-force scan of the CCTV articles.

    python bench/exactness.py --index-dir DIR [--data DIR] [--samples 300] [--seed 7] [--articles 0]

DIR is an index of the first ``--articles`` CCTV articles (0: all), for
instance ``python -m indexer rebuild ../shared/data/cctv-xwlb/articles.jsonl
--index-dir DIR``. For the issue's example queries, then for random
substrings (1 to 6 characters) of random articles and pairs of them, prints
the brute-force count (title or text holds every part, after NFKC, case
folding and OpenCC ``t2s``, white space collapsed) beside ``search()``'s
``total`` and ``query_info.strict_total``, and the share of samples whose
total equals the count. Nothing is asserted. It runs against whichever
``search`` is importable, so the same script measures an older checkout
(``PYTHONPATH=old-checkout``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import time
import unicodedata

import opencc
from _common import data_dir, percentile

from search import search

EXAMPLES = ["习", "疫", "中共中央", "中共中央政治局", "兰抵抗", "比亚迪", "会见习近平", "宁德时代", "抗疫"]
_T2S = opencc.OpenCC("t2s")
_SPACE = re.compile(r"\s+")


def form(text: str) -> str:
    return _SPACE.sub(" ", _T2S.convert(unicodedata.normalize("NFKC", text).casefold())).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--data")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--articles", type=int, default=0)
    args = parser.parse_args()
    path = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    with path.open(encoding="utf-8") as fh:
        lines = itertools.islice(fh, args.articles or None)
        docs = [(form(r.get("title", "")), form(r.get("text", ""))) for r in map(json.loads, lines)]

    def count(query: str) -> int:
        parts = [p for p in (form(x) for x in query.split()) if re.search(r"[^\W_]", p)]
        return sum(all(p in t or p in b for p in parts) for t, b in docs)

    print(f"{'query':<16} {'contain':>8} {'total':>8} {'strict':>8}")
    for q in EXAMPLES:
        res = search(q, index_dir=args.index_dir)
        print(f"{q:<16} {count(q):>8} {res.total:>8} {getattr(res.query_info, 'strict_total', 0):>8}")
    rng = random.Random(args.seed)
    equal = {"single": [], "pair": []}
    times: list[float] = []
    while sum(len(v) for v in equal.values()) < args.samples:
        kind = "pair" if rng.random() < 0.3 else "single"
        parts = []
        for _ in range(2 if kind == "pair" else 1):
            title, body = docs[rng.randrange(len(docs))]
            raw = body if rng.random() < 0.8 or not title else title
            n = rng.randint(1, 6)
            start = rng.randint(0, max(0, len(raw) - n))
            parts.append(raw[start : start + n])
        query = " ".join(parts)
        tokens = query.split()
        if not tokens or any(t.startswith("-") or t in ("OR", "|") or '"' in t for t in tokens):
            continue
        if not all(re.search(r"[^\W_]", t) for t in tokens):
            continue
        started = time.perf_counter()
        res = search(query, index_dir=args.index_dir)
        times.append(time.perf_counter() - started)
        equal[kind].append(res.total == count(query))
    for kind, values in equal.items():
        if values:
            print(f"{kind:<7} samples {len(values):>4}: total equals the brute-force count in {sum(values) / len(values):.1%}")
    print(f"search() p50 / p95 {percentile(times, 50) * 1000:.1f} / {percentile(times, 95) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
