"""Faults: writers killed at random moments, readers during a swap, two writers, a hostile corpus, a full disk.

The promise under test: the index is never lost and never half-written. A
``rebuild``, ``update`` or ``delete`` killed with SIGKILL at any moment leaves
exactly the old index or exactly the new one; the next run succeeds and cleans
up; queries never fail while the index changes under them; bad input is
skipped item by item with a reason; a full or read-only disk is a one-line
error and the previous index stays served.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from whoosh.filedb.filestore import FileStorage

import search
from indexer import IndexWriteError, _cli, _store, build_index, current_generation, update_index
from indexer import vocab as _vocab
from search import _index as search_cache
from tests.conftest import ROOT, serving

CLI = (sys.executable, "-m", "indexer")
RUN_TIMEOUT = 60  # seconds; a run that takes longer than this has hung
SEED = 20240518
REBUILD_KILLS, UPDATE_KILLS, DELETE_KILLS = 6, 5, 4
PICKUP_SECONDS = 5  # a finished change must be served within this

WORDS = tuple(
    "经济 合作 发展 城市 农业 科技 教育 医疗 交通 铁路 港口 能源 电力 水利 环境 保护 文化 旅游 体育 市场 企业 投资 "
    "项目 建设 改革 创新 人才 服务 社区 乡村 振兴 工业 制造 装备 数字 网络 数据 安全 生态 森林 湿地 冬季 游客 学生 "
    "学校 医院 疫苗 冷链 物流 列车 高速 航班 机场 口岸 贸易 出口 粮食 大豆 玉米 水稻 丰收 降雪 气温 黄河 长江 草原".split()
)
CITIES = tuple("北京 上海 广州 深圳 哈尔滨 齐齐哈尔 杭州 成都 武汉 西安 南京 重庆 长沙 昆明 兰州".split())
SOURCES = ("央视网", "新华网", "人民网")
REBUILD_MARK, UPDATE_MARK, REVISED_MARK = "观测站", "冰雕", "修订版"  # words only the changed index holds
STATE_QUERIES = ("经济 合作", "哈尔滨 冷链", '"高速列车"', REBUILD_MARK, UPDATE_MARK, REVISED_MARK, "guancezhan")
STATE_PREFIXES = ("观测", "冰", "bing", "hae")


# ---- generated articles ---------------------------------------------------------------------------


def make_article(rng: random.Random, article_id: str, *, extra: str = "") -> dict[str, str]:
    city = rng.choice(CITIES)

    def sentence(words: int) -> str:
        return city + "".join(rng.choice(WORDS) for _ in range(words)) + "。"

    paragraphs = [sentence(rng.randint(8, 14)) + extra + sentence(rng.randint(5, 9)) for _ in range(rng.randint(2, 4))]
    return {
        "id": article_id,
        "title": f"{city}{rng.choice(WORDS)}{rng.choice(WORDS)}{extra}",
        "date": f"20{rng.randint(10, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "source": rng.choice(SOURCES),
        "text": "\n".join(paragraphs),
    }


def corpus(n: int, *, seed: int, prefix: str = "a", extra: str = "") -> list[dict[str, str]]:
    """``n`` generated Chinese news articles with ids ``<prefix>0000``…; the same for the same seed."""
    rng = random.Random(seed)
    return [make_article(rng, f"{prefix}{i:04d}", extra=extra) for i in range(n)]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


# ---- a waitress server on loopback ----------------------------------------------------------------


class Client:
    """One keep-alive HTTP connection; ``get`` returns (status, body)."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # the next request reconnects
            raise

    def close(self) -> None:
        self.conn.close()


# ---- the state of an index, as readers see it -----------------------------------------------------


def stored_ids(index_dir: Path) -> set[str]:
    ix = _store.open_generation(current_generation(index_dir))
    with ix.searcher() as searcher:
        return {fields["id"] for fields in searcher.all_stored_fields()}


def all_results(query: str, index_dir: Path) -> tuple[Any, ...]:
    """Every hit of ``query`` (all pages) as (id, title, score), in a canonical order, with total and suggestion."""
    hits: list[tuple[str, str, float]] = []
    page = 1
    while True:
        res = search.search(query, index_dir=index_dir, page=page, per_page=100)
        hits += [(h.id, h.title, h.score) for h in res.hits]
        if page >= res.pages:
            break
        page += 1
    return res.total, res.suggestion, tuple(sorted(hits, key=lambda h: (-h[2], h[0])))


def index_state(index_dir: Path) -> dict[str, Any]:
    """What the index answers: its ids, the full results of fixed queries and some completions."""
    state: dict[str, Any] = {"ids": frozenset(stored_ids(index_dir))}
    for query in STATE_QUERIES:
        state[query] = all_results(query, index_dir)
    for prefix in STATE_PREFIXES:
        state["suggest " + prefix] = tuple(search.suggest(prefix, index_dir=index_dir))
    return state


