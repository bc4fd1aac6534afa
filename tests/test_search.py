"""search(), suggest(), related() on our own index (generated articles plus the sample, tests/_corpus.py),
checked against a brute-force truth over those articles; the seeds' relevance on the real news index."""

from __future__ import annotations

import html
import json
import math
import random
import re
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from indexer import build_index
from search import _search as search_module
from search import (
    ArticleNotFoundError,
    Hit,
    IndexNotFoundError,
    QueryInfo,
    QuerySyntaxError,
    SearchError,
    SearchResults,
    get_article,
    related,
    search,
    suggest,
)
from tests._corpus import TRADITIONAL, Truth
from tests.conftest import BACKENDS, OwnCorpus, on_backend

SEED_000 = "000_601d9bb788b1b65f.txt"
SEED_002 = "002_9c361715a5427a4e.txt"
TIERS = ["exact", "regional", "partial"]


def ids(res: SearchResults) -> list[str]:
    return [h.id for h in res.hits]


def exact_ids(index: Path | str, query: str, **kwargs: Any) -> set[str]:
    """Every article search() lists as an exact match, over all pages, with the reprints folded into each."""
    found: set[str] = set()
    page = 1
    while True:
        res = search(query, index_dir=index, per_page=100, page=page, correct=False, **kwargs)
        for hit in res.hits:
            if hit.match != "exact":
                return found
            found.add(hit.id)
            if hit.duplicates:
                group = search(query, index_dir=index, per_page=100, correct=False, reprints_of=hit.id, **kwargs)
                assert len(group.hits) == hit.duplicates + 1, (query, hit.id)
                found |= {g.id for g in group.hits}
        if page >= res.pages:
            return found
        page += 1


def expected(truth: Truth, info: QueryInfo) -> set[str]:
    """Brute force over what the query was understood as: every word and phrase, one text of each OR
    group, title terms in the title, none of the excluded; nothing when nothing positive is asked."""
    if not (info.words or info.phrases or info.any_of or any(name == "title" for name, _ in info.fields)):
        return set()
    found = truth.holding_all(*info.words, *info.phrases)
    for group in info.any_of:
        found &= set().union(*(truth.holding(t) for t in group))
    for name, value in info.fields:
        if name == "title":
            found &= truth.holding(value, title_only=True)
        else:
            found &= truth.with_source(value)
    for text in info.excluded:
        found -= truth.holding(text)
    return found


def check(corpus: OwnCorpus, index: Path | str, query: str, **kwargs: Any) -> SearchResults:
    """search() on ``index`` (the corpus on one backend) counts and lists exactly the articles the truth
    finds, exact matches first."""
    res = search(query, index_dir=index, correct=False, **kwargs)
    assert res.query_info is not None
    truth = expected(corpus.truth, res.query_info)
    for name, value in kwargs.items():
        if name == "source":
            truth &= corpus.truth.with_source(value)
    assert res.total == res.query_info.strict_total == len(truth), query
    assert exact_ids(index, query, **kwargs) == truth, query
    matches = [h.match for h in res.hits]
    assert matches == sorted(matches, key=TIERS.index), query
    return res


def test_contract_types_are_frozen_and_json_ready(own_location: Path | str) -> None:
    res = search("齐齐哈尔 装备制造", index_dir=own_location)
    assert isinstance(res, SearchResults) and res.hits and all(isinstance(h, Hit) for h in res.hits)
    with pytest.raises(FrozenInstanceError):
        res.total = 0  # type: ignore[misc]
    data = json.loads(json.dumps(res.to_dict(), ensure_ascii=False))
    assert data["total"] == res.total and data["hits"][0]["id"] == res.hits[0].id
    assert res.query_info is not None and res.query_info.words == ("齐齐哈尔", "装备制造")


@pytest.mark.parametrize("query", ["齐齐哈尔 装备制造", "哈尔滨 冷链", "经济 合作 东莞", "大连", "机床 5G"])
def test_every_article_with_all_words_is_counted_and_ranked_first(own_corpus: OwnCorpus, own_location: Path | str,
                                                                  query: str) -> None:
    res = check(own_corpus, own_location, query)
    assert res.total > 0 and res.hits[0].match == "exact"
    assert res.hits[0].id in own_corpus.truth.holding_all(*query.split())


