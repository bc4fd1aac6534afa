"""The Xapian backend gives the local backend's answers, over shards served by real
``xapian-tcpsrv`` processes on loopback, and survives a shard server that dies.

Both backends index the same articles: the shipped sample plus generated ones
(written here from our own word lists: reprints, Traditional characters, words
that occur split and contiguous). Every count a reader sees (totals, tiers,
folded reprints, pages, facets) must be equal. Scores are per-field BM25 on both;
Xapian's IDF is its own (``log((N - n + 0.5) / (n + 0.5))``, raised below 2), so
orders may differ a little: every Xapian score is checked against that formula,
worked out here from the shards' own statistics, wdfs and positions.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import threading
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

from whoosh import query as Q  # noqa: E402
from whoosh.index import open_dir  # noqa: E402
from whoosh.util.numeric import length_to_byte  # noqa: E402

from indexer import build_index, index_stats, update_index  # noqa: E402
from indexer import schema as F  # noqa: E402
from indexer import xapianformat as X  # noqa: E402
from indexer._build import BuildReport, rebuild_documents  # noqa: E402
from indexer._xapian import _field_lengths, build_shards  # noqa: E402
from search import IndexUnavailableError, IndexVersionError, get_article, related, search, suggest  # noqa: E402
from search import _query, _xapian  # noqa: E402

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
# Several words each: the proximity pairs of the ranking (a bonus only where the words stand close).
RANKED_QUERIES = ["齐齐哈尔 合作", "冷链 铁路 大豆", "医疗 网络", "人工智能 科技 汽车", "经济发展合作", "会见 代表团 会议",
                  "新能源汽车 比亚迪", "冰雪 旅游 哈尔滨 铁路", "农业 大豆 冷链 合作", "5G 基站 合作", "Python 学校 夜校"]


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


LOCAL_FIELD = {X.TITLE_WORD: F.TITLE, X.BODY_WORD: F.BODY, X.TITLE_GRAM: F.TITLE_CHARS, X.BODY_GRAM: F.BODY_CHARS}


def test_wdfs_are_normalised_by_the_field_lengths_of_the_local_index(corpus: Path, indexes: tuple[Path, Path]) -> None:
    """The shards' wdfs use each field's length and average as the local index keeps them."""
    whoosh_dir, xapian_dir = indexes
    docs = list(rebuild_documents([corpus], BuildReport("rebuild", ""), None, follow_symlinks=False))
    meta = json.loads(next(xapian_dir.glob("gen-*/zhsearch.json")).read_text("utf-8"))
    with open_dir(str(next(whoosh_dir.glob("gen-*")))).searcher() as s:
        reader = s.reader()
        for prefix, field in LOCAL_FIELD.items():  # fewer articles than the sample: the exact averages
            assert meta["lengths"][prefix] == pytest.approx(reader.field_length(field) / reader.doc_count_all())
        titled = 0
        for doc in docs:
            docnum = s.document_number(id=doc[F.ID_FIELD])
            lengths = _field_lengths(doc)
            for prefix, field in LOCAL_FIELD.items():
                assert length_to_byte(int(lengths[prefix])) == length_to_byte(reader.doc_field_length(docnum, field, 0)), (doc[F.ID_FIELD], field)
            titled += lengths[X.TITLE_WORD] > 0
        assert len(docs) == 414 and titled > 400
    db = _stubs(xapian_dir)
    doc = next(iter(db.postlist(X.ID + "gen-0001")))
    wdfs = {t.term.decode("utf-8"): t.wdf for t in db.termlist(doc.docid)}
    assert {t[:1] for t, w in wdfs.items() if w > 1} == set(X.RANKED)  # counts, normalised and scaled


def _stubs(xapian_dir: Path) -> xapian.Database:
    db = xapian.Database()
    for stub in sorted(xapian_dir.glob("shard-*.stub")):
        db.add_database(xapian.Database(str(stub)))
    return db


def _in_place(positions: list[list[int]], window: int) -> bool:
    """Xapian's OP_PHRASE over two terms: the second within ``window - 1`` positions after the first."""
    first, second = positions
    return any(0 < b - a < window for a in first for b in second)


