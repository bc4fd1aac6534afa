"""Results do not depend on how postings are written: the same articles indexed with this
project's postings encoding and with Whoosh's own W3 blocks answer every case identically.

Both indexes are written by one process (``procs=1``), so document numbers, and with them the
order of equal scores, are the same; ``search`` reads Whoosh's blocks through Whoosh's matchers
(the path of segments that Whoosh's own writer adds) and this project's through numpy.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh.codec.whoosh3 import W3Codec

from indexer import _writer, build_index
from search import search
from search._index import CACHE
from tests import _corpus
from tests.conftest import SAMPLE_ARTICLES

FIXED = ['"经济 发展"', "经济 -会议", "中国 OR 美国", "title:合作", "哈", "习", "2024年", "5G 基站", "中共中央",
         "網路", "人工智能", "比亚迪", "齐齐哈尔 合作", "", "source:央视网 会议"]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    records = _corpus.generate()
    src = _corpus.write_jsonl(tmp_path_factory.mktemp("format-src") / "generated.jsonl", records)
    ours, whoosh = tmp_path_factory.mktemp("ours"), tmp_path_factory.mktemp("whoosh-blocks")
    build_index([src, SAMPLE_ARTICLES], index_dir=ours, procs=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_writer, "Codec", W3Codec)  # Whoosh's own postings format, under the same writer
        build_index([src, SAMPLE_ARTICLES], index_dir=whoosh, procs=1)
    return ours, whoosh


def _cases(index_dir: Path) -> list[dict[str, object]]:
    titles = [h.title for page in (1, 2) for h in search("的", index_dir=index_dir, per_page=100, page=page).hits]
    rng = random.Random(5)
    queries = list(FIXED)
    for _ in range(45):
        title = rng.choice(titles)
        start = rng.randrange(max(1, len(title) - 4))
        queries.append(title[start : start + rng.choice((2, 3, 4))])
    return [{"q": q, **extra} for q in queries for extra in ({}, {"sort": "date"}, {"year": "2024"}, {"page": 2})]


def _answer(index_dir: Path, case: dict[str, object]) -> tuple[object, ...]:
    res = search(str(case["q"]), index_dir=index_dir, **{k: v for k, v in case.items() if k != "q"})
    info = res.query_info
    return (res.total, info.regional_total, info.partial_total, info.folded, res.pages, res.suggestion,
            {k: [(f.value, f.count) for f in v] for k, v in res.facets.items()},
            [(h.id, round(h.score, 6), h.match, h.duplicates, h.snippet, h.title_html) for h in res.hits])


def test_whoosh_blocks_and_this_encoding_give_the_same_results(both: tuple[Path, Path]) -> None:
    ours, whoosh = both
    formats = set()
    for index_dir in both:
        backend = CACHE.backend(index_dir)
        formats |= {getattr(leaf.codec(), "compact_postings", None) for leaf, _base in backend.engine.leaves}
    assert formats == {None, 1}  # one index of each format
    cases = _cases(ours)
    assert len(cases) == 240
    answers = [(_answer(ours, case), _answer(whoosh, case)) for case in cases]
    assert [case for case, (a, b) in zip(cases, answers) if a != b] == []
    assert sum(bool(a[0]) for a, _b in answers) > 150  # most cases find something
