"""The baseline of the speed benchmarks: the Whoosh + jieba recipe most tutorials teach.

    python bench/_recipe.py build FILE DIR
    python bench/_recipe.py query DIR TEXT [--highlights]

jieba's own ``jieba.analyse.ChineseAnalyzer`` on a title and a content field,
one ``ix.writer()`` with default settings (one process), ``add_document`` per
article and one commit. Queries go through ``QueryParser("content", schema)``
(words joined by AND) and ``searcher.search(q, limit=10)``; the highlights
variant also calls ``hit.highlights("content")`` for the top 10. Kept apart
from ``indexer`` and ``search`` on purpose: it must stay the plain recipe.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import dataclass

import jieba
from jieba.analyse import ChineseAnalyzer
from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser
from whoosh.searching import Results, Searcher

jieba.setLogLevel(logging.WARNING)  # only hides the "Building prefix dict" lines


def schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(stored=True, analyzer=ChineseAnalyzer()),
        content=TEXT(stored=True, analyzer=ChineseAnalyzer()),
    )


def build(source: str | os.PathLike[str], index_dir: str | os.PathLike[str]) -> int:
    """Index the JSON-lines articles of ``source`` into a new index in ``index_dir``; return the count."""
    os.makedirs(index_dir, exist_ok=True)
    ix = whoosh_index.create_in(str(index_dir), schema())
    writer = ix.writer()
    count = 0
    with open(source, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            article = json.loads(line)
            writer.add_document(id=article["id"], title=article.get("title") or "", content=article.get("text") or "")
            count += 1
    writer.commit()
    return count


@dataclass
class Recipe:
    """An open recipe index: one searcher and one parser, reused for every query."""

    searcher: Searcher
    parser: QueryParser

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str]) -> Recipe:
        ix = whoosh_index.open_dir(str(index_dir))
        return cls(ix.searcher(), QueryParser("content", ix.schema))

    def query(self, text: str, *, highlights: bool = False, limit: int = 10) -> tuple[Results, list[dict[str, str]]]:
        """The top ``limit`` hits as a page would show them: id, title, and the highlights if asked."""
        results = self.searcher.search(self.parser.parse(text), limit=limit)
        hits = []
        for hit in results:
            row = {"id": hit["id"], "title": hit["title"]}
            if highlights:
                row["highlights"] = hit.highlights("content")
            hits.append(row)
        return results, hits

    def close(self) -> None:
        self.searcher.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="index a JSON-lines FILE into DIR")
    p.add_argument("file")
    p.add_argument("dir")
    p = sub.add_parser("query", help="one query against DIR; prints the hit count")
    p.add_argument("dir")
    p.add_argument("text")
    p.add_argument("--highlights", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.command == "build":
        count = build(args.file, args.dir)
        print(f"recipe: indexed {count} articles in {time.perf_counter() - started:.1f} s")
    else:
        recipe = Recipe.open(args.dir)
        results, hits = recipe.query(args.text, highlights=args.highlights)
        print(f"recipe: {len(hits)} hits shown of {len(results)} in {time.perf_counter() - started:.3f} s")
        recipe.close()


if __name__ == "__main__":
    main()
