"""search(), suggest(), related() on real indexes: the seeds plus CCTV news, and the sample articles."""

from __future__ import annotations

import json
import re
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from indexer import build_index
from search import (
    ArticleNotFoundError,
    Hit,
    IndexNotFoundError,
    QuerySyntaxError,
    SearchError,
    SearchResults,
    get_article,
    related,
    search,
    suggest,
)

SEED_000 = "000_601d9bb788b1b65f.txt"
SEED_002 = "002_9c361715a5427a4e.txt"


def ids(res: SearchResults) -> list[str]:
    return [h.id for h in res.hits]


def test_contract_types_are_frozen_and_json_ready(news_index: Path) -> None:
    res = search("齐齐哈尔 装备制造", index_dir=news_index)
    assert isinstance(res, SearchResults) and all(isinstance(h, Hit) for h in res.hits)
    with pytest.raises(FrozenInstanceError):
        res.total = 0  # type: ignore[misc]
    data = json.loads(json.dumps(res.to_dict(), ensure_ascii=False))
    assert data["total"] == res.total and data["hits"][0]["id"] == res.hits[0].id
    assert res.query_info is not None and res.query_info.words == ("齐齐哈尔", "装备制造")


def test_all_words_rank_first(news_index: Path) -> None:
    res = search("齐齐哈尔 装备制造", index_dir=news_index)
    assert res.hits[0].id == SEED_000
    first = res.hits[0]
    assert "齐齐哈尔" in first.snippet or "齐齐哈尔" in first.title


def test_phrase_finds_contiguous_text(news_index: Path) -> None:
    res = search('"对口合作"', index_dir=news_index)
    assert {SEED_000, SEED_002} <= set(ids(res))
    assert res.query_info is not None and res.query_info.phrases == ("对口合作",)


def test_partial_word_matches_through_characters(news_index: Path) -> None:
    # jieba makes 齐齐哈尔 one word; the character field still finds 哈尔 inside it.
    assert SEED_000 in ids(search("哈尔", index_dir=news_index, per_page=50))


def test_traditional_and_full_width_input(news_index: Path) -> None:
    assert ids(search("齊齊哈爾", index_dir=news_index))[0] == SEED_000
    assert SEED_002 in ids(search("牡丹江　東莞", index_dir=news_index))


def test_exclusion_or_and_fields(news_index: Path) -> None:
    with_both = set(ids(search("对口合作", index_dir=news_index, per_page=50)))
    assert {SEED_000, SEED_002} <= with_both
    without = set(ids(search("对口合作 -牡丹江", index_dir=news_index, per_page=50)))
    assert SEED_002 not in without and SEED_000 in without
    either = set(ids(search("穗鹤 OR 莞牡", index_dir=news_index, per_page=50)))
    assert {SEED_000, SEED_002} <= either
    assert ids(search("title:牡丹江", index_dir=news_index))[0] == SEED_002
    assert ids(search("source:南方网 合作", index_dir=news_index)) == [SEED_000]


def test_filters_as_arguments(news_index: Path) -> None:
    res = search("合作", index_dir=news_index, source="黑龙江日报")
    assert ids(res) == [SEED_002]
    res = search("合作", index_dir=news_index, date_from="2024-10-01", date_to="2024-10-31", per_page=50)
    assert SEED_000 in ids(res) and all(h.published and h.published.strftime("%Y-%m") == "2024-10" for h in res.hits)


def test_no_dead_ends(news_index: Path) -> None:
    res = search("齐齐哈尔 量子引力波", index_dir=news_index, per_page=50)
    # No article holds both words: none is counted, and the partial matches are listed, marked as such.
    assert res.total == 0 and SEED_000 in ids(res) and {h.match for h in res.hits} == {"partial"}
    assert res.query_info is not None and res.query_info.relaxed and res.query_info.strict_total == 0
    assert res.query_info.partial_total >= len(res.hits)


def test_relevance_sort_by_date(news_index: Path) -> None:
    res = search("经济", index_dir=news_index, sort="date", per_page=20)
    dates = [h.published for h in res.hits if h.published]
    assert len(dates) == 20 and dates == sorted(dates, reverse=True)


def test_facets_count_the_whole_result_set(news_index: Path) -> None:
    res = search("经济", index_dir=news_index)
    assert res.total > res.per_page
    years = res.facets["year"]
    assert years and sum(f.count for f in years) >= res.total
    year = years[0].value
    narrowed = search("经济", index_dir=news_index, year=year)
    assert all(h.published and str(h.published.year) == year for h in narrowed.hits)


def test_pagination_covers_distinct_hits(news_index: Path) -> None:
    first = search("合作", index_dir=news_index, page=1)
    second = search("合作", index_dir=news_index, page=2)
    assert first.pages >= 2 and second.page == 2
    assert not set(ids(first)) & set(ids(second))


def test_snippet_is_short_marked_escaped_and_adds_no_spaces(news_index: Path) -> None:
    res = search("齐齐哈尔 装备制造", index_dir=news_index)
    hit = next(h for h in res.hits if h.id == SEED_000)
    text = re.sub(r"</?mark>", "", hit.snippet).strip("…")
    assert "<mark>装备制造</mark>" in hit.snippet or "<mark>装备</mark>" in hit.snippet
    assert 40 <= len(text) <= 170
    assert " " not in text  # the seed uses no spaces; none may be added
    assert "<mark><mark>" not in hit.snippet


