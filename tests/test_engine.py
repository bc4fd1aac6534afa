"""search._engine answers exactly what Whoosh's own query evaluation answers.

The engine replaces Whoosh's matchers for speed; these tests run the same
query objects through both on a real index (the seeds plus 3,000 CCTV
articles, two segments) and compare the matching documents and the scores.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from whoosh import query as Q

from indexer import schema as F
from search import _query
from search._engine import engine_for
from search._index import CACHE
from tests.conftest import require_data

_HAN_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")


def _queries(count: int) -> list[str]:
    """Queries of 2-3 words from random CCTV titles, plus the operators the page supports."""
    path = require_data("cctv-xwlb", "articles.jsonl")
    titles = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            titles.append(json.loads(line)["title"])
            if len(titles) >= 3000:
                break
    rng = random.Random(5)
    out = []
    while len(out) < count:
        words = [w for w in _query.query_words(rng.choice(titles)) if _HAN_WORD.fullmatch(w)]
        if len(words) >= 2:
            out.append(" ".join(rng.sample(words, min(len(words), rng.choice((2, 3))))))
    return out + ['"经济 发展"', "经济 -会议", "中国 OR 美国", "title:合作", "哈", "2024年", "5G 基站"]


@pytest.fixture(scope="module")
def searcher(news_index: Path):  # type: ignore[no-untyped-def]
    found, _ = CACHE.searcher(news_index)
    engine = engine_for(found)
    # The frequent terms' postings come from the dense files, the others from Whoosh's blocks.
    assert len(engine.leaves) == 2
    assert sum(len(engine._dense(i)._index) for i in range(len(engine.leaves))) > 500
    return found


def _whoosh_docs(searcher, q: Q.Query) -> set[int]:  # type: ignore[no-untyped-def]
    return set(searcher.docs_for_query(q))


def test_document_sets_match_whoosh(searcher) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for(searcher)
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


def test_scores_match_whoosh_bm25(searcher) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for(searcher)
    for text in _queries(40):
        parsed = _query.parse(text)
        clauses = _query.ranking_clauses(parsed)
        pool = engine.mask(_query.any_term_query(Q.Or(clauses)))
        if not pool.any():
            continue
        ranked = engine.rank(clauses, pool, 20)
        results = searcher.search(Q.Or(clauses), filter=set(pool.nonzero()[0].tolist()), limit=None)
        expected = {hit.docnum: hit.score for hit in results}
        best = sorted(expected.values(), reverse=True)[:20]
        assert [score for _, score in ranked] == pytest.approx(best, rel=1e-4), text
        for docnum, score in ranked:
            assert score == pytest.approx(expected[docnum], rel=1e-4), (text, docnum)


def test_phrase_positions_match_whoosh(searcher) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for(searcher)
    for text in _queries(30):
        words = _query.query_words(text)
        for slop in (1, 2, 3):
            q = Q.Phrase(F.BODY, words, slop=slop)
            assert set(engine.phrase_docs(q)) == _whoosh_docs(searcher, q), (text, slop)


def test_damaged_or_missing_dense_files_fall_back_to_whoosh_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer import _codec, build_index
    from search import search
    from tests.conftest import SAMPLE_ARTICLES

    monkeypatch.setattr(_codec, "DENSE_MIN", 2)  # the sample is small: give its terms in 2+ articles dense postings
    build_index([SAMPLE_ARTICLES], tmp_path, procs=1)
    CACHE.clear()
    expected = [(h.id, h.score) for h in search("齐齐哈尔 装备", index_dir=tmp_path).hits]
    dense = list(tmp_path.glob("gen-*/*.zdn"))
    assert dense
    for path in dense:
        path.write_bytes(path.read_bytes()[:-5])  # truncated
    CACHE.clear()
    assert [(h.id, h.score) for h in search("齐齐哈尔 装备", index_dir=tmp_path).hits] == expected
    for path in dense:
        path.unlink()
    CACHE.clear()
    assert [(h.id, h.score) for h in search("齐齐哈尔 装备", index_dir=tmp_path).hits] == expected
    assert expected