@pytest.mark.parametrize("word", ["风电", "光伏", "博物馆", "志愿者", "齐齐哈尔"])
def test_totals_equal_the_raw_substring_count(own_corpus: OwnCorpus, own_location: Path | str, word: str) -> None:
    # Plain Simplified words: the truth needs no normal form. 齐齐哈尔 is also written 齊齊哈爾 in some articles.
    raw = own_corpus.truth.raw_holding(word) | own_corpus.truth.raw_holding(TRADITIONAL.get(word, word))
    assert raw and search(word, index_dir=own_location).total == len(raw)


def test_phrase_finds_contiguous_text_only(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    truth = own_corpus.truth
    split = truth.holding_all("对口", "合作") - truth.holding("对口合作")
    assert split and truth.holding("对口合作")  # the corpus holds the phrase both ways
    res = check(own_corpus, own_location, '"对口合作"')
    assert res.query_info is not None and res.query_info.phrases == ("对口合作",)
    assert not split & set(ids(res))
    check(own_corpus, own_location, "对口 合作")  # as two words, the split ones count too


def test_random_runs_of_the_text_count_as_a_substring_scan(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    """Quoted runs of 1 to 6 Han characters cut at random from the articles (gram terms, and
    phrases of unigrams on Xapian): every total is the brute-force count."""
    rng = random.Random(29)
    bodies = [a.norm_body for a in own_corpus.truth.articles.values()]
    runs = [run for body in bodies for run in re.findall(r"[\u4e00-\u9fff]{6,}", body)]
    checked = set()
    while len(checked) < 36:
        run = rng.choice(runs)
        size = 1 + len(checked) % 6
        start = rng.randrange(len(run) - size + 1)
        checked.add(run[start : start + size])
    for text in sorted(checked):
        res = check(own_corpus, own_location, f'"{text}"')
        assert res.total >= 1, text


def test_random_texts_with_punctuation_inside_count_as_a_substring_scan(own_corpus: OwnCorpus,
                                                                        own_location: Path | str) -> None:
    """Quoted texts cut at random across a punctuation mark or a space of the articles (checked on
    each candidate's text; on Xapian the candidates are the documents holding their characters in
    order within the text's width): every total is the brute-force count."""
    rng = random.Random(31)
    bodies = [a.norm_body for a in own_corpus.truth.articles.values()]
    spans = [m for body in bodies for m in re.finditer(r"[\u4e00-\u9fffA-Za-z0-9]{1,4}[^\u4e00-\u9fffA-Za-z0-9\"]{1,2}[\u4e00-\u9fffA-Za-z0-9]{1,4}", body)]
    assert len(spans) > 100
    checked: set[str] = set()
    while len(checked) < 30:
        text = rng.choice(spans).group()
        if text.strip() == text:
            checked.add(text)
    for text in sorted(checked):
        res = check(own_corpus, own_location, f'"{text}"')
        assert res.total >= 1, text


def test_a_punctuated_text_with_too_many_candidates_is_a_clear_error(own_corpus: OwnCorpus, own_shards: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """On Xapian each candidate of such a text is read and checked on the web front: past the
    limit the query is refused, before any is read, with a message that says what to do."""
    from search import QueryTooBroadError
    from search import _xapian

    assert search('"合作，"', index_dir=own_shards).total >= 0  # within the limit: answered
    monkeypatch.setattr(_xapian, "VERIFY_LIMIT", 3)
    with pytest.raises(QueryTooBroadError, match="more than 3 articles"):
        search('"合作，"', index_dir=own_shards)
    assert search("合作", index_dir=own_shards).total > 3  # the limit is only for texts checked one by one
    from web import create_app

    client = create_app({"INDEX_DIR": own_shards}).test_client()
    api = client.get("/api/search", query_string={"q": '"合作，"'})
    assert api.status_code == 400 and "more than 3 articles" in api.get_json()["error"]
    page = client.get("/", query_string={"q": '"合作，"'})
    assert page.status_code == 400 and "leave the punctuation out" in page.get_data(as_text=True)


@pytest.mark.parametrize("part", ["哈尔", "齐哈", "尔滨"])
def test_partial_word_matches_through_characters(own_corpus: OwnCorpus, own_location: Path | str, part: str) -> None:
    # jieba makes 齐齐哈尔 and 哈尔滨 one word each; the character fields still find the text inside them.
    assert own_corpus.truth.holding(part)
    check(own_corpus, own_location, part)


def test_traditional_and_full_width_input(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    truth = own_corpus.truth
    written_traditional = truth.raw_holding("齊齊哈爾")
    assert written_traditional and not truth.raw_holding("齐齐哈尔") & written_traditional
    simplified = check(own_corpus, own_location, "齐齐哈尔")
    traditional = check(own_corpus, own_location, "齊齊哈爾")
    assert simplified.total == traditional.total
    assert written_traditional <= exact_ids(own_location, "齐齐哈尔")
    check(own_corpus, own_location, "牡丹江　東莞")  # an ideographic space, a Traditional word
    assert search("５Ｇ", index_dir=own_location).total == check(own_corpus, own_location, "5G").total > 0


def test_traditional_word_list_is_the_simplified_one_in_normal_form() -> None:
    from indexer.matchtext import normal_form

    assert {s: normal_form(t) for s, t in TRADITIONAL.items()} == {s: s for s in TRADITIONAL}


@pytest.mark.parametrize(
    "query", ["对口合作 -牡丹江", "冷链 -哈尔滨 -物流", "风电 OR 光伏", "大连 风电 OR 光伏", "title:牡丹江",
              "title:东莞 经济", "source:北岭日报 合作", "来源:南江晚报 标题:厦门"],
)
def test_exclusion_or_and_fields(own_corpus: OwnCorpus, own_location: Path | str, query: str) -> None:
    res = check(own_corpus, own_location, query)
    assert res.total > 0, query


def test_filters_as_arguments(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    res = check(own_corpus, own_location, "合作", source="南江晚报")
    assert {h.source for h in res.hits} == {"南江晚报"}
    res = search("合作", index_dir=own_location, date_from="2021-10-01", date_to="2021-10-31", per_page=50)
    dated = {i for i, a in own_corpus.truth.articles.items() if a.date and "2021-10-01" <= a.date <= "2021-10-31"}
    assert res.total == len(own_corpus.truth.holding("合作") & dated) > 0
    assert all(h.published and h.published.strftime("%Y-%m") == "2021-10" for h in res.hits)


def test_no_dead_ends(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    assert not own_corpus.truth.holding("量子引力波")
    res = search("齐齐哈尔 量子引力波", index_dir=own_location, per_page=50)
    # No article holds both words: none is counted, and the partial matches are listed, marked as such.
    assert res.total == 0 and res.hits and {h.match for h in res.hits} == {"partial"}
    assert set(ids(res)) & own_corpus.truth.holding("齐齐哈尔")
    assert res.query_info is not None and res.query_info.relaxed and res.query_info.strict_total == 0
    assert res.query_info.partial_total >= len(res.hits)


def test_relevance_sort_by_date(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    res = search("经济", index_dir=own_location, sort="date", per_page=20)
    dates = [h.published for h in res.hits if h.published]
    assert len(dates) == 20 and dates == sorted(dates, reverse=True)
    latest = max(a.date for i in own_corpus.truth.holding("经济") if (a := own_corpus.truth.articles[i]).date)
    assert dates[0].date().isoformat() == latest


def test_facets_count_the_whole_result_set(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    res = search("经济", index_dir=own_location)
    holding = own_corpus.truth.holding("经济")
    assert res.total == len(holding) > res.per_page
    assert {f.value: f.count for f in res.facets["year"]} == own_corpus.truth.years(holding)
    for facet in res.facets["source"]:
        assert facet.count == len(holding & own_corpus.truth.with_source(facet.value)), facet
    year = res.facets["year"][0].value
    narrowed = search("经济", index_dir=own_location, year=year)
    assert narrowed.total == own_corpus.truth.years(holding)[year]
    assert all(h.published and str(h.published.year) == year for h in narrowed.hits)


def test_pagination_covers_distinct_hits(own_location: Path | str) -> None:
    first = search("合作", index_dir=own_location, page=1)
    second = search("合作", index_dir=own_location, page=2)
    assert first.pages >= 2 and second.page == 2
    assert not set(ids(first)) & set(ids(second))


def test_pages_list_every_article_once(own_location: Path | str) -> None:
    # Xapian's pruning once a page's heap is full made weights depend on the page asked for
    # (the proximity phrase among the ranking clauses): pages overlapped and skipped articles.
    first = search("对口 合作", index_dir=own_location, per_page=20)
    assert first.query_info is not None and first.pages > 10
    listed = [h.id for page in range(1, first.pages + 1)
              for h in search("对口 合作", index_dir=own_location, per_page=20, page=page).hits]
    assert len(listed) == len(set(listed)) == first.total - first.query_info.folded


PAGED = ["对口 合作", "齐齐哈尔 装备制造", "经济 发展", "合作", "哈尔 滨"]


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_every_page_is_its_slice_of_the_whole_unpruned_list(own_location: Path | str, sort: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A page holds exactly the articles, hits and scores that one page holding every listed
    article (nothing pruned: the heap never fills) has at its place, whatever the page size."""
    monkeypatch.setattr(search_module, "MAX_PER_PAGE", 100_000)
    compared = 0
    for query in PAGED:
        whole = search(query, index_dir=own_location, per_page=100_000, sort=sort)
        rows = [(h.id, h.score, h.match, h.duplicates) for h in whole.hits]
        assert len(rows) == len({r[0] for r in rows})
        for per_page in (7, 20):
            pages = math.ceil(len(rows) / per_page)
            for page in range(1, pages + 1):
                got = search(query, index_dir=own_location, per_page=per_page, page=page, sort=sort)
                assert (got.total, got.query_info) == (whole.total, whole.query_info), (query, per_page, page)
                assert [(h.id, h.score, h.match, h.duplicates) for h in got.hits] == \
                    rows[(page - 1) * per_page : page * per_page], (query, sort, per_page, page)
                compared += len(got.hits)
    assert compared > 1000


AGREE = ["齐齐哈尔 装备制造", '"对口合作"', "哈尔", "齊齊哈爾", "风电 OR 光伏", "冷链 -哈尔滨", "title:东莞 经济",
         "source:北岭日报 合作", "齐齐哈尔 量子引力波", "qiqihaer", "经济"]


def test_both_backends_give_the_same_counts_snippets_and_highlights(own_index: Path, own_shards: str) -> None:
    """Every count, tier, facet, folded reprint, snippet and highlight is the same on both backends;
    the order within a tier may differ (Xapian's BM25 uses one document length for all fields),
    so listed articles are compared as sets when one page holds them all."""
    for query in AGREE:
        for kwargs in ({}, {"sort": "date"}, {"year": "2021"}):
            a, b = (search(query, index_dir=where, per_page=50, **kwargs) for where in (own_index, own_shards))
            assert a.query_info is not None and b.query_info is not None
            assert (a.total, a.pages, a.suggestion, a.facets) == (b.total, b.pages, b.suggestion, b.facets), (query, kwargs)
            assert a.query_info == b.query_info, (query, kwargs)
            assert [h.match for h in a.hits] == [h.match for h in b.hits], (query, kwargs)
            if kwargs.get("sort") == "date":
                assert [h.published for h in a.hits] == [h.published for h in b.hits], query
            shown = [{h.id: (h.match, h.duplicates, h.title_html, h.snippet, h.published) for h in r.hits} for r in (a, b)]
            common = shown[0].keys() & shown[1].keys()
            assert common or not a.hits, (query, kwargs)
            assert all(shown[0][i] == shown[1][i] for i in common), (query, kwargs)
            if a.pages <= 1:
                assert shown[0].keys() == shown[1].keys(), (query, kwargs)


def test_snippet_is_short_marked_escaped_and_adds_no_spaces(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    res = search("齐齐哈尔 装备制造", index_dir=own_location, per_page=50)
    hit = next(h for h in res.hits if h.id.startswith("gen-"))  # generated text has no spaces
    plain = html.unescape(re.sub(r"</?mark>", "", hit.snippet))
    text = plain.strip("…")
    assert any("装备" in marked for marked in re.findall(r"<mark>(.*?)</mark>", hit.snippet))
    assert 40 <= len(text) <= 170
    assert " " not in text
    assert "<mark><mark>" not in hit.snippet
    body = own_corpus.truth.articles[hit.id].body
    assert all(part in body.replace("\n", "") or part in body for part in text.split("…") if part)


@pytest.mark.parametrize("backend", BACKENDS)
def test_highlights_merge_overlapping_matches(tmp_path: Path, backend: str) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"id": "x", "title": "齐齐哈尔<b>装备</b>", "text": "齐齐哈尔装备制造业<script>x</script>发展。"}, ensure_ascii=False) + "\n", "utf-8")
    with on_backend(backend, [src], tmp_path / "ix") as index:
        hit = search("齐齐哈尔 装备 哈尔", index_dir=index).hits[0]
    assert hit.snippet.startswith("<mark>齐齐哈尔装备</mark>")
    assert "&lt;script&gt;" in hit.snippet and "<script>" not in hit.snippet
    assert hit.title_html == "<mark>齐齐哈尔</mark>&lt;b&gt;<mark>装备</mark>&lt;/b&gt;"


# What each odd input is understood as: (query, words, phrases, excluded, fields, any_of, ignored).
ODD_INPUTS = [
    ('"', (), (), (), (), (), ()),
    ("(", (), (), (), (), (), ("(",)),
    (":", (), (), (), (), (), (":",)),
    ("AND", ("AND",), (), (), (), (), ()),
    ("*", (), (), (), (), (), ("*",)),
    ("", (), (), (), (), (), ()),
    ("   ", (), (), (), (), (), ()),
    ("OR", (), (), (), (), (), ()),
    ("-", (), (), (), (), (), ("-",)),
    ('"unclosed phrase', (), ("unclosed phrase",), (), (), (), ()),
    ("title:", ("title:",), (), (), (), (), ()),
    ("source:", ("source:",), (), (), (), (), ()),
    ("a" * 5000, ("a" * 500,), (), (), (), (), ()),  # a query is cut to its first 500 characters
    ("齐" * 5000, ("齐" * 500,), (), (), (), (), ()),
    ("\x00\x01\x1b[31m", ("[31m",), (), (), (), (), ()),
    ("((( AND OR NOT )))", (), (), (), (), (("AND", "NOT"),), ("(((", ")))")),
    ("title:(x OR", (), (), (), (("title", "(x"),), (), ()),
    ("-齐齐哈尔", (), (), ("齐齐哈尔",), (), (), ()),
    ("\u202e\ufeff", (), (), (), (), (), ()),
    ("🙂🙂", (), (), (), (), (), ("🙂🙂",)),
    ("齐齐哈尔 OR", ("齐齐哈尔",), (), (), (), (), ()),
    ("(齐齐哈尔) 冷链:", ("(齐齐哈尔)", "冷链:"), (), (), (), (), ()),
]


@pytest.mark.parametrize(("query", "words", "phrases", "excluded", "fields", "any_of", "ignored"), ODD_INPUTS)
def test_error_no_input_raises(own_corpus: OwnCorpus, own_location: Path | str, query: str, words: tuple[str, ...], phrases: tuple[str, ...],
                               excluded: tuple[str, ...], fields: tuple[tuple[str, str], ...],
                               any_of: tuple[tuple[str, ...], ...], ignored: tuple[str, ...]) -> None:
    """Stray syntax is text or ignored, never a QuerySyntaxError: it is read as the table says, and
    counts exactly the articles that hold what it was read as."""
    res = search(query, index_dir=own_location, correct=False)
    info = res.query_info
    assert info is not None
    assert (info.words, info.phrases, info.excluded, info.fields, info.any_of, info.ignored) == (
        words, phrases, excluded, fields, any_of, ignored)
    assert res.total == info.strict_total == len(expected(own_corpus.truth, info))
    assert all(h.match == "partial" for h in res.hits) if res.total == 0 else res.hits[0].match == "exact"


def test_blank_query_is_empty_not_an_error(own_location: Path | str) -> None:
    res = search("  ", index_dir=own_location)
    assert res.total == 0 and res.hits == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"page": 0}, "page must be between 1 and 1000, not 0"),
     ({"page": "x"}, "page must be a whole number of at most 9 digits, not 'x'"),
     ({"page": "\uff12"}, "page must be a whole number of at most 9 digits, not '\uff12'"),  # one rule with the page's: ASCII digits
     ({"page": 2.5}, "page must be a whole number of at most 9 digits, not '2.5'"),
     ({"page": "0" * 5000}, "page must be between 1 and 1000, not 0"),
     ({"per_page": 1000}, "per_page must be between 1 and 100, not 1000"),
     ({"sort": "random"}, "sort must be one of relevance, date, not 'random'"),
     ({"date_from": "not a date"}, "date_from must be a date like 2024-10-18, not 'not a date'")],
)
def test_error_bad_parameters_raise_query_syntax_error(own_index: Path, kwargs: dict[str, object], message: str) -> None:
    # Local only: the arguments are checked before any backend is asked.
    with pytest.raises(QuerySyntaxError) as info:
        search("合作", index_dir=own_index, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert isinstance(info.value, SearchError) and isinstance(info.value, ValueError)


def test_error_missing_index_is_not_no_results(tmp_path: Path) -> None:
    # A missing folder; shards that do not answer are test_xapian's (IndexUnavailableError).
    with pytest.raises(IndexNotFoundError) as info:
        search("合作", index_dir=tmp_path / "missing")
    assert isinstance(info.value, SearchError)


def test_suggestions_for_pinyin_and_homophones(own_location: Path | str) -> None:
    assert search("qiqihaer", index_dir=own_location).suggestion == "齐齐哈尔"
    res = search("齐齐哈耳", index_dir=own_location)
    assert res.suggestion == "齐齐哈尔"
    assert search("齐齐哈尔", index_dir=own_location).suggestion is None


@pytest.mark.parametrize(("prefix", "word"), [("齐齐", "齐齐哈尔"), ("qiqi", "齐齐哈尔"), ("qqhe", "齐齐哈尔"),
                                              ("QiQiHa", "齐齐哈尔"), ("mudan", "牡丹江"), ("gf", "光伏")])
def test_autocomplete_from_chinese_or_pinyin(own_location: Path | str, prefix: str, word: str) -> None:
    assert word in suggest(prefix, limit=8, index_dir=own_location)


def test_near_duplicate_reprints_collapse(sample_location: Path | str) -> None:
    res = search("冷链班列", index_dir=sample_location)
    reprints = [h for h in res.hits if "冷链班列" in h.title]
    assert len(reprints) == 1 and reprints[0].duplicates == 1


def test_true_reprints_collapse_into_one_hit(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    originals = [r for r in own_corpus.records if any(o["id"].startswith(r["id"] + "-r") for o in own_corpus.records)]
    assert len(originals) > 10
    for record in originals[:5]:
        group = {r["id"] for r in own_corpus.records if r["id"] == record["id"] or r["id"].startswith(record["id"] + "-r")}
        res = search(record["title"], index_dir=own_location, per_page=100, correct=False)
        listed = [h for h in res.hits if h.id in group]
        assert len(listed) == 1 and listed[0].duplicates == len(group) - 1, record["id"]
        assert res.total == len(own_corpus.truth.holding(record["title"]))


def test_related_and_article(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    record = next(r for r in own_corpus.records if "东莞" in r["title"] and "东莞" in r["text"]
                  and any(o["id"] == r["id"] + "-r1" for o in own_corpus.records))
    hits = related(record["id"], limit=5, index_dir=own_location)
    assert hits and not {record["id"], record["id"] + "-r1"} & {h.id for h in hits}  # itself and its reprints left out
    article = get_article(record["id"], highlight_query="东莞", index_dir=own_location)
    assert article.title == record["title"]
    assert "<mark>东莞</mark>" in article.body_html and "<mark>东莞</mark>" in article.title_html
    with pytest.raises(ArticleNotFoundError):
        get_article("../../etc/passwd", index_dir=own_location)


def test_real_seeds_rank_first(news_index: Path) -> None:
    """Relevance on real news: the seed about both places and the one from the named source come first."""
    # Local only: an order, which Xapian's BM25 (one length for all fields) may change; and shards of the news index would add a minute.
    assert ids(search("齐齐哈尔 装备制造", index_dir=news_index))[0] == SEED_000
    assert ids(search("齊齊哈爾", index_dir=news_index))[0] == SEED_000
    assert ids(search("title:牡丹江", index_dir=news_index))[0] == SEED_002
    assert ids(search("source:南方网 合作", index_dir=news_index)) == [SEED_000]
    assert {SEED_000, SEED_002} <= set(ids(search('"对口合作"', index_dir=news_index)))


def test_rebuilt_index_is_picked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Local only: the cache's check of a Whoosh folder; served shards pick up an update in test_xapian.
    src = tmp_path / "a.jsonl"
    ix = tmp_path / "ix"
    src.write_text(json.dumps({"id": "old", "title": "旧文章", "text": "旧的正文。"}, ensure_ascii=False) + "\n", "utf-8")
    build_index([src], index_dir=ix, procs=1)
    assert ids(search("正文", index_dir=ix)) == ["old"]
    src.write_text(json.dumps({"id": "new", "title": "新文章", "text": "新的正文。"}, ensure_ascii=False) + "\n", "utf-8")
    build_index([src], index_dir=ix, procs=1)
    import search._index as cache

    monkeypatch.setattr(cache, "RECHECK_SECONDS", 0.0)
    assert ids(search("正文", index_dir=ix)) == ["new"]


def test_did_you_mean_spells_a_typo_from_the_index_characters_without_pypinyin(tmp_path: Path) -> None:
    """A word the index lacks is spelled from the characters file written with the vocabulary:
    pypinyin (about 55 MB of phrase dictionaries) never loads in the search process."""
    # Local only: the file of a Whoosh generation; shards carry the same file in their metadata (test_suggestions_… runs on both).
    import subprocess
    import sys

    from indexer import build_index, current_generation
    from indexer.vocab import CHARS_FILE, read_char_pinyin
    from tests.conftest import ROOT, SAMPLE_ARTICLES

    build_index([SAMPLE_ARTICLES], index_dir=tmp_path, procs=1)
    chars = read_char_pinyin(current_generation(tmp_path))
    assert chars["哈"] == "ha" and chars["尔"] == "er" and all(len(c) == 1 for c in chars)
    assert (current_generation(tmp_path) / CHARS_FILE).exists()
    homophone = next(c for c, full in sorted(chars.items()) if full == "er" and c != "尔")
    typo = "齐齐哈" + homophone
    code = (
        "import sys\n"
        "from search import search\n"
        f"r = search({typo!r}, index_dir={str(tmp_path)!r})\n"
        "print(r.query_info.corrected_from, r.suggestion, r.total)\n"
        "print('pypinyin' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.strip().splitlines()
    corrected_from, suggestion, total = lines[0].split()
    assert (corrected_from, suggestion) in {(typo, "None"), (typo, "齐齐哈尔"), ("None", "齐齐哈尔")}, out.stdout
    assert int(total) > 0, out.stdout
    assert lines[-1] == "False", out.stdout