def test_highlights_merge_overlapping_matches(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"id": "x", "title": "齐齐哈尔<b>装备</b>", "text": "齐齐哈尔装备制造业<script>x</script>发展。"}, ensure_ascii=False) + "\n", "utf-8")
    build_index([src], tmp_path / "ix", procs=1)
    hit = search("齐齐哈尔 装备 哈尔", index_dir=tmp_path / "ix").hits[0]
    assert hit.snippet.startswith("<mark>齐齐哈尔装备</mark>")
    assert "&lt;script&gt;" in hit.snippet and "<script>" not in hit.snippet
    assert hit.title_html == "<mark>齐齐哈尔</mark>&lt;b&gt;<mark>装备</mark>&lt;/b&gt;"


@pytest.mark.parametrize(
    "query",
    ['"', "(", ":", "AND", "*", "", "   ", "OR", "-", '"unclosed phrase', "title:", "source:", "a" * 5000,
     "齐" * 5000, "\x00\x01\x1b[31m", "((( AND OR NOT )))", "title:(x OR", "-齐齐哈尔", "\u202e\ufeff", "🙂🙂"],
)
def test_error_no_input_raises(news_index: Path, query: str) -> None:
    res = search(query, index_dir=news_index)
    assert res.total >= 0


def test_blank_query_is_empty_not_an_error(news_index: Path) -> None:
    res = search("  ", index_dir=news_index)
    assert res.total == 0 and res.hits == ()


@pytest.mark.parametrize(
    "kwargs",
    [{"page": 0}, {"page": "x"}, {"page": "0" * 5000}, {"per_page": 1000}, {"sort": "random"}, {"date_from": "not a date"}],
)
def test_error_bad_parameters_raise_query_syntax_error(news_index: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(QuerySyntaxError):
        search("合作", index_dir=news_index, **kwargs)  # type: ignore[arg-type]


def test_error_missing_index_is_not_no_results(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError) as info:
        search("合作", index_dir=tmp_path / "missing")
    assert isinstance(info.value, SearchError)


def test_suggestions_for_pinyin_and_homophones(news_index: Path) -> None:
    assert search("qiqihaer", index_dir=news_index).suggestion == "齐齐哈尔"
    res = search("齐齐哈耳", index_dir=news_index)
    assert res.suggestion == "齐齐哈尔"
    assert search("齐齐哈尔", index_dir=news_index).suggestion is None


@pytest.mark.parametrize("prefix", ["齐齐", "qiqi", "qqhe", "QiQiHa"])
def test_autocomplete_from_chinese_or_pinyin(news_index: Path, prefix: str) -> None:
    assert "齐齐哈尔" in suggest(prefix, limit=8, index_dir=news_index)


def test_near_duplicate_reprints_collapse(sample_index: Path) -> None:
    res = search("冷链班列", index_dir=sample_index)
    reprints = [h for h in res.hits if "冷链班列" in h.title]
    assert len(reprints) == 1 and reprints[0].duplicates == 1


def test_related_and_article(news_index: Path) -> None:
    hits = related(SEED_002, limit=5, index_dir=news_index)
    assert hits and SEED_002 not in [h.id for h in hits]
    article = get_article(SEED_002, highlight_query="东莞", index_dir=news_index)
    assert article.title == "牡丹江市与东莞市对口合作走深走实"
    assert "<mark>东莞</mark>" in article.body_html and "<mark>东莞</mark>" in article.title_html
    with pytest.raises(ArticleNotFoundError):
        get_article("../../etc/passwd", index_dir=news_index)


def test_rebuilt_index_is_picked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "a.jsonl"
    ix = tmp_path / "ix"
    src.write_text(json.dumps({"id": "old", "title": "旧文章", "text": "旧的正文。"}, ensure_ascii=False) + "\n", "utf-8")
    build_index([src], ix, procs=1)
    assert ids(search("正文", index_dir=ix)) == ["old"]
    src.write_text(json.dumps({"id": "new", "title": "新文章", "text": "新的正文。"}, ensure_ascii=False) + "\n", "utf-8")
    build_index([src], ix, procs=1)
    import search._index as cache

    monkeypatch.setattr(cache, "RECHECK_SECONDS", 0.0)
    assert ids(search("正文", index_dir=ix)) == ["new"]


def test_did_you_mean_spells_a_typo_from_the_index_characters_without_pypinyin(tmp_path: Path) -> None:
    """A word the index lacks is spelled from the characters file written with the vocabulary:
    pypinyin (about 55 MB of phrase dictionaries) never loads in the search process."""
    import subprocess
    import sys

    from indexer import build_index, current_generation
    from indexer._vocab import CHARS_FILE, read_char_pinyin
    from tests.conftest import ROOT, SAMPLE_ARTICLES

    build_index([SAMPLE_ARTICLES], tmp_path, procs=1)
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