def classify(index_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> str:
    try:
        state = index_state(index_dir)
    except Exception as exc:  # a damaged index is an outcome to report, not a crash of the test
        return f"CORRUPT ({type(exc).__name__}: {exc})"
    if state == old:
        return "old"
    if state == new:
        return "new"
    mixed = sorted(k for k in state if state[k] != old[k] and state[k] != new[k])
    partly = sorted(k for k in state if state[k] == new[k] != old[k])
    return f"MIX (new: {partly}; neither: {mixed})"


# ---- running the CLI ------------------------------------------------------------------------------


def cli(*args: str | Path, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def timed_cli(*args: str | Path) -> float:
    started = time.monotonic()
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def run_and_kill(args: tuple[str | Path, ...], delay: float) -> subprocess.Popen[bytes]:
    """Start ``python -m indexer ARGS`` and SIGKILL its process ``delay`` seconds later (if still running)."""
    proc = subprocess.Popen([*CLI, *map(str, args)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    return proc


def processes(*, group: int | None = None, parent: int | None = None) -> list[int]:
    """Live (not zombie) processes in process group ``group`` or children of ``parent``, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # the process ended meanwhile
        if state != "Z" and (int(pgrp) == group or int(ppid) == parent):
            found.append(int(stat.parent.name))
    return sorted(found)


def reap(proc: subprocess.Popen[bytes]) -> list[int]:
    """Kill what is left of ``proc``'s process group (worker processes it started); return their pids."""
    left = processes(group=proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return left


def kill_delays(rng: random.Random, seconds: float, kills: int) -> list[float]:
    """``kills`` moments spread over a run of ``seconds``: one uniformly random moment in each equal slice, shuffled."""
    delays = [rng.uniform(n * seconds / kills, (n + 1) * seconds / kills) for n in range(kills)]
    rng.shuffle(delays)
    return delays


def building_dirs(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob(f"{_store.BUILDING_PREFIX}*"))


# ---- shared corpora and indexes -------------------------------------------------------------------


@dataclass(frozen=True)
class Corpora:
    old: Path  # corpus A: the index every test starts from
    rebuilt: Path  # corpus B: part of A, some of A revised, some new (REBUILD_MARK), the rest dropped
    update: Path  # U: revisions of A's first articles plus new ones (UPDATE_MARK)
    deleted: tuple[str, ...]  # ids the delete tests remove
    pristine: Path  # an index of A
    old_state: dict[str, Any]
    new_ids: dict[str, str]  # marker word -> an id only the changed index holds


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Corpora:
    work = tmp_path_factory.mktemp("fault-corpora")
    a = corpus(150, seed=1)
    b = a[:110] + corpus(20, seed=2, extra=REVISED_MARK) + corpus(12, seed=3, prefix="b", extra=REBUILD_MARK)
    for revised, original in zip(b[110:130], a[110:130]):
        revised["id"] = original["id"]
    u = corpus(15, seed=4, extra=REVISED_MARK) + corpus(10, seed=5, prefix="u", extra=UPDATE_MARK)
    for revised, original in zip(u[:15], a[:15]):
        revised["id"] = original["id"]
    pristine = work / "pristine"
    old = write_jsonl(work / "a.jsonl", a)
    build_index([old], index_dir=pristine, procs=1)
    return Corpora(
        old=old, rebuilt=write_jsonl(work / "b.jsonl", b), update=write_jsonl(work / "u.jsonl", u),
        deleted=tuple(r["id"] for r in a[80:92]), pristine=pristine, old_state=index_state(pristine),
        new_ids={REBUILD_MARK: "b0000", UPDATE_MARK: "u0000"},
    )


@pytest.fixture()
def fresh_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every search() re-checks CURRENT and the Whoosh generation (no 0.5 s grace)."""
    monkeypatch.setattr(search_cache, "RECHECK_SECONDS", 0)


def copy_index(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def report(record_property: Any, name: str, lines: list[str]) -> None:
    print(f"\n{name}:\n  " + "\n  ".join(lines))
    record_property(name, " | ".join(lines))


# ---- crash safety: SIGKILL at random moments ------------------------------------------------------


@pytest.mark.usefixtures("fresh_reads")
def test_kill_rebuild_at_random_moments(corpora: Corpora, tmp_path: Path, record_property: Any) -> None:
    index = copy_index(corpora.pristine, tmp_path / "index")
    sources = {"A": corpora.old, "B": corpora.rebuilt}
    # Reference runs: how long a rebuild takes (1 and 2 worker processes), and what B looks like.
    seconds = {2: timed_cli("rebuild", corpora.old, "--index-dir", tmp_path / "ref-a", "--procs", "2"),
               1: timed_cli("rebuild", corpora.rebuilt, "--index-dir", tmp_path / "ref-b", "--procs", "1")}
    assert index_state(tmp_path / "ref-a") == corpora.old_state, "two worker processes must give the same index"
    states = {"A": corpora.old_state, "B": index_state(tmp_path / "ref-b")}
    rng = random.Random(SEED)
    delays = {procs: kill_delays(rng, seconds[procs], REBUILD_KILLS // 2) for procs in (1, 2)}
    current, lines, problems = "A", [], []
    for n in range(REBUILD_KILLS):
        procs = 2 if n % 2 == 0 else 1
        target = "B" if current == "A" else "A"
        delay = delays[procs][n // 2]
        proc = run_and_kill(("rebuild", sources[target], "--index-dir", index, "--procs", str(procs)), delay)
        orphans: list[int] = []
        try:
            outcome = classify(index, states[current], states[target])
            leftovers = building_dirs(index)
            done = cli("rebuild", sources[target], "--index-dir", index, "--procs", str(procs))
            if done.returncode != 0:
                orphans = reap(proc)  # to go on with the next kill point
                problems.append(f"kill {n} ({delay:.2f} s, procs {procs}): the next rebuild failed with exit "
                                f"{done.returncode}: {done.stderr.strip()} [still running: pids {orphans}]")
                done = cli("rebuild", sources[target], "--index-dir", index, "--procs", str(procs))
        finally:
            orphans += reap(proc)
        killed = "killed" if proc.returncode == -signal.SIGKILL else f"exited {proc.returncode}"
        lines.append(f"kill {n}: {delay:.2f}/{seconds[procs]:.2f} s, procs {procs}, {killed} -> {outcome}; "
                     f"left {len(leftovers)} .building-*" + (f"; orphaned workers {orphans}" if orphans else ""))
        if orphans:
            problems.append(f"kill {n}: processes of the killed rebuild left running: {orphans}")
        if outcome not in ("old", "new") or (proc.returncode == 0 and outcome != "new"):
            problems.append(f"kill {n} ({delay:.2f} s, procs {procs}): index is {outcome}")
        if done.returncode != 0:
            problems.append(f"kill {n}: the rebuild after clearing orphans still failed: {done.stderr.strip()}")
        for name in leftovers:
            if f"removed {name}, left by an interrupted run" not in done.stdout:
                problems.append(f"kill {n}: the next rebuild did not report removing {name}: {done.stdout!r}")
        if building_dirs(index):
            problems.append(f"kill {n}: .building-* folders left after the next rebuild: {building_dirs(index)}")
        if "Traceback" in done.stdout + done.stderr:
            problems.append(f"kill {n}: traceback in the next rebuild: {done.stderr}")
        if done.returncode == 0 and index_state(index) != states[target]:
            problems.append(f"kill {n}: the next rebuild did not give exactly index {target}")
        current = target
    report(record_property, "rebuild kill points", lines)
    assert not problems, "\n".join(problems)


@pytest.mark.usefixtures("fresh_reads")
def test_kill_rebuild_while_its_worker_processes_run(corpora: Corpora, tmp_path: Path, record_property: Any) -> None:
    """SIGKILL only the rebuild's own process (as ``kill -9 PID`` or the OOM killer would) while the
    Whoosh worker processes it started are indexing: the next run must still get the writer lock."""
    index = copy_index(corpora.pristine, tmp_path / "index")
    delay = random.Random(SEED).uniform(0, 0.3)
    proc = subprocess.Popen([*CLI, "rebuild", str(corpora.rebuilt), "--index-dir", str(index), "--procs", "2"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not processes(parent=proc.pid):
            assert proc.poll() is None, "the rebuild ended before it started its worker processes"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        outcome = classify(index, corpora.old_state, corpora.old_state)
        left = building_dirs(index)
        started = time.monotonic()
        done = cli("rebuild", corpora.rebuilt, "--index-dir", index, "--procs", "2")
        seconds = time.monotonic() - started
    finally:
        orphans = reap(proc)
    report(record_property, "rebuild killed while its workers run", [
        f"killed {delay:.2f} s after the workers started -> {outcome}; next rebuild exit {done.returncode} "
        f"in {seconds:.1f} s: {(done.stdout + done.stderr).strip()}; workers left running: {orphans}"])
    assert outcome == "old"
    assert done.returncode == 0, f"the next rebuild failed: {done.stderr.strip()} (left running: pids {orphans})"
    assert all(f"removed {name}, left by an interrupted run" in done.stdout for name in left)
    assert not orphans, f"worker processes of the killed rebuild are still running: {orphans}"


def _kill_in_place(corpora: Corpora, tmp_path: Path, command: tuple[str | Path, ...], kills: int,
                   seed: int) -> tuple[list[str], list[str]]:
    """Kill an ``update``/``delete`` (which commit inside the served generation) at random moments."""
    reference = copy_index(corpora.pristine, tmp_path / "reference")
    seconds = timed_cli(*command, "--index-dir", reference)
    new_state = index_state(reference)
    lines, problems = [], []
    for n, delay in enumerate(kill_delays(random.Random(seed), seconds, kills)):
        index = copy_index(corpora.pristine, tmp_path / f"kill-{n}")
        proc = run_and_kill((*command, "--index-dir", index), delay)
        try:
            outcome = classify(index, corpora.old_state, new_state)
            done = cli(*command, "--index-dir", index, "--json")
        finally:
            orphans = reap(proc)
        killed = "killed" if proc.returncode == -signal.SIGKILL else f"exited {proc.returncode}"
        lines.append(f"kill {n}: {delay:.2f}/{seconds:.2f} s, {killed} -> {outcome}")
        if outcome not in ("old", "new") or (proc.returncode == 0 and outcome != "new"):
            problems.append(f"kill {n} ({delay:.2f} s): index is {outcome}")
        if orphans:
            problems.append(f"kill {n}: processes left running after the kill: {orphans}")
        # A delete re-run after its commit finds nothing left to delete: exit 3, the ids listed as not found.
        ok_status = (0, 3) if command[0] == "delete" else (0,)
        if done.returncode not in ok_status or "Traceback" in done.stdout + done.stderr:
            problems.append(f"kill {n}: the next {command[0]} failed ({done.returncode}): {done.stderr.strip()}")
        elif stored_ids(index) != new_state["ids"]:
            problems.append(f"kill {n}: the next {command[0]} did not reach the new set of ids")
        elif command[0] == "delete" and sorted(json.loads(done.stdout)["not_found"]) != (
                [] if outcome == "old" else sorted(command[1:])):
            problems.append(f"kill {n}: the next delete misreported what it found: {done.stdout}")
    return lines, problems


@pytest.mark.usefixtures("fresh_reads")
def test_kill_update_at_random_moments(corpora: Corpora, tmp_path: Path, record_property: Any) -> None:
    lines, problems = _kill_in_place(corpora, tmp_path, ("update", corpora.update), UPDATE_KILLS, SEED + 1)
    report(record_property, "update kill points", lines)
    assert not problems, "\n".join(problems)


@pytest.mark.usefixtures("fresh_reads")
def test_kill_delete_at_random_moments(corpora: Corpora, tmp_path: Path, record_property: Any) -> None:
    lines, problems = _kill_in_place(corpora, tmp_path, ("delete", *corpora.deleted), DELETE_KILLS, SEED + 2)
    report(record_property, "delete kill points", lines)
    assert not problems, "\n".join(problems)


# ---- serving while the index changes --------------------------------------------------------------

READER_QUERIES = ("经济 合作", "哈尔滨", "高速 列车", "冷链物流")


class Readers:
    """Threads that query the index in a loop, through ``search()`` and over HTTP, recording every query."""

    def __init__(self, index_dir: Path, base_url: str, *, search_threads: int = 2, http_threads: int = 2) -> None:
        self.index_dir, self.base_url = index_dir, base_url
        self.records: list[tuple[str, float, float, str | None]] = []  # kind, start, end, error
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._search_loop, name=f"reader-search-{i}")
                        for i in range(search_threads)]
        self.threads += [threading.Thread(target=self._http_loop, name=f"reader-http-{i}") for i in range(http_threads)]

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def _search_loop(self) -> None:
        n = 0
        while not self.stopping.is_set():
            query = READER_QUERIES[n % len(READER_QUERIES)]
            n += 1
            started, error = time.monotonic(), None
            try:
                res = search.search(query, index_dir=self.index_dir)
                if res.total == 0 or not res.hits:
                    error = f"no results for {query!r}"
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.records.append(("search", started, time.monotonic(), error))

    def _http_loop(self) -> None:
        client, n = Client(self.base_url), 0
        paths = [f"/api/search?{urlencode({'q': q})}" for q in READER_QUERIES]
        paths += ["/api/suggest?q=ha", "/?" + urlencode({"q": READER_QUERIES[0]})]
        try:
            while not self.stopping.is_set():
                path = paths[n % len(paths)]
                n += 1
                started, error = time.monotonic(), None
                try:
                    status, body = client.get(path)
                    if status != 200:
                        error = f"{path} -> {status}: {body[:200]!r}"
                    elif path.startswith("/api/search") and not (json.loads(body)["ok"] and json.loads(body)["total"]):
                        error = f"{path} -> no results"
                except Exception as exc:
                    error = f"{path} -> {type(exc).__name__}: {exc}"
                self.records.append(("http", started, time.monotonic(), error))
        finally:
            client.close()

    def during(self, start: float, end: float) -> dict[str, int]:
        counts = {"search": 0, "http": 0}
        for kind, began, ended, _ in self.records:
            if began >= start and ended <= end:
                counts[kind] += 1
        return counts

    def failures(self) -> list[str]:
        return [f"{kind}: {error}" for kind, _, _, error in self.records if error]


def _served(client: Client, index_dir: Path, word: str, article_id: str) -> str | None:
    """None when both search() and the server find ``article_id`` by ``word``; else what they answered."""
    found = [h.id for h in search.search(word, index_dir=index_dir).hits]
    status, body = client.get("/api/search?" + urlencode({"q": word}))
    served = [h["id"] for h in json.loads(body)["hits"]] if status == 200 else []
    if article_id in found and article_id in served:
        return None
    return f"search() found {found}; the server ({status}) {served}"


@pytest.mark.parametrize("command", ["rebuild", "update"])
def test_readers_never_fail_while_the_index_changes(corpora: Corpora, tmp_path: Path, command: str,
                                                    record_property: Any) -> None:
    index = copy_index(corpora.pristine, tmp_path / "index")
    source, word = (corpora.rebuilt, REBUILD_MARK) if command == "rebuild" else (corpora.update, UPDATE_MARK)
    new_id = corpora.new_ids[word]
    with serving(index) as base_url, Readers(index, base_url) as readers:
        client = Client(base_url)
        try:
            assert _served(client, index, word, new_id) is not None
            time.sleep(0.3)
            start = time.monotonic()
            done = cli(command, source, "--index-dir", index)
            end = time.monotonic()
            assert done.returncode == 0, done.stderr
            deadline = end + PICKUP_SECONDS
            while (missing := _served(client, index, word, new_id)) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            picked_up = time.monotonic() - end
            assert missing is None, f"{new_id} not served {PICKUP_SECONDS} s after the {command}: {missing}"
            time.sleep(search_cache.RECHECK_SECONDS + 0.1)  # by now every serving thread has re-checked CURRENT
            for _ in range(8):
                missing = _served(client, index, word, new_id)
                assert missing is None, f"{new_id} not served by every thread after the {command}: {missing}"
        finally:
            client.close()
    during = readers.during(start, end)
    failures = readers.failures()
    report(record_property, f"readers during {command}", [
        f"{command} took {end - start:.2f} s; queries during it: {during['search']} search(), {during['http']} HTTP; "
        f"{len(readers.records)} in all, {len(failures)} failed; new index served {picked_up:.2f} s after it ended"])
    assert not failures, "\n".join(failures[:20])
    assert during["search"] > 0 and during["http"] > 0


# ---- one writer at a time -------------------------------------------------------------------------


def test_error_second_writer_fails_fast(corpora: Corpora, tmp_path: Path) -> None:
    index = copy_index(corpora.pristine, tmp_path / "index")
    big = write_jsonl(tmp_path / "big.jsonl", corpus(400, seed=9, prefix="w"))
    first = subprocess.Popen([*CLI, "rebuild", str(big), "--index-dir", str(index), "--procs", "1"], cwd=ROOT,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = index / _store.LOCK
        deadline = time.monotonic() + 30
        while lock.read_text().strip() != str(first.pid):  # the first writer holds the lock
            assert first.poll() is None and time.monotonic() < deadline, "the first rebuild never took the lock"
            time.sleep(0.02)
        seconds = time.monotonic()
        others = [subprocess.Popen([*CLI, *map(str, args), "--index-dir", str(index)], cwd=ROOT,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for args in (("rebuild", corpora.old), ("update", corpora.update), ("delete", "a0001"))]
        results = [proc.communicate(timeout=RUN_TIMEOUT) for proc in others]
        seconds = time.monotonic() - seconds
        still_running = first.poll() is None
        out, err = first.communicate(timeout=RUN_TIMEOUT)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    for proc, (o, e) in zip(others, results):
        assert proc.returncode == 1, (o, e)
        assert e.startswith("error: another") and e.count("\n") == 1, e
        assert "Traceback" not in o + e
    assert still_running, f"the second writers took {seconds:.1f} s: they waited instead of failing fast"
    assert first.returncode == 0, err
    assert stored_ids(index) == {f"w{i:04d}" for i in range(400)}
    assert "Traceback" not in out + err


# ---- a hostile corpus -----------------------------------------------------------------------------

HUGE_BYTES = 50 * 2**20


def _hostile_corpus(root: Path) -> dict[str, str]:
    """Write bad and good items side by side; return {good id: a word to find it by}."""
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "binary.txt").write_bytes(random.Random(1).randbytes(4096))
    (root / "binary.html").write_bytes(b"\x00\x01\x02GIF89a" + random.Random(2).randbytes(2048))
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + random.Random(3).randbytes(2048))
    gb = "哈尔滨冰雪大世界开园\n发布时间：2024-01-05 09:00\n哈尔滨冰雪大世界今天正式开园，游客可以欣赏冰雕雪雕作品".encode("gb18030")
    (root / "truncated-gb18030.txt").write_bytes(gb[:-1])  # the last character cut in half
    (root / "lying-meta.html").write_bytes(
        '<html><head><meta charset="gb2312"><title>广州地铁新线开通</title></head><body><article>'
        "<h1>广州地铁新线开通</h1><p>广州地铁十八号线今天开通运营，乘客从南沙到市中心只要半小时左右。</p>"
        "</article></body></html>".encode("utf-8"))
    with open(root / "huge.txt", "wb") as fh:
        line = "超大文件的一行文字。\n".encode("utf-8")
        fh.write(line * (HUGE_BYTES // len(line) + 1))
    (root / "deep.html").write_text(
        "<html><body>" + "<div>" * 10_000 + "<p>最深处的段落讲述了深圳科技园区的创新故事和人才引进政策。</p>"
        + "</div>" * 10_000 + "</body></html>", "utf-8")
    records = [
        {"id": "j-good", "title": "成都大熊猫基地迎来新生幼崽", "date": "2024-07-01", "text": "成都大熊猫繁育研究基地迎来两只新生幼崽。"},
        "{not json",
        '{"id": "j-cut", "title": "截断的记录',
        [1, 2, 3],
        {"id": "j-no-title", "date": "2024-03-01", "text": "没有标题的文章讲述了杭州西湖的春天景色。"},
        {"id": "j-no-date", "title": "没有日期的新闻", "text": "这篇新闻没有发布日期，讲的是武汉长江大桥。"},
        {"id": "j-bad-date", "title": "日期不可能的新闻", "date": "2023-02-30", "text": "这篇新闻的日期是二月三十日，讲的是西安城墙。"},
        {"id": "dup", "title": "重复编号的第二篇", "text": "第二篇带有重复编号的文章，讲昆明滇池。"},
    ]
    (root / "records.jsonl").write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n", "utf-8")
    bad_byte = json.dumps({"id": "j-bad-byte", "title": "坏字节的记录", "text": "这一行的中间有一个坏字节，讲的是青岛啤酒节。"},
                          ensure_ascii=False).encode()
    with open(root / "records.jsonl", "ab") as fh:
        fh.write(b"[" * 100_000 + b"]" * 100_000 + b"\n")  # line 9: json.loads raises RecursionError
        fh.write(bad_byte[:70] + b"\xff" + bad_byte[71:] + b"\n")  # line 10: one invalid UTF-8 byte
        fh.write(json.dumps({"id": "j-big-title", "title": "巨" * 1_750_000, "text": "标题有五百万字节，正文讲述了厦门鼓浪屿。"},
                            ensure_ascii=False).encode() + b"\n")  # line 11: a 5 MB title
        fh.write('{"id": "j-half", "title": "\\ud83d", "text": "\\udc80半个字符讲了郑州。"}\n'.encode())  # line 12: lone surrogate escapes
    outside = root.parent / "outside.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n", "utf-8")
    (root / "passwd-link.txt").symlink_to(outside)
    (root / os.fsdecode(b"\xd0\xc2\xce\xc5.txt")).write_text(  # 新闻 in GBK: a file name that is not UTF-8
        "国标文件名的新闻\n发布时间：2024-03-01 08:00\n文件名不是UTF-8的新闻讲述了长春电影节。\n", "utf-8")
    damaged = bytearray(("牡丹江雪乡开始接待游客\n发布时间：2024-12-01 08:00\n"
                         + "牡丹江雪乡的民宿今年冬天开始接待游客，木屋和雪景吸引了很多人。" * 20).encode("gb18030"))
    for k in range(5):
        damaged[len(damaged) // 2 + 40 * k] = 0xFF
    (root / "gb18030-damaged.txt").write_bytes(bytes(damaged))
    write_jsonl(root / "a-first.jsonl", [{"id": "dup", "title": "重复编号的第一篇", "text": "第一篇带有重复编号的文章，讲兰州拉面。"}])
    (root / "新闻 资料").mkdir()
    (root / "新闻 资料" / "南京 灯会.txt").write_text(
        "南京夫子庙灯会开幕\n发布时间：2024-02-10 19:00\n南京夫子庙秦淮灯会今晚开幕，市民游客赏灯过年。\n", "utf-8")
    (root / "loop").symlink_to("loop")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    (root / "新闻 资料" / "up").symlink_to("..", target_is_directory=True)
    return {"j-good": "大熊猫", "j-no-title": "西湖", "j-no-date": "长江大桥", "j-bad-date": "西安城墙", "dup": "兰州拉面",
            "新闻 资料/南京 灯会.txt": "夫子庙", "lying-meta.html": "十八号线", "j-bad-byte": "青岛啤酒节",
            "j-big-title": "鼓浪屿", "j-half": "郑州", "\\xd0\\xc2\\xce\\xc5.txt": "长春电影节", "gb18030-damaged.txt": "雪乡"}


def test_error_hostile_corpus_is_skipped_item_by_item(tmp_path: Path, record_property: Any) -> None:
    good = _hostile_corpus(tmp_path / "src")
    index = tmp_path / "index"
    done = cli("rebuild", tmp_path / "src", "--index-dir", index, "--json", "--procs", "1")
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    reasons = {s["item"]: s["reason"] for s in result["skipped"]}
    report(record_property, "hostile corpus",
           [f"indexed {result['indexed']}", *(f"{item}: {reason}" for item, reason in reasons.items())])
    assert all(r.strip() and "\n" not in r for r in reasons.values())
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"] and "binary" in reasons["binary.html"]
    assert "unsupported file type" in reasons["photo.jpg"]
    assert reasons["huge.txt"].startswith("file too large")
    assert "invalid JSON" in reasons["records.jsonl:2"] and "invalid JSON" in reasons["records.jsonl:3"]
    assert "not a JSON object" in reasons["records.jsonl:4"]
    assert reasons["records.jsonl:8"].startswith("duplicate id 'dup'")
    for link in ("loop", "ping", "pong"):
        assert "symbolic links" in reasons[link]
    assert reasons["records.jsonl:9"] == "invalid JSON (nested too deeply)"
    assert reasons["passwd-link.txt"] == "symbolic link to a file outside SOURCE"
    notes = {n["item"]: n["note"] for n in result["notes"]}
    assert notes["records.jsonl:10"].endswith("invalid UTF-8 byte sequences replaced with U+FFFD")
    assert notes["records.jsonl:11"] == "title cut to 200 of 1,750,000 characters"
    assert notes["records.jsonl:12"] == "lone surrogate escapes (half characters) replaced with U+FFFD"
    assert notes["gb18030-damaged.txt"].endswith("invalid GB18030 byte sequences replaced with U+FFFD")
    assert "undecodable bytes" in notes["\\xd0\\xc2\\xce\\xc5.txt"]
    ids = stored_ids(index)
    assert set(good) <= ids
    assert not any("up/" in i for i in ids), "a symlinked folder was followed"
    for article_id, word in good.items():
        assert article_id in [h.id for h in search.search(word, index_dir=index).hits], word
    articles = {i: search.get_article(i, index_dir=index) for i in ("j-no-title", "j-no-date", "j-bad-date", "dup")}
    assert articles["j-no-title"].title_derived and articles["j-no-title"].title.startswith("没有标题的文章")
    assert articles["j-no-date"].published is None and articles["j-bad-date"].published is None
    assert articles["dup"].title == "重复编号的第一篇"
    assert search.get_article("lying-meta.html", index_dir=index).title == "广州地铁新线开通"
    assert len(search.get_article("j-big-title", index_dir=index).title) == 200
    assert search.get_article("gb18030-damaged.txt", index_dir=index).title == "牡丹江雪乡开始接待游客"
    assert not search.search("root", index_dir=index).hits, "a symlink out of the folder was followed"
    # Neither indexed nor skipped would be an item silently lost.
    for item in ("truncated-gb18030.txt", "deep.html"):
        assert item in ids or item in reasons, item
    if "truncated-gb18030.txt" in ids:
        assert search.get_article("truncated-gb18030.txt", index_dir=index).title == "哈尔滨冰雪大世界开园"
    if "deep.html" in ids:
        assert "深圳科技园区" in search.get_article("deep.html", index_dir=index).body


# ---- a full disk, a read-only folder --------------------------------------------------------------


def _no_space(name: str) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)


def fill_disk_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Make the write of one kind of file fail with ENOSPC, as a disk filling up would."""
    if point == "segment":  # Whoosh creating the new segment's term or postings file
        original = FileStorage.create_file

        def create_file(self: FileStorage, name: str, *args: Any, **kwargs: Any) -> Any:
            if name.endswith((".seg", ".trm", ".pst")):
                raise _no_space(name)
            return original(self, name, *args, **kwargs)

        monkeypatch.setattr(FileStorage, "create_file", create_file)
        return
    module, prefix = {"vocabulary": (_vocab, "vocab.tsv"), "metadata": (_store, f".{_store.META}"),
                      "pointer": (_store, f".{_store.CURRENT}")}[point]

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if Path(file).name.startswith(prefix) and any(c in mode for c in "wax+"):
            raise _no_space(str(file))
        return builtins.open(file, mode, *args, **kwargs)

    monkeypatch.setattr(module, "open", open_, raising=False)


@pytest.fixture()
def small_index(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(index of 40 articles, a JSONL of 40 others, a JSONL of updates) for in-process fault tests."""
    a = write_jsonl(tmp_path / "a.jsonl", corpus(40, seed=11))
    b = write_jsonl(tmp_path / "b.jsonl", corpus(40, seed=12, prefix="b", extra=REBUILD_MARK))
    u = write_jsonl(tmp_path / "u.jsonl", corpus(5, seed=13, extra=REVISED_MARK) + corpus(5, seed=14, prefix="u",
                                                                                        extra=UPDATE_MARK))
    build_index([a], index_dir=tmp_path / "index", procs=1)
    return tmp_path / "index", b, u


def assert_kept_then_rebuilt(index: Path, before: object, other: Path, *, procs: int) -> None:
    """After a failed rebuild: the served index is unchanged, nothing is left half-built,
    and the next rebuild (space again) succeeds."""
    assert index_state(index) == before
    assert not building_dirs(index)
    assert build_index([other], index_dir=index, procs=procs).indexed == 40


@pytest.mark.usefixtures("fresh_reads")
@pytest.mark.parametrize("point", ["segment", "vocabulary", "metadata", "pointer"])
def test_error_disk_full_during_rebuild_keeps_previous_index(small_index: tuple[Path, Path, Path], point: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    index, other, _ = small_index
    before = index_state(index)
    with monkeypatch.context() as m:
        fill_disk_at(m, point)
        with pytest.raises(IndexWriteError, match="previous index is intact") as info:
            build_index([other], index_dir=index, procs=1)
    assert "No space left on device" in str(info.value)
    assert_kept_then_rebuilt(index, before, other, procs=1)


@pytest.mark.usefixtures("fresh_reads")
def test_error_in_a_worker_process_fails_the_rebuild_and_keeps_previous_index(
        small_index: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """A worker that cannot write its segment must not leave an index missing its articles."""
    index, other, _ = small_index
    before = index_state(index)
    parent = os.getpid()
    original = FileStorage.create_file

    def create_file(self: FileStorage, name: str, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent and name.endswith(".pst"):
            raise _no_space(name)
        return original(self, name, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(FileStorage, "create_file", create_file)
        with pytest.raises(IndexWriteError, match="previous index is intact") as info:
            build_index([other], index_dir=index, procs=2)
    assert "No space left on device" in str(info.value)
    assert "Traceback" not in capfd.readouterr().err
    assert_kept_then_rebuilt(index, before, other, procs=2)


@pytest.mark.usefixtures("fresh_reads")
@pytest.mark.parametrize("point", ["segment", "vocabulary", "metadata"])
def test_error_disk_full_during_update_keeps_previous_index(small_index: tuple[Path, Path, Path], point: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    index, _, updates = small_index
    before = index_state(index)
    with monkeypatch.context() as m:
        fill_disk_at(m, point)
        with pytest.raises(IndexWriteError, match="previous index is intact"):
            update_index([updates], index_dir=index)
    assert index_state(index) == before, "the error says the previous index is intact, but it changed"
    assert update_index([updates], index_dir=index).indexed == 5  # space again: the next update works


@pytest.mark.usefixtures("fresh_reads")
def test_error_disk_full_cli_is_one_line(small_index: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    index, other, _ = small_index
    before = index_state(index)
    fill_disk_at(monkeypatch, "segment")
    assert _cli.main(["rebuild", str(other), "--index-dir", str(index), "--procs", "1"]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("error: cannot write the index") and err.count("\n") == 1, err
    assert "No space left on device" in err and "previous index is intact" in err
    assert "Traceback" not in out + err
    assert index_state(index) == before


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``folder`` made read-only: chmod 0o555, or, for root (whom chmod does not stop), EACCES on creating in it."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "chmod 0o555"
        finally:
            folder.chmod(0o755)
        return
    real_mkdir, real_os_open = os.mkdir, os.open

    def denied(path: Any) -> PermissionError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    def mkdir(path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        if Path(path).parent == folder:
            raise denied(path)
        real_mkdir(path, mode, dir_fd=dir_fd)

    def os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if Path(path).parent == folder and flags & os.O_CREAT and not Path(path).exists():
            raise denied(path)
        return real_os_open(path, flags, mode, dir_fd=dir_fd)

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, Path)) and Path(file).parent == folder and any(c in mode for c in "wax+") \
                and not Path(file).exists():
            raise denied(file)
        return real_open(file, mode, *args, **kwargs)

    real_open = builtins.open
    with monkeypatch.context() as m:
        m.setattr(os, "mkdir", mkdir)
        m.setattr(os, "open", os_open)
        m.setattr(builtins, "open", open_)
        yield "simulated EACCES (running as root)"


@pytest.mark.usefixtures("fresh_reads")
def test_error_read_only_index_folder(small_index: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    index, other, _ = small_index
    before = index_state(index)
    with read_only(index.resolve(), monkeypatch):
        with pytest.raises(IndexWriteError, match="previous index is intact"):
            build_index([other], index_dir=index, procs=1)
        status = _cli.main(["rebuild", str(other), "--index-dir", str(index), "--procs", "1"])
    out, err = capsys.readouterr()
    assert status == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "previous index is intact" in err, err
    assert "Traceback" not in out + err
    assert index_state(index) == before
