"""Build speed side by side: the Whoosh + jieba recipe against ``python -m indexer rebuild``.

    python bench/build.py [--data DIR] [--articles 7000] [--repeat 3] [--scale 1] [--skip-recipe] [--tmp DIR]
    python bench/build.py --generated N [--seed 1] [--repeat 1] [--skip-recipe]

Takes the first ``--articles`` CCTV articles (0: all 29,083), repeated
``--scale`` times with new ids (``id-r1``, ``id-r2``, …), writes them to a temp
JSON-lines file (or, with ``--generated N``, takes ``N`` articles generated
from the CCTV sentences by ``bench/_generate.py``, written once to the
benchmark cache; ``--articles`` and ``--scale`` then do not apply; the last
build of ours is kept in the cache, where ``bench/query.py --generated N``
finds it), then builds alternately (recipe, ours, recipe, ours, …)
``--repeat`` times, each build in a fresh folder and its own subprocess:

- ours: ``python -m indexer rebuild FILE --index-dir DIR --quiet`` (worker
  processes: ``$ZHSEARCH_PROCS`` or the CPUs, at most 4);
- recipe: ``python bench/_recipe.py build FILE DIR`` (one process).

Seconds are wall time from process start to exit, imports and jieba's
dictionary load included (the wrapping ``/usr/bin/time`` adds about a
millisecond). Memory is measured two ways: "max RSS" is GNU ``time -f %M``,
the largest single process of the tree (for ours the parent or one worker,
whichever peaked higher; never a sum; NaN when GNU time is missing:
``apt-get install time``);
"tree PSS" is the peak of the summed proportional set size of the process and
all its descendants, sampled from ``/proc`` every 0.1 s at first, every second after
a minute and a half (pages shared by forked workers are split, not counted twice;
short peaks between samples are missed).
Index MB is the size of every file left in the index folder. Prints medians
and the ratio ours/recipe; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import ROOT, data_dir, generated_corpus, generated_label, index_cache_path, median

# Rough rates on a loaded 2-core machine, only for the up-front time estimate.
EST_RATE = {"recipe": 200.0, "ours": 70.0}
# Tree PSS sampling: every 0.1 s at first, every second after a minute and a half (each sample
# reads all of /proc and the page tables of the build's processes: every 0.1 s for a whole
# 1M-article build, that took a quarter of one of the two cores).
SAMPLE_SECONDS, SAMPLE_SECONDS_LATER, SAMPLE_SLOWDOWN = 0.1, 1.0, 100.0
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
MB = 2**20


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    tree_pss_mb: float
    index_mb: float


@dataclass
class Side:
    name: str
    runs: list[Run] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return median([getattr(r, attr) for r in self.runs])


def write_corpus(source: Path, target: Path, articles: int, scale: int) -> int:
    lines = []
    with source.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                lines.append(json.loads(line))
                if articles and len(lines) >= articles:
                    break
    with target.open("w", encoding="utf-8") as out:
        for k in range(scale):
            for article in lines:
                row = dict(article, id=f"{article['id']}-r{k}") if k else article
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(lines) * scale


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def _pss_kb(pid: int) -> int:
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


class TreeSampler(threading.Thread):
    """Peak summed PSS of a process and its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.is_set():
            tree = _children()
            pids, stack = [], [self.pid]
            while stack:
                pid = stack.pop()
                pids.append(pid)
                stack.extend(tree.get(pid, ()))
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in pids))
            self.done.wait(min(SAMPLE_SECONDS_LATER, SAMPLE_SECONDS + (time.monotonic() - started) / SAMPLE_SLOWDOWN))


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB


