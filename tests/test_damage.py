"""A damaged index file is a typed error and a 503 that says to rebuild, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer import build_index
from search import IndexDamagedError, get_article, search
from search._index import CACHE
from tests.conftest import SAMPLE_ARTICLES
from web import create_app

QUERIES = ("哈尔滨", "齐齐哈尔 合作", "冷链", "人工智能", "5G")


def _flip(path: Path, start: float, count: int = 256) -> None:
    data = bytearray(path.read_bytes())
    at = int(len(data) * start)
    for i in range(at, min(len(data), at + count)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.fixture()
def damaged(tmp_path: Path) -> Path:
    build_index([SAMPLE_ARTICLES], tmp_path, procs=1)
    (stored,) = tmp_path.glob("gen-*/*_stored.col")
    _flip(stored, 0.3)
    _flip(stored, 0.7)
    CACHE.clear()
    return tmp_path


def test_error_damaged_stored_fields_raise_a_typed_error(damaged: Path) -> None:
    raised = 0
    for q in QUERIES:
        try:
            search(q, index_dir=damaged)
        except IndexDamagedError as exc:
            assert "rebuild" in str(exc)
            raised += 1
    assert raised


def test_error_damaged_index_is_a_503_on_the_page_and_the_api(damaged: Path) -> None:
    client = create_app({"INDEX_DIR": damaged}).test_client()
    statuses = set()
    for q in QUERIES:
        api = client.get("/api/search", query_string={"q": q})
        page = client.get("/", query_string={"q": q})
        statuses |= {api.status_code, page.status_code}
        if api.status_code == 503:
            body = api.get_json()
            assert body["ok"] is False and body["status"] == 503 and "rebuild" in body["error"]
    assert 503 in statuses and 500 not in statuses


def test_error_damaged_article_page_is_a_503(damaged: Path) -> None:
    client = create_app({"INDEX_DIR": damaged}).test_client()
    codes = {client.get(f"/article/{path.name}").status_code for path in SAMPLE_ARTICLES.glob("*.txt")}
    assert codes <= {200, 404, 503} and 503 in codes
    with pytest.raises(IndexDamagedError):
        for path in SAMPLE_ARTICLES.glob("*.txt"):
            get_article(path.name, index_dir=damaged)
