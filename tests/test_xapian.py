"""The Xapian backend gives the local backend's answers, over shards served by real
``xapian-tcpsrv`` processes on loopback, and survives a shard server that dies.

Both backends index the same articles: the shipped sample plus generated ones
(written here from our own word lists: reprints, Traditional characters, words
that occur split and contiguous). Every count a reader sees (totals, tiers,
folded reprints, pages, facets) must be equal; rankings may differ in order
(Xapian's BM25 uses one document length for all fields).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_ARTICLES, free_port, serving_shards
from tests.conftest import shard_location as _location

xapian = pytest.importorskip("xapian", reason="the xapian extra is not installed (pip install -e '.[xapian]')") \
    if os.environ.get("CI") != "true" else __import__("xapian")
TCPSRV = shutil.which("xapian-tcpsrv")
if TCPSRV is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("xapian-tcpsrv is missing: .ci/run installs Debian's xapian-tools")
    pytest.skip("xapian-tcpsrv is not installed (Debian: apt-get install xapian-tools)", allow_module_level=True)

from indexer import build_index, index_stats, update_index  # noqa: E402
from indexer._xapian import build_shards  # noqa: E402
from search import IndexUnavailableError, get_article, related, search, suggest  # noqa: E402
from search import _xapian  # noqa: E402

WORDS = ["合作", "发展", "经济", "齐齐哈尔", "哈尔滨", "冰雪", "旅游", "人工智能", "人工智慧", "網路", "网络",
         "科技", "农业", "大豆", "铁路", "冷链", "会议", "中共中央", "政治局", "会见", "代表团", "宁德时代",
         "比亚迪", "哥伦比亚", "赞比亚", "新能源", "汽车", "5G", "基站", "Python", "学校", "夜校", "医疗"]
SOURCES = ["北岭晚报", "江城日报", "南湾新闻网", "北城資訊網"]
CATEGORIES = ["科技", "经济", "农业农村", "区域合作"]


def _articles(n: int, seed: int = 3) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        if out and rng.random() < 0.06:  # a reprint: the same story, another id and source
            base = dict(rng.choice(out))
            base.update(id=f"gen-{i:04d}", source=rng.choice(SOURCES))
            out.append(base)
            continue
        sentences = ["".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) + rng.choice("。！？，")
                     for _ in range(rng.randint(2, 8))]
        article: dict[str, object] = {
            "id": f"gen-{i:04d}", "title": "".join(rng.sample(WORDS, 3)), "content": "".join(sentences),
            "source": rng.choice(SOURCES), "category": rng.choice(CATEGORIES),
        }
        if rng.random() < 0.9:
            article["date"] = f"{rng.randint(2019, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 08:00:00"
        out.append(article)
    return out


QUERIES = ["合作", "齐齐哈尔 合作", "哈", "习", "人工智能", "网络", '"冰雪旅游"', "中共中央", "比亚迪", "宁德时代",
           "经济 -会议", "合作 OR 冷链", "title:科技", "5g", "python 学校", "尔滨", "冷链 铁路 大豆", "不存在的词语",
           "source:北岭晚报 合作", "齐 哈", "医疗 网络"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xapian-corpus")
    shutil.copytree(SAMPLE_ARTICLES, folder / "sample")
    with open(folder / "generated.jsonl", "w", encoding="utf-8") as fh:
        for a in _articles(400):
            fh.write(json.dumps(a, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture(scope="module")
def indexes(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    whoosh_dir, xapian_dir = tmp_path_factory.mktemp("whoosh"), tmp_path_factory.mktemp("xapian")
    build_index([corpus], index_dir=whoosh_dir, procs=1)
    report = build_shards([corpus], index_dir=xapian_dir, shards=3, procs=1)
    assert report.indexed == 414
    return whoosh_dir, xapian_dir


def _counts(res):  # type: ignore[no-untyped-def]
    info = res.query_info
    return (res.total, info.regional_total, info.partial_total, info.folded, res.pages,
            {k: [(f.value, f.count) for f in v] for k, v in res.facets.items()})


def test_stats_lists_the_shard_stubs_that_servers_serve(indexes: tuple[Path, Path]) -> None:
    _, xapian_dir = indexes
    stats = index_stats(index_dir=xapian_dir)
    assert stats.backend == "xapian" and stats.articles == 414
    assert [Path(p).name for p in stats.shards] == ["shard-0.stub", "shard-1.stub", "shard-2.stub"]
    total = 0
    for stub, database in zip(stats.shards, stats.shard_databases):
        assert Path(stub).read_text("utf-8").split() == ["auto", database]
        total += xapian.Database(stub).get_doccount()
    assert total == 414


def test_remote_shards_count_what_the_local_index_counts(indexes: tuple[Path, Path]) -> None:
    whoosh_dir, xapian_dir = indexes
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        compared = 0
        for q in QUERIES:
            for kwargs in ({}, {"sort": "date"}, {"per_page": 3, "page": 2}, {"year": "2023"}, {"date_from": "2021-01-01"}):
                a = search(q, index_dir=whoosh_dir, **kwargs)
                for location in (remote, str(xapian_dir)):
                    b = search(q, index_dir=location, **kwargs)
                    assert _counts(b) == _counts(a), (q, kwargs, location)
                    assert [h.match for h in b.hits] == [h.match for h in a.hits], (q, kwargs)
                    if a.pages <= 1:  # every listed article is on the page: the same ones, maybe in another order
                        assert sorted((h.id, h.duplicates) for h in b.hits) == sorted((h.id, h.duplicates) for h in a.hits), (q, kwargs)
                    if kwargs.get("sort") == "date":
                        assert [h.published for h in b.hits] == [h.published for h in a.hits], q
                compared += 1
        assert compared == len(QUERIES) * 5
        assert any(search(q, index_dir=remote).query_info.regional_total for q in QUERIES)
        assert any(search(q, index_dir=remote).query_info.folded for q in QUERIES)


def test_articles_related_and_suggestions_over_the_network(indexes: tuple[Path, Path]) -> None:
    whoosh_dir, xapian_dir = indexes
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        hit = search("齐齐哈尔 合作", index_dir=remote).hits[0]
        view, local_view = get_article(hit.id, index_dir=remote, highlight_query="合作"), get_article(hit.id, index_dir=whoosh_dir, highlight_query="合作")
        assert view == local_view
        assert "<mark>合作</mark>" in view.body_html
        found = related(hit.id, index_dir=remote)
        assert found and hit.id not in [h.id for h in found]
        assert suggest("qiqi", index_dir=remote) == suggest("qiqi", index_dir=whoosh_dir)
        assert suggest("qiqi", index_dir=remote)
        reprinted = next(h for q in QUERIES for h in search(q, index_dir=remote).hits if h.duplicates)
        group = search("", index_dir=remote, reprints_of=reprinted.id)
        assert group.total == reprinted.duplicates + 1 == search("", index_dir=whoosh_dir, reprints_of=reprinted.id).total


def test_a_killed_shard_gives_partial_results_fast_and_a_replica_none_at_all(indexes: tuple[Path, Path],
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    whoosh_dir, xapian_dir = indexes
    full = search("合作", index_dir=whoosh_dir).total
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        assert search("合作", index_dir=remote).total == full
        servers[1][0].kill()  # the whole process group: open connections die too
        started = time.monotonic()
        res = search("合作", index_dir=remote)
        assert time.monotonic() - started < 2.0
        assert res.unavailable_shards == 1 and 0 < res.total < full
        servers[1][0].start()  # back on the same port: the next reconnection finds it
        monkeypatch.setattr(_xapian, "RECHECK_SECONDS", 0.0)
        assert search("合作", index_dir=remote).total == full
        for group in servers:
            group[0].kill()
        started = time.monotonic()
        with pytest.raises(IndexUnavailableError):
            search("合作", index_dir=remote)
        assert time.monotonic() - started < 2.0
    with serving_shards(xapian_dir, replicas=2) as servers:
        remote = _location(servers)
        assert search("合作", index_dir=remote).total == full
        servers[0][0].kill()
        res = search("合作", index_dir=remote)
        assert res.total == full and res.unavailable_shards == 0


def test_update_and_delete_reach_running_servers(indexes: tuple[Path, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, built = indexes
    xapian_dir = tmp_path / "xapian"
    shutil.copytree(built, xapian_dir, symlinks=True)
    for k, stub in enumerate(sorted(xapian_dir.glob("shard-*.stub"))):  # point the copy's stubs at the copy
        gen = (xapian_dir / "CURRENT").read_text("utf-8").strip()
        stub.write_text(f"auto {xapian_dir / gen / f'shard-{k}'}\n", encoding="utf-8")
    monkeypatch.setattr(_xapian, "RECHECK_SECONDS", 0.0)
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        assert search("独一无二的测试词", index_dir=remote).total == 0
        source = tmp_path / "new.jsonl"
        source.write_text(json.dumps({"id": "new-1", "title": "独一无二的测试词", "content": "这是一篇新文章，说的是独一无二的测试词。",
                                      "date": "2024-05-01"}, ensure_ascii=False) + "\n", encoding="utf-8")
        assert update_index([source], index_dir=xapian_dir).indexed == 1
        found = search("独一无二的测试词", index_dir=remote)
        assert found.total == 1 and found.hits[0].id == "new-1"
        from indexer import delete_articles

        report = delete_articles(["new-1", "no-such-id"], index_dir=xapian_dir)
        assert report.deleted == 1 and report.not_found == ["no-such-id"]
        assert search("独一无二的测试词", index_dir=remote).total == 0
        assert index_stats(index_dir=xapian_dir).articles == 414


def test_the_page_says_when_a_shard_is_missing(indexes: tuple[Path, Path]) -> None:
    from tests.conftest import serving
    import urllib.request

    _, xapian_dir = indexes
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        servers[2][0].kill()
        with serving(remote) as base:  # type: ignore[arg-type]
            with urllib.request.urlopen(f"{base}/?q=%E5%90%88%E4%BD%9C", timeout=10) as resp:
                page = resp.read().decode("utf-8")
                assert resp.status == 200
            assert "部分数据暂不可用" in page
            with urllib.request.urlopen(f"{base}/api/search?q=%E5%90%88%E4%BD%9C", timeout=10) as resp:
                assert json.loads(resp.read())["unavailable_shards"] == 1


def test_python_m_web_takes_a_xapian_location(indexes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from web import _cli

    _, xapian_dir = indexes
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(_cli, "serve", lambda app, **kw: calls.append({"app": app, **kw}))
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        _cli.main(["--index-dir", remote, "--workers", "1"])
        assert calls[-1]["app"].config["INDEX_DIR"] == remote  # type: ignore[attr-defined]
        assert capsys.readouterr().err == ""
        for group in servers:
            group[0].kill()
        _cli.main(["--index-dir", remote, "--workers", "1"])  # servers down: said, and served anyway
        assert "no shard of the index answers" in capsys.readouterr().err


def test_locations_name_shards_and_their_replicas() -> None:
    from search import IndexNotFoundError
    from search._shards import Shard, parse_location

    assert parse_location("xapian://h1:7001|h2:7001, h3:7002 ,/data/shard-2") == (
        Shard(("h1:7001", "h2:7001")), Shard(("h3:7002",)), Shard(("/data/shard-2",)))
    with pytest.raises(IndexNotFoundError):
        parse_location("xapian://, |")
    with pytest.raises(IndexUnavailableError):  # nothing listens there: a clear error, at once
        search("合作", index_dir=f"xapian://127.0.0.1:{free_port()}")