def run_timed(cmd: list[str], *, sample: bool = False) -> tuple[float, float, float]:
    """Wall seconds, max RSS MB (GNU time's %M; NaN without it) and, if ``sample``, peak tree PSS MB of ``cmd``.

    Not ``os.wait4``'s own ``ru_maxrss``: a child started by ``subprocess``
    (vfork + exec) inherits this process's RSS as its high-water mark.
    """
    with tempfile.NamedTemporaryFile("r") as usage, tempfile.TemporaryFile() as log:
        wrapped = [GNU_TIME, "-f", "%M", "-o", usage.name, *cmd] if GNU_TIME else cmd
        started = time.perf_counter()
        proc = subprocess.Popen(wrapped, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        if sample:
            sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - started
        sampler.done.set()
        if sample:
            sampler.join()
        if code not in (0, 3):  # 3: done, some articles skipped
            log.seek(0)
            raise SystemExit(f"failed ({code}): {' '.join(cmd)}\n{log.read().decode(errors='replace')}")
        lines = usage.read().split()
        max_rss = int(lines[-1]) / 1024 if GNU_TIME and lines else float("nan")
    return seconds, max_rss, sampler.peak_kb / 1024


def measure(cmd: list[str], index: Path) -> Run:
    seconds, max_rss, pss = run_timed(cmd, sample=True)
    return Run(seconds, max_rss, pss, folder_mb(index))


def command(side: str, corpus: Path, index: Path) -> list[str]:
    if side == "ours":
        return [sys.executable, "-m", "indexer", "rebuild", str(corpus), "--index-dir", str(index), "--quiet"]
    return [sys.executable, str(ROOT / "bench" / "_recipe.py"), "build", str(corpus), str(index)]


def print_table(sides: list[Side], count: int) -> None:
    print(f"{'':<8} {'median s':>9} {'articles/s':>11} {'max RSS MB':>11} {'tree PSS MB':>12} {'index MB':>9}  runs (s)")
    for side in sides:
        s = side.med("seconds")
        print(f"{side.name:<8} {s:>9.1f} {count / s:>11.0f} {side.med('max_rss_mb'):>11.0f} {side.med('tree_pss_mb'):>12.0f} "
              f"{side.med('index_mb'):>9.1f}  {', '.join(f'{r.seconds:.1f}' for r in side.runs)}")
    if len(sides) == 2:
        recipe, ours = sides
        ratio = {a: ours.med(a) / recipe.med(a) for a in ("seconds", "max_rss_mb", "tree_pss_mb", "index_mb")}
        print(f"{'ours/rec':<8} {ratio['seconds']:>9.2f} {1 / ratio['seconds']:>11.2f} {ratio['max_rss_mb']:>11.2f} "
              f"{ratio['tree_pss_mb']:>12.2f} {ratio['index_mb']:>9.2f}  (articles/s column: ours/recipe rate)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="shared data folder (default: $ZHSEARCH_DATA or ../shared/data)")
    parser.add_argument("--articles", type=int, default=7000, help="first N CCTV articles (0: all)")
    parser.add_argument("--repeat", type=int, default=3, help="builds per side")
    parser.add_argument("--scale", type=int, default=1, help="repeat the corpus K times with new ids")
    parser.add_argument("--skip-recipe", action="store_true", help="build only ours (a 10x recipe run takes long)")
    parser.add_argument("--tmp", help="folder for the corpus and the indexes (default: the system temp folder)")
    parser.add_argument("--generated", type=int, default=0, help="N generated articles instead of the CCTV ones (bench/_generate.py)")
    parser.add_argument("--seed", type=int, default=1, help="with --generated: the generator's seed")
    args = parser.parse_args()
    source = data_dir(args.data) / "cctv-xwlb" / "articles.jsonl"
    names = ["ours"] if args.skip_recipe else ["recipe", "ours"]
    work = Path(tempfile.mkdtemp(prefix="zhsearch-build-", dir=args.tmp))
    try:
        if args.generated:
            corpus = generated_corpus(source, args.generated, args.seed)
            count = sum(1 for line in corpus.open(encoding="utf-8") if line.strip())
            what = f"generated, seed {args.seed}"
        else:
            corpus = work / "articles.jsonl"
            count = write_corpus(source, corpus, args.articles, max(1, args.scale))
            what = f"scale {args.scale}"
        estimate = sum(args.repeat * (count / EST_RATE[n] + 2) for n in names)
        print(f"{count} articles ({corpus.stat().st_size / MB:.1f} MB, {what}), {args.repeat} builds per side, "
              f"alternating; estimate ~{estimate / 60:.1f} min; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        sides = [Side(n) for n in names]
        for i in range(args.repeat):
            for side in sides:
                index = work / f"{side.name}-{i}"
                run = measure(command(side.name, corpus, index), index)
                side.runs.append(run)
                print(f"  {side.name:<6} run {i + 1}: {run.seconds:.1f} s, max RSS {run.max_rss_mb:.0f} MB, "
                      f"tree PSS {run.tree_pss_mb:.0f} MB, index {run.index_mb:.1f} MB", flush=True)
                keep = index_cache_path(corpus, label=generated_label(args.generated, args.seed)) if args.generated else None
                if keep and side.name == "ours" and i == args.repeat - 1 and not (keep / "CURRENT").exists():
                    shutil.rmtree(keep, ignore_errors=True)
                    shutil.move(str(index), str(keep))
                    print(f"  kept in {keep} (bench/query.py --generated {args.generated} uses it)", flush=True)
                else:
                    shutil.rmtree(index, ignore_errors=True)
        print_table(sides, count)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