def _expected_score(db: xapian.Database, clauses: list[Q.Query], article_id: str) -> float:
    """A hit's score worked out by hand: Xapian's BM25 (k1 in wdf units, b 0, wqf 1) of each ranking
    clause over the shards' statistics, a proximity pair's words only where they stand close."""
    docid = next(iter(db.postlist(X.ID + article_id))).docid
    wdfs = {t.term.decode("utf-8"): t.wdf for t in db.termlist(docid)}
    n, k1 = db.get_doccount(), X.BM25_PARAMS[0]

    def weight(term: str | None, boost: float) -> float:
        wdf = wdfs.get(term or "")
        if not wdf:
            return 0.0
        ratio = (n - db.get_termfreq(term) + 0.5) / (db.get_termfreq(term) + 0.5)
        ratio = ratio * 0.5 + 1 if ratio < 2 else ratio
        return boost * math.log(ratio) * (k1 + 1) * wdf / (k1 + wdf)

    total = 0.0
    for c in clauses:
        if isinstance(c, Q.Term):
            total += weight(X.term(c.fieldname, c.text), c.boost)
        elif isinstance(c, Q.Phrase):
            terms = [X.term(c.fieldname, w) for w in c.words]
            assert len(terms) == 2 and terms[0] != terms[1]
            if all(t in wdfs for t in terms):
                positions = [list(db.positionlist(docid, t)) for t in terms]
                if _in_place(positions, (len(terms) - 1) * max(1, c.slop) + 1):
                    total += sum(weight(t, c.boost) for t in terms)
        else:
            raise AssertionError(f"unexpected ranking clause {c!r}")
    return total / X.SCORE_SCALE


def _words_apart(db: xapian.Database, clauses: list[Q.Query], article_id: str) -> int:
    """How many of the proximity pairs have both words in the article, but not close."""
    docid = next(iter(db.postlist(X.ID + article_id))).docid
    held = {t.term.decode("utf-8") for t in db.termlist(docid)}
    out = 0
    for c in clauses:
        if isinstance(c, Q.Phrase):
            terms = [X.term(c.fieldname, w) for w in c.words]
            if all(t in held for t in terms):
                out += not _in_place([list(db.positionlist(docid, t)) for t in terms], (len(terms) - 1) * c.slop + 1)
    return out


def test_every_hit_scores_as_per_field_bm25_over_the_shards(indexes: tuple[Path, Path]) -> None:
    """Over real servers, each listed article's score is the hand-worked one: no proximity bonus
    where the words are apart (Xapian 1.4 adds it unchecked under an OR), lengths field by field."""
    _, xapian_dir = indexes
    stubs = _stubs(xapian_dir)
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        checked = apart = 0
        for q in RANKED_QUERIES:
            clauses = _query.ranking_clauses(_query.parse(q))
            assert any(isinstance(c, Q.Phrase) for c in clauses), q
            res = search(q, index_dir=remote, per_page=50)
            assert res.hits, q
            for hit in res.hits:
                expected = _expected_score(stubs, clauses, hit.id)
                assert hit.score == pytest.approx(expected, abs=1e-4), (q, hit.id)  # scores are shown to 4 decimals
                checked += 1
                apart += _words_apart(stubs, clauses, hit.id)
        assert checked > 200 and apart > 20  # listed articles with the words of a pair, apart


