"""Results of ``search()`` on many query/sort/filter cases, written as JSON lines, to compare two
checkouts (or two index formats) case by case.

    python bench/compare.py --index-dir DIR --out A.jsonl [--queries 120] [--seed 5]
    PYTHONPATH=/path/to/other-checkout python bench/compare.py --index-dir DIR --out B.jsonl
    python bench/compare.py --diff A.jsonl B.jsonl

The cases: ``--queries`` title queries (as ``bench/query.py`` draws them from the
index's own articles) plus fixed ones with the supported syntax, each with
relevance and date sort and with a year filter, pages 1 and 2. For each case it
writes the total, the tier counts, folded reprints, pages, facets, and each
hit's id, score (4 decimals), tier, reprint count, snippet and title markup.
``--diff`` prints how many cases are identical and the first differences.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

FIXED = ['"经济 发展"', "经济 -会议", "中国 OR 美国", "title:合作", "哈", "习", "2024年", "5G 基站", "中共中央",
         "網路", "人工智能", "比亚迪", "齐齐哈尔 合作", "", "source:央视网 会议"]


def cases(index_dir: str, count: int, seed: int) -> list[dict[str, object]]:
    from search import search

    titles = [h.title for page in (1, 2, 3) for h in search("的", index_dir=index_dir, per_page=100, page=page).hits]
    rng = random.Random(seed)
    queries = list(FIXED)
    while len(queries) < count + len(FIXED) and titles:
        title = rng.choice(titles)
        start = rng.randrange(max(1, len(title) - 4))
        queries.append(title[start : start + rng.choice((2, 3, 4))])
    out = []
    for q in queries:
        for extra in ({}, {"sort": "date"}, {"year": "2024"}, {"page": 2}):
            out.append({"q": q, **extra})
    return out


def run(index_dir: str, count: int, seed: int) -> list[dict[str, object]]:
    from search import search

    rows = []
    for case in cases(index_dir, count, seed):
        res = search(str(case["q"]), index_dir=index_dir, **{k: v for k, v in case.items() if k != "q"})
        info = res.query_info
        rows.append({
            "case": case, "total": res.total, "regional": info.regional_total, "partial": info.partial_total,
            "folded": info.folded, "pages": res.pages, "suggestion": res.suggestion,
            "facets": {k: [[f.value, f.count] for f in v] for k, v in res.facets.items()},
            "hits": [[h.id, round(h.score, 4), h.match, h.duplicates, h.snippet, h.title_html] for h in res.hits],
        })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--diff", nargs=2, type=Path)
    args = parser.parse_args()
    if args.diff:
        a, b = ([json.loads(line) for line in p.read_text("utf-8").splitlines()] for p in args.diff)
        same = sum(x == y for x, y in zip(a, b))
        print(f"{same} of {len(a)} cases identical" + ("" if len(a) == len(b) else f" ({len(b)} on the other side)"))
        for x, y in [(x, y) for x, y in zip(a, b) if x != y][:5]:
            print("differs:", x["case"], {k: (x[k], y[k]) for k in x if x[k] != y[k] and k != "hits"} or "hits")
        return 0 if same == len(a) == len(b) else 1
    rows = run(args.index_dir, args.queries, args.seed)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows), "utf-8")
    print(f"{len(rows)} cases written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
