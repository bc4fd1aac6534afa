"""Honest tiers on the sample articles: what the page and the API say is what the index holds,
on both backends (the sample's Whoosh folder, and its two Xapian shards served on loopback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from search import search
from web import create_app


@pytest.fixture()
def client(sample_location: Path | str) -> FlaskClient:
    return create_app({"INDEX_DIR": sample_location}).test_client()


def page(client: FlaskClient, q: str) -> str:
    response = client.get("/", query_string={"q": q})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def stats(html: str) -> str:
    found = re.search(r'<p class="stats"[^>]*>(.*?)<span class="took">', html, re.S)
    assert found
    return re.sub(r"<[^>]+>|\s+", "", found.group(1))


def test_articles_with_every_word_are_counted_and_come_first(client: FlaskClient, sample_location: Path | str) -> None:
    res = search("齐齐哈尔 合作", index_dir=sample_location)
    assert res.total > 0 and res.query_info.partial_total > 0
    matches = [h.match for h in res.hits]
    assert matches == sorted(matches, key=["exact", "regional", "partial"].index) and matches[0] == "exact"
    html = page(client, "齐齐哈尔 合作")
    assert stats(html).startswith(f"{res.total}篇包含全部检索词")
    assert "没有文章同时包含全部检索词" not in html
    # The divider stands between the last exact match and the first partial one.
    items = re.findall(r'<li class="(hit|tier-divider tier-\w+)"', html)
    exact_hits = matches.count("exact")
    assert items[exact_hits] == "tier-divider tier-partial" and items.count("tier-divider tier-partial") == 1


def test_no_notice_when_some_article_has_every_word(client: FlaskClient) -> None:
    html = page(client, "哈尔滨")
    assert "没有文章同时包含全部检索词" not in html and "tier-divider" not in html


def test_notice_only_when_no_article_has_every_word(client: FlaskClient, sample_location: Path | str) -> None:
    res = search("齐齐哈尔 量子引力波", index_dir=sample_location)
    assert res.total == 0 and res.hits and all(h.match == "partial" for h in res.hits)
    html = page(client, "齐齐哈尔 量子引力波")
    assert "没有文章同时包含全部检索词，以下是部分匹配的结果" in html and stats(html).startswith("没有文章包含全部检索词")


def test_a_phrase_with_matches_shows_only_them(sample_location: Path | str) -> None:
    res = search("“冷链班列”", index_dir=sample_location)
    assert res.total > 0 and {h.match for h in res.hits} == {"exact"} and not res.query_info.partial_total
    for hit in res.hits:
        assert "冷链班列" in re.sub(r"</?mark>", "", hit.snippet + hit.title_html)


def test_a_phrase_without_matches_says_so_then_offers_partial_results(client: FlaskClient) -> None:
    html = page(client, "“齐齐哈尔冷链班列”")
    assert "没有文章包含完整短语“齐齐哈尔冷链班列”，以下是部分匹配的结果" in html


def test_regional_words_find_each_other(client: FlaskClient, sample_location: Path | str) -> None:
    # The Taipei article says 人工智慧; the mainland ones 人工智能.
    mainland = search("人工智能", index_dir=sample_location, per_page=50)
    taiwan = search("人工智慧", index_dir=sample_location, per_page=50)
    assert mainland.query_info.regional_total >= 1 and taiwan.query_info.regional_total >= 1
    assert {h.id for h in mainland.hits} == {h.id for h in taiwan.hits}
    assert mainland.total == taiwan.query_info.regional_total and taiwan.total == mainland.query_info.regional_total
    html = page(client, "人工智能")
    assert "tier-divider tier-regional" in html and "人工智慧" in html


def test_no_suggestion_for_a_good_query(sample_location: Path | str) -> None:
    for q in ("齐齐哈尔", "冷链", "哈尔滨 夜校", "Python"):
        res = search(q, index_dir=sample_location)
        assert res.total > 0 and res.suggestion is None and res.query_info.corrected_from is None, q


def test_a_misspelling_with_no_match_shows_the_likely_intent(client: FlaskClient, sample_location: Path | str) -> None:
    res = search("齐齐哈儿", index_dir=sample_location)
    assert res.query_info.corrected_from == "齐齐哈儿" and res.query == res.suggestion == "齐齐哈尔" and res.total > 0
    kept = search("齐齐哈儿", index_dir=sample_location, correct=False)
    assert kept.total == 0 and kept.query == "齐齐哈儿"
    html = page(client, "齐齐哈儿")
    assert "以下为您显示“" in html and "仍然搜索：" in html


def test_folded_reprints_are_counted_and_said(client: FlaskClient, sample_location: Path | str) -> None:
    res = search("冷链班列", index_dir=sample_location)
    exact_hits = [h for h in res.hits if h.match == "exact"]
    assert res.query_info.folded >= 1 and len(exact_hits) == res.total - res.query_info.folded
    assert sum(h.duplicates for h in exact_hits) == res.query_info.folded
    assert f"{res.query_info.folded}篇相似转载已合并" in stats(page(client, "冷链班列"))


def test_facets_count_what_the_total_counts(sample_location: Path | str) -> None:
    res = search("哈尔滨", index_dir=sample_location)
    assert res.query_info.facets_of == "exact"
    assert sum(f.count for f in res.facets["year"]) == res.total


def test_api_says_where_the_exact_matches_end(client: FlaskClient) -> None:
    data = client.get("/api/search", query_string={"q": "齐齐哈尔 合作"}).get_json()
    info = data["query_info"]
    assert data["total"] == info["strict_total"] > 0 and info["partial_total"] > 0
    assert [h["match"] for h in data["hits"]][: data["total"] - info["folded"]].count("exact") >= 1


def test_a_capitalised_latin_word_is_not_read_as_pinyin(sample_location: Path | str) -> None:
    res = search("Python", index_dir=sample_location)
    assert res.total > 0 and res.suggestion is None
    res = search("Xiamen", index_dir=sample_location)
    assert res.total == 0 and res.query_info.corrected_from is None


def test_only_exclusions_are_explained(client: FlaskClient) -> None:
    html = page(client, "-北京")
    assert "只输入了排除词" in html and '<span class="term excluded">北京</span>' in html
