"""``python -m indexer`` as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SAMPLE_ARTICLES, require_data


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_rebuild_stats_and_json(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    done = run("rebuild", str(SAMPLE_ARTICLES), "--index-dir", ix, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["indexed"] >= 12 and report["skipped"] == []
    stats = run("stats", "--index-dir", ix)
    assert stats.returncode == 0 and "articles:" in stats.stdout


def test_index_dir_from_environment(tmp_path: Path) -> None:
    ix = tmp_path / "env-ix"
    done = run("rebuild", str(SAMPLE_ARTICLES), "--quiet", env={"ZHSEARCH_INDEX_DIR": str(ix)})
    assert done.returncode == 0 and done.stdout == ""
    assert (ix / "CURRENT").exists()


def test_seeds_and_real_data_rebuild(tmp_path: Path) -> None:
    seeds = require_data("seeds")
    sogou = require_data("sogou-news-sample", "raw")
    html = require_data("cctv-xwlb-html", "html")
    done = run("rebuild", str(seeds), str(sogou), str(html), "--index-dir", str(tmp_path / "ix"), "--json")
    report = json.loads(done.stdout)
    assert done.returncode in (0, 3), done.stderr
    assert report["indexed"] >= 2 + 300 + 320 - 5


def test_error_skips_set_exit_status_and_are_listed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.txt").write_text("标题\n正文。\n", "utf-8")
    (src / "empty.txt").write_bytes(b"")
    done = run("rebuild", str(src), "--index-dir", str(tmp_path / "ix"))
    assert done.returncode == 3
    assert "skipped empty.txt: empty file" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_error_missing_index_is_one_line(tmp_path: Path) -> None:
    done = run("stats", "--index-dir", str(tmp_path / "none"))
    assert done.returncode == 1
    assert done.stderr.startswith("error: no index in") and done.stderr.count("\n") == 1


def test_delete_unknown_id_exit_status(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    assert run("rebuild", str(SAMPLE_ARTICLES), "--index-dir", ix, "-q").returncode == 0
    done = run("delete", "no-such-id", "--index-dir", ix)
    assert done.returncode == 3 and "not found 1" in done.stdout


def test_analyze_prints_both_fields() -> None:
    done = run("analyze", "齊齊哈爾的對口合作", "--json")
    data = json.loads(done.stdout)
    words = [(t["token"], t["position"], t["text"]) for t in data["fields"]["word"]]
    assert ("齐齐哈尔", 0, "齊齊哈爾") in words
    chars = [t["token"] for t in data["fields"]["char"]]
    assert [c for c in chars if len(c) == 2][:3] == ["齐齐", "齐哈", "哈尔"]
    assert chars[:3] == ["齐", "齐齐", "齐"]


def test_file_names_cannot_forge_report_lines_or_reach_the_terminal(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad\nskipped x: forged\x1b[31m\u202e.txt").write_text("", "utf-8")
    (src / "ok.txt").write_text("齐齐哈尔装备制造业合作\n\n齐齐哈尔的装备制造企业与广州开展对口合作。", "utf-8")
    done = run("rebuild", str(src), "--index-dir", str(tmp_path / "ix"))
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout
    assert [line for line in lines if line.startswith("  skipped ")] == [
        "  skipped bad\\x0askipped x: forged\\x1b[31m\\u202e.txt: empty file"]
