"""Small changes to a large index: ``update`` and ``delete`` timed from process start to exit, then ``optimize``.

    python bench/update.py [--index-dir DIR] [--repeat 5] [--baseline PATH] [--skip-optimize]
    python bench/update.py --generated N [--seed 1] ...

The index is ``--index-dir``, or the cached index of the whole CCTV corpus (or,
with ``--generated N``, of ``N`` generated articles: ``bench/build.py
--generated N`` builds it), built once like the other benchmarks. Each side
works on its own hard-linked copy of it (Whoosh never rewrites a file, so the
original is untouched). Per run and side, one after the other:

- ``update`` of 10 new articles (fresh ids, texts of the corpus);
- ``update`` of 10 articles already indexed (same ids, text changed);
- ``delete`` of 1 indexed article;

each ``python -m indexer ... --quiet`` in a subprocess, seconds from start to
exit (imports and jieba's dictionary load included). One untimed ``update``
first: it writes what the first change of an index built by older code
writes once (the vocabulary counts). Then ``optimize`` once per side, on the
index the runs left. With ``--baseline PATH`` (another checkout, e.g. ``git
archive`` of an older commit) the same runs go through PATH's ``indexer``
(``PYTHONPATH`` and working folder PATH), alternating with ours; a baseline
without ``optimize`` shows ``-``. Prints medians; nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, cached_index, data_dir, generated_corpus, generated_label, index_cache_path, median

STEPS = ("update 10 new", "update 10 replaced", "delete 1")


def copy_index(src: Path, dst: Path) -> Path:
    """Hard links of ``src``'s served files (not its lock file), which the commands never rewrite."""
    dst.mkdir(parents=True)
    shutil.copy2(src / "CURRENT", dst / "CURRENT")
    gen = (src / "CURRENT").read_text("utf-8").strip()
    shutil.copytree(src / gen, dst / gen, copy_function=os.link,
                    ignore=shutil.ignore_patterns("*WRITELOCK"))
    return dst


def corpus_records(corpus: Path, count: int) -> list[dict[str, object]]:
    """The first ``count`` records of the corpus the index was built from: ids that are indexed."""
    with corpus.open(encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice((x for x in f if x.strip()), count)]


def run(checkout: Path, *args: str | Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "indexer", *map(str, args), "--quiet"], cwd=checkout, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"{checkout}: indexer {' '.join(map(str, args))} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


def which_indexer(checkout: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run([sys.executable, "-c", "import indexer; print(indexer.__file__)"], cwd=checkout, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def has_optimize(checkout: Path) -> bool:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    return subprocess.run([sys.executable, "-m", "indexer", "optimize", "--help"], cwd=checkout, env=env,
                          capture_output=True).returncode == 0


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, help="the index to change (a copy of it); default: the cached CCTV index")
    parser.add_argument("--corpus", type=Path, help="with --index-dir: the JSON lines it was built from (default: the CCTV corpus)")
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA)")
    parser.add_argument("--generated", type=int, default=0, help="use the cached index of N generated articles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout to time side by side")
    parser.add_argument("--skip-optimize", action="store_true")
    parser.add_argument("--tmp", help="folder for the copies (default: the system's)")
    args = parser.parse_args()

    source = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    if args.index_dir:
        index, corpus = args.index_dir, args.corpus or source
    elif args.generated:
        corpus = generated_corpus(source, args.generated, args.seed)
        index = index_cache_path(corpus, label=generated_label(args.generated, args.seed))
        if not (index / "CURRENT").exists():
            raise SystemExit(f"no cached index of {args.generated} generated articles: run bench/build.py --generated {args.generated}")
    else:
        corpus = source
        index = cached_index(source, label="cctvall")
    sides = {"ours": ROOT}
    if args.baseline:
        sides["baseline"] = args.baseline.resolve()
    for name, checkout in sides.items():
        print(f"{name}: {which_indexer(checkout)}", flush=True)

    needed = 10 * (args.repeat + 1) + args.repeat + 1
    records = corpus_records(corpus, needed)
    texts = corpus_records(source, 10)
    work = Path(tempfile.mkdtemp(prefix="zhsearch-update-", dir=args.tmp))
    try:
        copies = {name: copy_index(index, work / name) for name in sides}
        print(f"index {index} ({(index / 'CURRENT').read_text('utf-8').strip()}), {args.repeat} runs per side, "
              f"alternating; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        warm = write_jsonl(work / "warm.jsonl", [dict(t, id=f"bench-warm-{k}") for k, t in enumerate(texts)])
        for name, checkout in sides.items():
            run(checkout, "update", warm, "--index-dir", copies[name])
        times: dict[str, dict[str, list[float]]] = {name: {step: [] for step in STEPS} for name in sides}
        for i in range(args.repeat):
            new = write_jsonl(work / f"new-{i}.jsonl", [dict(t, id=f"bench-new-{i}-{k}") for k, t in enumerate(texts)])
            changed = write_jsonl(work / f"changed-{i}.jsonl", [
                dict(r, text=f"{r.get('text') or r.get('body') or ''}\n（更新 {i}）") for r in records[10 * i : 10 * i + 10]])
            victim = str(records[-1 - i]["id"])
            for name, checkout in sides.items():
                d = copies[name]
                row = times[name]
                row["update 10 new"].append(run(checkout, "update", new, "--index-dir", d))
                row["update 10 replaced"].append(run(checkout, "update", changed, "--index-dir", d))
                row["delete 1"].append(run(checkout, "delete", victim, "--index-dir", d))
                print(f"  run {i + 1} {name:<8} " + "  ".join(f"{s} {row[s][-1]:.2f} s" for s in STEPS), flush=True)
        optimize: dict[str, float | None] = {}
        for name, checkout in sides.items():
            optimize[name] = None
            if not args.skip_optimize and has_optimize(checkout):
                optimize[name] = run(checkout, "optimize", "--index-dir", copies[name])
                print(f"  optimize {name}: {optimize[name]:.1f} s", flush=True)
        print(f"\n{'median s':<20}" + "".join(f"{name:>10}" for name in sides))
        for step in STEPS:
            print(f"{step:<20}" + "".join(f"{median(times[name][step]):>10.2f}" for name in sides))
        print(f"{'optimize (1 run)':<20}" + "".join(f"{optimize[n]:>10.1f}" if optimize[n] is not None else f"{'-':>10}" for n in sides))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