def test_worker_processes_write_the_shards_one_process_writes(corpus: Path, indexes: tuple[Path, Path], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import _xapian as build

    _, one = indexes
    monkeypatch.setattr(build, "BATCH", 5)  # many small tasks, few in flight: the window is exercised
    monkeypatch.setattr(build, "IN_FLIGHT", 1)
    monkeypatch.setattr(X, "AVERAGE_SAMPLE", 50)  # the sample ends inside the corpus
    two = tmp_path / "two"
    assert build_shards([corpus], index_dir=two, shards=3, procs=2).indexed == 414
    a, b = _stubs(one), _stubs(two)
    assert a.get_doccount() == b.get_doccount() == 414
    sampled = json.loads(next(two.glob("gen-*/zhsearch.json")).read_text("utf-8"))["lengths"]
    full = json.loads(next(one.glob("gen-*/zhsearch.json")).read_text("utf-8"))["lengths"]
    assert sampled != full  # the first 50 articles' averages, not all 414's
    for item in a.postlist(""):
        article = X.decode_stored(a.get_document(item.docid).get_data())[F.ID_FIELD]
        other = next(iter(b.postlist(X.ID + article))).docid
        terms_a = {t.term: (t.wdf, list(a.positionlist(item.docid, t.term))) for t in a.termlist(item.docid)}
        terms_b = {t.term: (t.wdf, list(b.positionlist(other, t.term))) for t in b.termlist(other)}
        assert terms_a.keys() == terms_b.keys() and all(terms_a[t][1] == terms_b[t][1] for t in terms_a), article
        assert a.get_document(item.docid).get_data() == b.get_document(other).get_data()


def _shard_contents(xapian_dir: Path) -> dict[str, object]:
    """Every article of the shards, by id: its terms with wdfs and positions, values and data;
    and every shard's metadata."""
    out: dict[str, object] = {}
    gen = next(xapian_dir.glob("gen-*"))
    for shard in sorted(gen.glob("shard-*")):
        db = xapian.Database(str(shard))
        out[f"{shard.name}:metadata"] = {k: db.get_metadata(k) for k in db.metadata_keys()}
        out[f"{shard.name}:doccount"] = db.get_doccount()
        for item in db.postlist(""):
            doc = db.get_document(item.docid)
            article = X.decode_stored(doc.get_data())[F.ID_FIELD]
            out[article] = (shard.name, doc.get_data(), {v.num: v.value for v in doc.values()},
                            {t.term: (t.wdf, list(db.positionlist(item.docid, t.term))) for t in doc.termlist()})
        db.close()
    return out


@pytest.mark.parametrize("procs", [1, 2])
def test_a_rebuild_compacts_its_shards_and_keeps_every_term_position_value_and_text(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, procs: int) -> None:
    from indexer import _store
    from indexer import _xapian as build

    packed = tmp_path / "packed"
    build_shards([corpus], index_dir=packed, shards=3, procs=procs)
    monkeypatch.setattr(build, "_compact_shards", lambda *args: None)  # the shards as the writers leave them
    written = tmp_path / "written"
    build_shards([corpus], index_dir=written, shards=3, procs=procs)
    a, b = _shard_contents(packed), _shard_contents(written)
    generation = X.GENERATION_KEY.encode()
    for contents in (a, b):  # a build's own time stamp: the one thing two builds differ in
        contents["shard-0:metadata"] = {k: v for k, v in contents["shard-0:metadata"].items() if k != generation}  # type: ignore[union-attr]
    assert a == b and len(a) == 414 + 6
    sizes = [_store.disk_usage(next(folder.glob("gen-*"))) for folder in (packed, written)]
    assert sizes[0] < 0.8 * sizes[1], sizes
    assert not list(packed.glob("gen-*/.*compact"))  # no half-written copy is left beside the shards
    assert search("合作", index_dir=packed).total == search("合作", index_dir=written).total > 0


@pytest.mark.parametrize("procs", [1, 2])
def test_a_compaction_that_fails_fails_the_build_and_keeps_the_served_index(corpus: Path, tmp_path: Path, procs: int,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import IndexWriteError
    from indexer import _xapian as build

    folder = tmp_path / "shards"
    build_shards([SAMPLE_ARTICLES], index_dir=folder, shards=2, procs=1)
    before, found = index_stats(index_dir=folder), search("合作", index_dir=folder).total

    def failing(path: Path) -> None:
        raise xapian.DatabaseError(f"cannot write {path}: disk full (simulated)")

    monkeypatch.setattr(build, "_compact_one", failing)
    with pytest.raises(IndexWriteError, match="compacting the shards failed"):
        build_shards([corpus], index_dir=folder, shards=2, procs=procs)
    after = index_stats(index_dir=folder)
    assert (after.generation, after.articles) == (before.generation, before.articles)
    assert search("合作", index_dir=folder).total == found > 0
    assert [p.name for p in folder.glob("gen-*")] == [after.generation]  # nothing half-built left


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_writer_process_that_fails_fails_the_build_and_keeps_the_served_index(corpus: Path, tmp_path: Path, how: str,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import IndexWriteError
    from indexer import _xapian as build

    folder = tmp_path / "shards"
    build_shards([SAMPLE_ARTICLES], index_dir=folder, shards=2, procs=1)
    before, found = index_stats(index_dir=folder), search("合作", index_dir=folder).total
    real = build._analyse

    def failing(doc, averages):  # type: ignore[no-untyped-def]
        if doc[F.ID_FIELD] == "gen-0300":
            if how == "dies":
                os._exit(3)  # killed, as by the OOM killer: no answer at all
            raise OSError(28, "No space left on device")
        return real(doc, averages)

    monkeypatch.setattr(build, "_analyse", failing)
    with pytest.raises(IndexWriteError, match="indexing the shards failed"):
        build_shards([corpus], index_dir=folder, shards=2, procs=2)
    after = index_stats(index_dir=folder)
    assert (after.generation, after.articles) == (before.generation, before.articles)
    assert search("合作", index_dir=folder).total == found > 0


def test_shards_of_another_format_are_refused(indexes: tuple[Path, Path], tmp_path: Path) -> None:
    _, built = indexes
    old = tmp_path / "old-shard"
    db = xapian.WritableDatabase(str(old), xapian.DB_CREATE_OR_OVERWRITE)
    db.add_document(xapian.Document())
    db.set_metadata(X.FORMAT_KEY, "1")
    db.commit()
    db.close()
    with pytest.raises(IndexVersionError, match="rebuild needed"):
        search("合作", index_dir=f"xapian://{old}")


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


def test_a_shard_slower_than_the_timeout_is_left_out_and_one_within_it_counts(indexes: tuple[Path, Path],
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``ZHSEARCH_SHARD_TIMEOUT_MS`` is how long a shard may take: a stalled server (its process group
    stopped: connections open, nothing answers) is left out after it, and waited for within it."""
    whoosh_dir, xapian_dir = indexes
    full = search("合作", index_dir=whoosh_dir).total
    monkeypatch.setattr(_xapian, "RECHECK_SECONDS", 0.0)  # every search connects afresh, with the setting of the moment
    with serving_shards(xapian_dir) as servers:
        remote = _location(servers)
        monkeypatch.setenv("ZHSEARCH_SHARD_TIMEOUT_MS", "300")
        assert search("合作", index_dir=remote).total == full
        stalled = servers[1][0]
        stalled.signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            res = search("合作", index_dir=remote)
            assert time.monotonic() - started < 2.0
            assert res.unavailable_shards == 1 and 0 < res.total < full
            monkeypatch.setenv("ZHSEARCH_SHARD_TIMEOUT_MS", "30000")
            threading.Timer(1.5, stalled.signal, (signal.SIGCONT,)).start()
            started = time.monotonic()
            res = search("合作", index_dir=remote)
            assert time.monotonic() - started >= 1.0  # it did wait for the stalled server
            assert res.unavailable_shards == 0 and res.total == full
        finally:
            stalled.signal(signal.SIGCONT)


def test_a_bad_shard_timeout_setting_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import settings
    for raw, expected in [("250", 250), ("0", 900), ("-5", 900), ("abc", 900), ("", 900), ("9999999", 900)]:
        monkeypatch.setenv("ZHSEARCH_SHARD_TIMEOUT_MS", raw)
        assert settings.shard_timeout_ms() == expected, raw


def test_a_replica_that_dies_during_the_retry_leaves_partial_results(indexes: tuple[Path, Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A request that lost a replica reconnects to the next; when that one dies too before the
    request is retried, the request reconnects once more and answers without the shard (not 503)."""
    _, xapian_dir = indexes
    with serving_shards(xapian_dir, replicas=2) as servers:
        remote = _location(servers)
        monkeypatch.setattr(_xapian, "RECHECK_SECONDS", 1e9)  # the thread keeps its connections
        full = search("合作", index_dir=remote).total
        real, calls = _xapian.combined, []

        def combined_then_kill(shards):  # type: ignore[no-untyped-def]
            out = real(shards)
            calls.append(out[1])
            if len(calls) == 1:
                servers[1][1].kill()  # the replica just reconnected to dies before the retry
            return out

        monkeypatch.setattr(_xapian, "combined", combined_then_kill)
        servers[1][0].kill()
        started = time.monotonic()
        res = search("合作", index_dir=remote)
        assert time.monotonic() - started < 2.0
        assert calls == [0, 1]  # the first reconnection found the second replica; the second, none
        assert res.unavailable_shards == 1 and 0 < res.total < full


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


def test_texts_over_a_four_character_alphabet_count_as_a_substring_scan(tmp_path: Path) -> None:
    """Articles written with four characters hold, for nearly every text, its bigrams in order
    without the text itself (甲乙丁乙丙 for 甲乙丙): a bigram phrase one position too loose, or a
    punctuated text's check too narrow, would count them. Every total, on both backends, is the
    brute-force count."""
    rng = random.Random(41)
    letters = "甲乙丙丁"
    articles = [{"id": f"abc-{i}", "title": "".join(rng.choices(letters, k=rng.randint(4, 9))),
                 "content": "".join(rng.choices(letters + "，", weights=(5, 5, 5, 5, 2), k=rng.randint(20, 70))),
                 "date": "2024-01-01"} for i in range(150)]
    assert len({a["content"] for a in articles}) == len(articles)  # no reprints: every article is listed
    source = tmp_path / "abc.jsonl"
    source.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    build_index([source], index_dir=tmp_path / "whoosh", procs=1)
    build_shards([source], index_dir=tmp_path / "xapian", shards=2, procs=1)
    texts = {"".join(rng.choices(letters, k=rng.randint(3, 7))) for _ in range(60)}
    texts |= {"".join(rng.choices(letters, k=rng.randint(1, 3))) + "，" + "".join(rng.choices(letters, k=rng.randint(1, 3)))
              for _ in range(20)}
    missed = 0
    for text in sorted(texts):
        holding = {a["id"] for a in articles if text in a["title"] or text in a["content"]}  # type: ignore[operator]
        bigrams_in_order = {a["id"] for a in articles if all(text[i:i + 2] in a["content"] for i in range(len(text) - 1))}
        missed += len(bigrams_in_order - holding)
        for location in (tmp_path / "whoosh", str(tmp_path / "xapian")):
            res = search(f'"{text}"', index_dir=location, correct=False, per_page=100)
            assert res.total == res.query_info.strict_total == len(holding), (text, location)
            listed = [h for p in range(1, res.pages + 1)
                      for h in search(f'"{text}"', index_dir=location, correct=False, per_page=100, page=p).hits]
            assert {h.id for h in listed if h.match == "exact"} == holding, (text, location)
    assert missed > 50  # the near misses are there to be miscounted


def _reprint_marks(xapian_dir: Path) -> tuple[dict[bytes, int], set[bytes], set[bytes]]:
    """Every article's reprint key counted over the shards, and the keys with and without REPRINT."""
    from collections import Counter

    keys: Counter[bytes] = Counter()
    marked, unmarked = set(), set()
    for path in index_stats(index_dir=xapian_dir).shard_databases:
        db = xapian.Database(path)
        for item in db.postlist(""):
            doc = db.get_document(item.docid)
            key = doc.get_value(X.DUP)
            keys[key] += 1
            (marked if doc.get_value(X.REPRINT) == key else unmarked).add(key)
            assert doc.get_value(X.REPRINT) in (b"", key)
        db.close()
    return dict(keys), marked, unmarked


def test_reprint_marks_follow_the_keys_through_update_and_delete(corpus: Path, indexes: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    """REPRINT is on exactly the articles whose key another shares (what a query's reprint spy
    counts), after a build and after an update makes a new pair across shards; a deletion may
    leave it, and the counts stay the local backend's."""
    whoosh_built, built = indexes
    keys, marked, unmarked = _reprint_marks(built)
    assert marked == {k for k, n in keys.items() if n > 1} and len(marked) > 5
    assert unmarked == {k for k, n in keys.items() if n == 1}
    whoosh_dir, xapian_dir = tmp_path / "whoosh", tmp_path / "xapian"
    shutil.copytree(whoosh_built, whoosh_dir, symlinks=True)
    shutil.copytree(built, xapian_dir, symlinks=True)
    records = [json.loads(line) for line in (corpus / "generated.jsonl").read_text("utf-8").splitlines()]
    loner = next(r for r in records if r.get("date") and sum(o["content"] == r["content"] for o in records) == 1)
    shards = int(json.loads((built / (built / "CURRENT").read_text("utf-8").strip() / "zhsearch.json").read_text("utf-8"))["shards"])
    copy_id = next(f"copy-{i}" for i in range(100) if X.shard_of(f"copy-{i}", shards) != X.shard_of(loner["id"], shards))
    source = tmp_path / "copy.jsonl"
    source.write_text(json.dumps({**loner, "id": copy_id, "source": "江城日报"}, ensure_ascii=False) + "\n", encoding="utf-8")
    for index in (whoosh_dir, xapian_dir):
        assert update_index([source], index_dir=index).indexed == 1
    keys, marked, unmarked = _reprint_marks(xapian_dir)
    assert marked == {k for k, n in keys.items() if n > 1} and unmarked == {k for k, n in keys.items() if n == 1}
    query = loner["title"]

    def compared() -> None:
        a, b = search(query, index_dir=whoosh_dir, per_page=50), search(query, index_dir=str(xapian_dir), per_page=50)
        assert _counts(b) == _counts(a)
        assert sorted((h.id, h.duplicates) for h in b.hits) == sorted((h.id, h.duplicates) for h in a.hits)

    compared()
    hit = {h.id: h for h in search(query, index_dir=str(xapian_dir), per_page=50).hits}
    assert (hit.get(loner["id"]) or hit[copy_id]).duplicates == 1
    from indexer import delete_articles

    for index in (whoosh_dir, xapian_dir):
        assert delete_articles([copy_id], index_dir=index).deleted == 1
    compared()


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
