"""Score ``indexer._html.extract_html`` on the shared HTML data sets.

Usage: ``python bench/extraction.py [--data DIR]``; ``DIR`` defaults to
``ZHSEARCH_DATA`` or ``../shared/data`` relative to the project root.
Character F1 is the overlap of the two bags of characters, whitespace ignored.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from _common import data_dir  # puts the project root on sys.path

import lxml.html  # noqa: E402

from indexer._decode import decode_bytes  # noqa: E402
from indexer._html import HtmlArticle, extract_html  # noqa: E402
from indexer.errors import ArticleParseError  # noqa: E402

_WS = re.compile(r"\s+")


def char_f1(got: str, want: str) -> float:
    a, b = Counter(_WS.sub("", got)), Counter(_WS.sub("", want))
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def squash(text: str) -> str:
    return _WS.sub("", text)


def load(path: Path) -> HtmlArticle | ArticleParseError:
    text, _ = decode_bytes(path.read_bytes())
    try:
        return extract_html(text)
    except ArticleParseError as exc:
        return exc


def jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def pct(hits: int, total: int) -> str:
    return f"{100 * hits / total:5.1f}% ({hits}/{total})" if total else "n/a"


def bench_cctv(root: Path) -> None:
    rows = list(jsonl(root / "expected.jsonl"))
    titles = dates = failed = 0
    scores: list[float] = []
    for row in rows:
        art = load(root / row["file"])
        if isinstance(art, ArticleParseError):
            failed += 1
            scores.append(0.0)
            continue
        titles += art.title == row["title"]
        dates += art.published is not None and art.published.date().isoformat() == row["date"]
        scores.append(char_f1(art.body, row["text"]))
    print(f"cctv-xwlb-html      pages {len(rows)}, errors {failed}")
    print(f"  title exact        {pct(titles, len(rows))}")
    print(f"  date exact         {pct(dates, len(rows))}")
    print(f"  body char F1 mean  {statistics.fmean(scores):.4f}   F1>=0.95 {pct(sum(s >= 0.95 for s in scores), len(rows))}")
    worst = sorted(zip(scores, (r["file"] for r in rows)))[:3]
    print("  worst F1           " + ", ".join(f"{Path(f).stem[:12]}… {s:.3f}" for s, f in worst))


def bench_gne(root: Path) -> None:
    titles = refs = 0
    scores: list[float] = []
    lists: list[str] = []
    errors: list[str] = []
    for row in jsonl(root / "index.jsonl"):
        art = load(root / row["file"])
        name = Path(row["file"]).name
        if row["kind"] != "article":
            outcome = f"raises ({art.reason})" if isinstance(art, ArticleParseError) else f"body {len(art.body)} chars"
            lists.append(f"{name}: {outcome}")
            continue
        if isinstance(art, ArticleParseError):
            errors.append(name)
        gne = row.get("gne_output_2019")
        if not gne:
            continue
        refs += 1
        got = art if isinstance(art, HtmlArticle) else None
        titles += got is not None and squash(got.title) == squash(gne["title"])
        scores.append(char_f1(got.body if got else "", gne["content"]))
    print(f"gne-news-html       pages with GNE output {refs}; article pages raising: {errors or 'none'}")
    print(f"  title exact (ws-insensitive) {pct(titles, refs)}")
    print(f"  body char F1 mean vs GNE     {statistics.fmean(scores):.4f}   min {min(scores):.3f}")
    print("  list pages:")
    for line in lists:
        print(f"    {line}")


def _html_text(path: Path) -> str:
    doc = lxml.html.document_fromstring(path.read_text(encoding="utf-8"))
    return doc.text_content()


def bench_fixtures(root: Path) -> None:
    print("extractor-fixtures-zh")
    print(f"  {'fixture':24} {'body F1':>8}  title")
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        art = load(folder / "source.html")
        body = art.body if isinstance(art, HtmlArticle) else ""
        title = art.title if isinstance(art, HtmlArticle) else ""
        note = ""
        if (folder / "expected.html").exists():
            score = char_f1(body, _html_text(folder / "expected.html"))
        elif (folder / "expected.txt").exists():
            score = char_f1(body, (folder / "expected.txt").read_text(encoding="utf-8"))
        else:
            expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
            prefix = squash(expected["expected"]["cleaned_text"])
            head = squash(body)[: len(prefix)]
            score = char_f1(head, prefix)
            note = f" starts-with={head == prefix}"
        meta = folder / "expected-metadata.json"
        if meta.exists():
            want = json.loads(meta.read_text(encoding="utf-8")).get("title", "")
            verdict = "exact" if title == want else "prefix" if title and want.startswith(title) else "differs"
            note += f" title {verdict}: {title!r} vs {want!r}"
        else:
            note += f" title {title!r}"
        print(f"  {folder.name:24} {score:8.3f} {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    root = data_dir(args.data)
    began = time.perf_counter()
    for name, run in (("cctv-xwlb-html", bench_cctv), ("gne-news-html", bench_gne), ("extractor-fixtures-zh", bench_fixtures)):
        started = time.perf_counter()
        run(root / name)
        print(f"  ({time.perf_counter() - started:.1f} s)")
    print(f"total {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
