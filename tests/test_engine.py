"""search._engine and search._ranking answer exactly what Whoosh's own query evaluation answers.

The engine replaces Whoosh's matchers for speed; these tests run the same
query objects through both on our own index (the generated corpus of
tests/_corpus.py plus the sample, two segments) and compare the matching
documents and the scores.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import query as Q

from indexer import schema as F
from search import _query
from search._index import CACHE
from tests import _corpus

_HAN_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")


def _queries(count: int) -> list[str]:
    """Queries of 2-3 words from random titles of the generated corpus, plus the operators the page supports."""
    titles = [record["title"] for record in _corpus.generate()]
    rng = random.Random(5)
    out = []
    while len(out) < count:
        words = [w for w in _query.query_words(rng.choice(titles)) if _HAN_WORD.fullmatch(w)]
        if len(words) >= 2:
            out.append(" ".join(rng.sample(words, min(len(words), rng.choice((2, 3))))))
    return out + ['"经济 发展"', "经济 -会议", "中国 OR 美国", "title:合作", "哈", "2024年", "5G 基站"]


@pytest.fixture(scope="module")
def local(own_index: Path):  # type: ignore[no-untyped-def]
    backend = CACHE.backend(own_index)
    # Two segments; postings both inside term records (short lists) and in the .pst files.
    assert len(backend.engine.leaves) == 2
    inlined = [info.is_inlined() for leaf, _base in backend.engine.leaves for field in (F.BODY, F.BODY_CHARS)
               for _term, info in leaf.iter_field(field)]
    assert sum(inlined) > 500 and len(inlined) - sum(inlined) > 500
    return backend


def _whoosh_docs(searcher, q: Q.Query) -> set[int]:  # type: ignore[no-untyped-def]
    return set(searcher.docs_for_query(q))


def test_document_sets_match_whoosh(local) -> None:  # type: ignore[no-untyped-def]
    searcher, engine = local.searcher, local.engine
    compared = 0
    for text in _queries(60):
        parsed = _query.parse(text)
        ranking = Q.Or(_query.ranking_clauses(parsed))
        queries = [
            _query.any_term_query(ranking, fields=F.WORD_FIELDS),
            _query.any_term_query(ranking),
            *_query.fallback_queries(parsed, ranking),
        ]
        for q in queries:
            expected = _whoosh_docs(searcher, q)
            actual = set(engine.mask(q).nonzero()[0].tolist())
            assert actual == expected, (text, q)
            compared += len(expected)
    assert compared > 10_000


def test_scores_match_whoosh_bm25(local) -> None:  # type: ignore[no-untyped-def]
    searcher, engine = local.searcher, local.engine
    for text in _queries(40):
        parsed = _query.parse(text)
        clauses = _query.ranking_clauses(parsed)
        pool = engine.mask(_query.any_term_query(Q.Or(clauses)))
        if not pool.any():
            continue
        ranked = local.ranker.rank(clauses, pool, 20)
        results = searcher.search(Q.Or(clauses), filter=set(pool.nonzero()[0].tolist()), limit=None)
        expected = {hit.docnum: hit.score for hit in results}
        best = sorted(expected.values(), reverse=True)[:20]
        assert [score for _, score in ranked] == pytest.approx(best, rel=1e-4), text
        for docnum, score in ranked:
            assert score == pytest.approx(expected[docnum], rel=1e-4), (text, docnum)


def test_phrase_positions_match_whoosh(local) -> None:  # type: ignore[no-untyped-def]
    searcher, engine = local.searcher, local.engine
    for text in _queries(30):
        words = _query.query_words(text)
        for slop in (1, 2, 3):
            q = Q.Phrase(F.BODY, words, slop=slop)
            assert set(engine.phrase_docs(q)) == _whoosh_docs(searcher, q), (text, slop)


def test_damaged_postings_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import build_index, postings
    from search import IndexDamagedError, search
    from tests.conftest import SAMPLE_ARTICLES

    monkeypatch.setattr(postings, "INLINE_MAX", 0)  # the sample is small: every posting list in the .pst files
    build_index([SAMPLE_ARTICLES], index_dir=tmp_path, procs=1)
    CACHE.clear()
    assert search("齐齐哈尔 装备", index_dir=tmp_path).hits
    files = [p for p in tmp_path.glob("gen-*/*.pst") if p.stat().st_size]
    assert files
    original = {path: path.read_bytes() for path in files}
    for path in files:
        path.write_bytes(original[path][:-5])  # truncated: the size check at open names it
    CACHE.clear()
    with pytest.raises(IndexDamagedError, match=r"\.pst"):
        search("齐齐哈尔 装备", index_dir=tmp_path)
    for path in files:
        path.write_bytes(bytes(len(original[path])))  # same size, zeros: refused when read
    CACHE.clear()
    with pytest.raises(IndexDamagedError, match="rebuild"):
        search("齐齐哈尔 装备 经济 发展 合作", index_dir=tmp_path)


def test_threads_share_one_bounded_state_per_generation(own_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight threads searching at once get the answers one thread gets, over one ``Shared``
    whose postings stay within its byte budget (a small one here, so that it evicts)."""
    import threading

    from search import search
    from search import _shared

    queries = _queries(40) + ['"中共中央"', "经济 发展", "习", "哈尔滨 冰雪"]
    CACHE.clear()
    expected = {q: [(h.id, round(h.score, 9)) for h in search(q, index_dir=own_index, per_page=20).hits] for q in queries}
    CACHE.clear()
    monkeypatch.setenv("ZHSEARCH_CACHE_MB", "0.25")
    got: dict[str, list[tuple[str, float]]] = {}
    shared: set[int] = set()
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        try:
            for q in queries[offset:] + queries[:offset]:
                got[q] = [(h.id, round(h.score, 9)) for h in search(q, index_dir=own_index, per_page=20).hits]
                assert got[q] == expected[q], q
            shared.add(id(CACHE.backend(own_index).columns.shared))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i * 5,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert got == expected
    assert len(shared) == 1  # one per generation, not one per thread
    state = CACHE.backend(own_index).columns.shared
    assert state.budget == 256 * 1024
    # Within budget, give or take the one entry the cache always keeps.
    largest = max((p.nbytes for p in state._postings.values() if p is not None), default=0)
    assert 0 < state.cached_bytes <= state.budget + largest
    assert state.cached_bytes == sum(p.nbytes if p is not None else _shared._ABSENT_BYTES for p in state._postings.values())
    CACHE.clear()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=0, max_size=80), st.integers(1, 30))
def test_best_first_is_the_full_sort_order(scores: list[int], first: int) -> None:
    """The ranking's partial sort gives exactly ``np.lexsort((ids, -upper))``, ties included."""
    from search._ranking import _best_first, _Lazy

    upper = np.array(scores, dtype=np.float64) / 3
    ids = np.arange(len(scores)) * 7 + 3
    expected = np.lexsort((ids, -upper)).tolist()
    assert list(_best_first(upper, ids, first)) == expected
    assert list(_best_first(upper, ids, None)) == expected
    lazy = _Lazy(_best_first(upper, ids, first))
    assert lazy[0:first] == expected[:first] and list(lazy) == expected
