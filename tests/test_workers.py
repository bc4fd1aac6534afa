"""``python -m web --workers 2``: gunicorn's worker processes, as a user starts them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from indexer import build_index
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def _get(port: int, target: bytes) -> tuple[int, dict[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:  # raw bytes, as curl sends them
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _write(path: Path, records: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")


def test_two_workers_serve_raw_utf8_pick_up_a_rebuild_and_stop_together(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    _write(source, [{"id": "a", "title": "青蒿素研究", "date": "2022-01-01", "text": "青蒿素是一种药物。"}])
    index = tmp_path / "ix"
    build_index([source], index_dir=index, procs=1)
    port = _free_port()
    err = (tmp_path / "server.err").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "web", "--index-dir", str(index), "--port", str(port), "--workers", "2", "--threads", "2"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.err").read_text()[-2000:]
                time.sleep(0.2)
        while len(_children(server.pid)) < 2:  # gunicorn forks its workers after binding
            assert time.monotonic() < deadline
            time.sleep(0.2)
        workers = _children(server.pid)
        assert len(workers) == 2
        status, body = _get(port, "/api/search?q=青蒿素".encode())
        assert status == 200 and body["total"] == 1
        _write(source, [{"id": "a", "title": "青蒿素研究", "date": "2022-01-01", "text": "青蒿素是一种药物。"},
                        {"id": "b", "title": "青蒿素新药", "date": "2022-03-01", "text": "新的青蒿素药物。"}])
        build_index([source], index_dir=index, procs=1)
        time.sleep(1.0)  # past every worker's recheck of CURRENT
        totals = {_get(port, b"/api/search?q=" + quote("青蒿素").encode())[1]["total"] for _ in range(12)}
        assert totals == {2}  # every worker serves the new generation
    finally:
        workers = _children(server.pid) if server.poll() is None else []
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        err.close()
    assert server.returncode == 0
    for pid in workers:  # the master took its workers with it
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
