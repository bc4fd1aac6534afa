"""Exact matching against a brute-force truth: every article that holds the text is found and counted.

The truth is a plain substring scan over each article's title and body,
normalised independently of the project's code (NFKC, case folding, OpenCC
``t2s``, white space collapsed). The corpus is generated (seeded) from a small
alphabet, so that substrings of every length recur across articles, cross
what jieba would cut, and mix Han characters, Traditional forms, digits,
Latin letters, full-width forms and punctuation; it is indexed in two
segments (a rebuild, then an update) so the columns are read across segments.
The same property then runs on 3,000 real CCTV articles when the shared data
is there.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path
from typing import Any

import opencc
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from indexer import build_index, update_index
from search import search
from search._index import CACHE

_T2S = opencc.OpenCC("t2s")
_SPACE = re.compile(r"\s+")
# Common characters, a few Traditional ones (國 學 會 …), digits, letters, full-width forms, punctuation.
_HAN = "中国人民的一是在不了有和大这主为上个经济会议发展合作国際學習會議"
_OTHER = "0123456789abcABCＡＢ１２，。、·%. "
_ALPHABET = list(_HAN) + list(_OTHER)
# Han characters common to rare, so that long substrings recur too; the rest rarer.
_WEIGHTS = [max(1, 14 - i // 2) for i in range(len(_HAN))] + [1] * (len(_OTHER) - 1) + [4]


def truth_form(text: str) -> str:
    return _SPACE.sub(" ", _T2S.convert(unicodedata.normalize("NFKC", text).casefold())).strip()


def _text(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choices(_ALPHABET, weights=_WEIGHTS, k=rng.randint(low, high))).strip() or "中"


def generated_articles(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        record: dict[str, Any] = {"id": f"g{seed}-{i}", "title": _text(rng, 4, 14), "text": _text(rng, 30, 240),
                                  "date": f"{rng.choice((2021, 2022, 2023))}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"}
        if i % 3:  # some articles have a category, some not (the update adds some without)
            record["category"] = rng.choice(("经济", "会议"))
        out.append(record)
    return out


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


class Corpus:
    def __init__(self, index: Path, docs: dict[str, tuple[str, str]]) -> None:
        self.index = index
        self.docs = docs  # id -> (title, body) in truth form

    def holding(self, query: str) -> set[str]:
        """Brute force: the articles whose title or body holds every space-separated part."""
        parts = [truth_form(p) for p in query.split()]
        parts = [p for p in parts if re.search(r"[^\W_]", p)]
        return {i for i, (title, body) in self.docs.items() if all(p in title or p in body for p in parts)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    work = tmp_path_factory.mktemp("exact")
    first, second = generated_articles(260, seed=1), generated_articles(60, seed=2)
    for record in second:
        record.pop("category", None)
    index = work / "index"
    build_index([_write(work / "a.jsonl", first)], index_dir=index, procs=1)
    update_index([_write(work / "b.jsonl", second)], index_dir=index)
    CACHE.clear()
    docs = {r["id"]: (truth_form(r["title"]), truth_form(r["text"])) for r in first + second}
    return Corpus(index, docs)


def _safe(query: str) -> bool:
    """Substrings that are plain text to the query syntax (no leading - and no OR)."""
    parts = query.split()
    return bool(parts) and not any(p.startswith(("-", "－")) or p in ("OR", "|") for p in parts)


def _exact_ids(index: Path, query: str, total: int) -> set[str]:
    found: set[str] = set()
    page = 1
    while len(found) < total:
        res = search(query, index_dir=index, per_page=100, page=page, correct=False)
        found |= {h.id for h in res.hits if h.match == "exact"}
        if page >= res.pages:
            break
        page += 1
    return found


def check(corpus: Corpus, query: str) -> None:
    expected = corpus.holding(query)
    res = search(query, index_dir=corpus.index, per_page=10, correct=False)
    assert res.total == len(expected), query
    assert sum(f.count for f in res.facets.get("year", ())) == (res.total if res.total else sum(
        f.count for f in res.facets.get("year", ()))), query
    if res.total:
        assert res.hits[0].match == "exact"
    assert _exact_ids(corpus.index, query, res.total) == expected, query


def _substring(data: st.DataObject, corpus: Corpus) -> str:
    ident = data.draw(st.sampled_from(sorted(corpus.docs)))
    raw = data.draw(st.sampled_from(corpus.docs[ident]))
    length = data.draw(st.integers(1, 6))
    start = data.draw(st.integers(0, max(0, len(raw) - length)))
    return raw[start : start + length]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_article_holding_a_substring_is_found(corpus: Corpus, data: st.DataObject) -> None:
    query = _substring(data, corpus)
    if _safe(query) and re.search(r"[^\W_]", query):
        check(corpus, query)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_article_holding_two_substrings_is_found(corpus: Corpus, data: st.DataObject) -> None:
    query = f"{_substring(data, corpus)} {_substring(data, corpus)}"
    if _safe(query) and re.search(r"[^\W_]", query):
        check(corpus, query)


def test_original_forms_find_the_normalised_text(corpus: Corpus) -> None:
    # Full-width letters and digits, upper case and Traditional characters are the same text.
    for typed, plain in (("ＡＢ", "ab"), ("國際", "国际"), ("ABC", "abc"), ("１２", "12")):
        assert search(typed, index_dir=corpus.index).total == search(plain, index_dir=corpus.index).total == len(
            corpus.holding(plain))


@pytest.fixture(scope="module")
def cctv(news_index: Path) -> Corpus:
    from whoosh import index as whoosh_index

    from indexer import current_generation

    ix = whoosh_index.open_dir(str(current_generation(news_index)))
    docs = {}
    with ix.searcher() as s:
        for fields in s.all_stored_fields():
            title = "" if fields.get("title_derived") else "\n".join(
                t for t in (fields.get("headline"), fields.get("original_title")) if t)
            docs[fields["id"]] = (truth_form(title), truth_form(fields.get("body", "")))
    return Corpus(news_index, docs)


def test_real_articles_every_substring_is_found(cctv: Corpus) -> None:
    rng = random.Random(11)
    ids = sorted(cctv.docs)
    checked = 0
    while checked < 60:
        title, body = cctv.docs[rng.choice(ids)]
        raw = body if rng.random() < 0.8 else title
        length = rng.randint(1, 6)
        start = rng.randint(0, max(0, len(raw) - length))
        query = raw[start : start + length]
        if rng.random() < 0.3:
            other = cctv.docs[rng.choice(ids)][1]
            s2 = rng.randint(0, max(0, len(other) - 3))
            query = f"{query} {other[s2 : s2 + rng.randint(1, 4)]}"
        if not (_safe(query) and re.search(r"[^\W_]", query)):
            continue
        expected = cctv.holding(query)
        res = search(query, index_dir=cctv.index, correct=False)
        assert res.total == len(expected), query
        checked += 1


def test_cost_is_bounded_by_postings_for_one_and_two_characters(corpus: Corpus) -> None:
    from search import _query
    from search._exact import Matcher

    backend = CACHE.backend(corpus.index)
    engine, columns = backend.engine, backend.columns
    query = " ".join("中国人民的一是在不了有和大这主为上个经济会议发展合作"[:40])
    matcher = Matcher(engine.term_mask, columns.match_text, engine.n)
    matcher.all_of(_query.exact_plan(_query.parse(query)), columns.alive)
    assert matcher.verified == 0  # single characters: postings decide, no text is read
    matcher = Matcher(engine.term_mask, columns.match_text, engine.n)
    plan = _query.exact_plan(_query.parse("中国人 的一"))
    found = matcher.all_of(plan, columns.alive)
    candidates = matcher.candidates(plan[0].needles[0]) & matcher.candidates(plan[1].needles[0])
    # Longer text: only candidates holding every gram are read, each once.
    assert 0 < found.sum() <= matcher.verified <= candidates.sum() < engine.n


def test_a_word_of_the_word_fields_is_decided_by_its_postings(corpus: Corpus) -> None:
    """Where a text of three or more Han characters is a jieba word of the title or body, the
    document holds it: only the candidates without that word have their text read."""
    from indexer import schema as F
    from indexer.textrules import is_han
    from search import _query
    from search._exact import Matcher

    backend = CACHE.backend(corpus.index)
    engine, columns = backend.engine, backend.columns
    lexicon = [t.decode() for t in engine.reader.lexicon(F.BODY)]
    words = sorted((w for w in lexicon if len(w) >= 3 and is_han(w)), key=lambda w: -int(engine.term_mask(F.BODY, w).sum()))[:5]
    assert len(words) == 5, "the corpus should have jieba words of three characters or more"
    for word in words:
        matcher = Matcher(engine.term_mask, columns.match_text, engine.n)
        plan = _query.exact_plan(_query.parse(word))
        found = matcher.all_of(plan, columns.alive)
        as_word = (engine.term_mask(F.BODY, word) | engine.term_mask(F.TITLE, word)) & columns.alive
        candidates = matcher.candidates(plan[0].needles[0]) & columns.alive
        assert matcher.verified == (candidates & ~as_word).sum() < candidates.sum()
        assert found[as_word].all() and found.sum() == len(corpus.holding(word))
