"""The posting pool's final merge: peak memory and seconds, chunks bounded by postings or not.

    python bench/pool.py [--data DIR] [--articles 29083] [--limit-mb 32] [--repeat 2]
    python bench/pool.py --runs DIR     # spilled runs kept from a build (copies: a merge deletes them)

A build's worker collects postings in ``indexer._writer._Pool`` and spills a
sorted run whenever the pool passes its memory limit; at the end it merges
every run at once, holding one chunk of each. This writes the first
``--articles`` CCTV articles through one ``PooledSegmentWriter`` with a pool of
``--limit-mb`` (so that it spills many runs, as a worker of a million-article
build does at its real 256 MB), then merges them; each variant in its own
subprocess, alternating ``--repeat`` times:

- ``bounded``: runs written as the code writes them (``CHUNK_POSTINGS`` per chunk);
- ``terms``: chunks bounded by ``CHUNK`` terms only, as before 2026-12-02.

The runs are written once per variant (the same postings), then each merge
runs in a fresh process that does nothing else, whose peak resident size
(``VmHWM``) is reported. With ``--runs DIR`` the run files of DIR are merged as
they are: for instance copies of a build's spilled runs (``MAIN.tmp/*.run`` in
its ``.building-…`` folder, copied before its final merge deletes them).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import glob
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, data_dir, median


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _merge(pool) -> tuple[int, int, float, float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    terms = postings = 0
    for _field, _text, ids, _weights, _values in pool.groups():
        terms += 1
        postings += len(ids)
    return terms, postings, time.perf_counter() - started, _peak_mb()


def child(variant: str, source: str, articles: int, limit_mb: int, out: str) -> None:
    """Write the runs of ``articles`` articles with a pool of ``limit_mb``, copied into ``out``."""
    from whoosh import index as whoosh_index

    from indexer import _writer
    from indexer._build import to_document
    from indexer._sources import Skipped, read_sources
    from indexer.schema import build_schema

    if variant == "terms":
        _writer.CHUNK_POSTINGS = 1 << 62
    with tempfile.TemporaryDirectory(prefix="zhsearch-pool-") as tmp:
        writer = _writer.PooledSegmentWriter(whoosh_index.create_in(tmp, build_schema()), limitmb=limit_mb)
        n = 0
        for article in read_sources([Path(source)]):
            if isinstance(article, Skipped):
                continue
            writer.add_document(**to_document(article))
            n += 1
            if n >= articles:
                break
        writer.pool.save()
        folder = Path(writer._tempstorage.folder)
        for run in writer.pool.runs:
            shutil.copy(folder / run, out)
        writer.cancel()


def merge_folder(folder: str) -> dict[str, object]:
    from indexer._writer import _Pool

    pool = _Pool.__new__(_Pool)
    pool._fields = {}
    pool.runs = sorted(glob.glob(f"{folder}/*.run"))
    pool._open_run = lambda path: open(path, "rb")  # type: ignore[method-assign]
    pool._remove_run = lambda path: None  # type: ignore[method-assign]
    runs = len(pool.runs)
    terms, postings, seconds, peak = _merge(pool)
    return {"variant": "as written", "runs": runs, "terms": terms, "postings": postings, "seconds": seconds, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    parser.add_argument("--articles", type=int, default=29_083)
    parser.add_argument("--limit-mb", type=int, default=32, help="the pool's memory limit (a build uses 256)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--runs", help="merge the .run files of this folder as they are")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), int(args.child[3]), args.child[4])
        return
    if args.runs:
        print(json.dumps(merge_folder(args.runs)))
        return
    source = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    results: dict[str, list[dict[str, object]]] = {"terms": [], "bounded": []}
    with tempfile.TemporaryDirectory(prefix="zhsearch-pool-runs-") as tmp:
        for variant in results:  # the same postings, spilled with each chunking
            Path(tmp, variant).mkdir()
            subprocess.run([sys.executable, __file__, "--child", variant, str(source), str(args.articles), str(args.limit_mb),
                            str(Path(tmp, variant))], check=True, cwd=ROOT)
        for _ in range(args.repeat):
            for variant in results:  # each merge in a fresh process
                out = subprocess.run([sys.executable, __file__, "--runs", str(Path(tmp, variant))],
                                     check=True, capture_output=True, text=True, cwd=ROOT).stdout
                results[variant].append(json.loads(out.splitlines()[-1]))
    print(f"{args.articles} articles, pool limit {args.limit_mb} MB")
    print(f"{'chunks':<10} {'runs':>5} {'terms':>10} {'postings':>12} {'merge s':>8} {'merge peak MB':>14}")
    for variant, rows in results.items():
        r = rows[0]
        print(f"{variant:<10} {r['runs']:>5} {r['terms']:>10} {r['postings']:>12} "
              f"{median([float(x['seconds']) for x in rows]):>8.1f} {median([float(x['peak_mb']) for x in rows]):>14.0f}")


if __name__ == "__main__":
    main()
