"""``indexer._html.extract_html`` on the shared real pages and on pathological input.

The data folder is ``ZHSEARCH_DATA`` or ``<project root>/../shared/data``; without
it the data tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from tests.conftest import require_data

from indexer._decode import decode_bytes
from indexer._html import HtmlArticle, extract_html
from indexer.errors import ArticleParseError

ROOT = Path(__file__).resolve().parent.parent
TITLE_FLOOR = 0.95
BODY_F1_FLOOR = 0.95
_WS = re.compile(r"\s+")
_CREDIT_LINE = re.compile(r"^[（(]?\s*(?:责任编辑|编辑)\s*[:：]")


def _dataset(name: str) -> Path:
    return require_data(name)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _extract(path: Path) -> HtmlArticle:
    text, _ = decode_bytes(path.read_bytes())
    return extract_html(text)


def char_f1(got: str, want: str) -> float:
    a, b = Counter(_WS.sub("", got)), Counter(_WS.sub("", want))
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def cctv() -> tuple[Path, list[dict]]:
    folder = _dataset("cctv-xwlb-html")
    return folder, _jsonl(folder / "expected.jsonl")


@pytest.fixture(scope="module")
def cctv_results(cctv: tuple[Path, list[dict]]) -> list[tuple[dict, HtmlArticle]]:
    # All 320 pages: the container path makes this about one second.
    folder, rows = cctv
    return [(row, _extract(folder / row["file"])) for row in rows]


@pytest.fixture(scope="module")
def gne() -> tuple[Path, dict[str, dict]]:
    folder = _dataset("gne-news-html")
    return folder, {Path(row["file"]).name: row for row in _jsonl(folder / "index.jsonl")}


def test_cctv_title_floor(cctv_results: list[tuple[dict, HtmlArticle]]) -> None:
    exact = sum(art.title == row["title"] for row, art in cctv_results) / len(cctv_results)
    assert exact >= TITLE_FLOOR


def test_cctv_body_f1_floor(cctv_results: list[tuple[dict, HtmlArticle]]) -> None:
    mean = statistics.fmean(char_f1(art.body, row["text"]) for row, art in cctv_results)
    assert mean >= BODY_F1_FLOOR


def test_cctv_date_matches_page_day(cctv_results: list[tuple[dict, HtmlArticle]]) -> None:
    exact = sum(
        art.published is not None and art.published.date().isoformat() == row["date"] for row, art in cctv_results
    )
    assert exact / len(cctv_results) >= 0.95


def test_cctv_bodies_have_no_credit_lines(cctv_results: list[tuple[dict, HtmlArticle]]) -> None:
    for _, art in cctv_results:
        assert not any(_CREDIT_LINE.match(line) for line in art.body.split("\n"))
        assert art.source is not None


@pytest.mark.parametrize("index", [0, 1, 100, -1])
def test_cctv_page_fields(cctv: tuple[Path, list[dict]], index: int) -> None:
    folder, rows = cctv
    row = rows[index]
    art = _extract(folder / row["file"])
    assert art.title == row["title"]
    assert art.published is not None and art.published.tzinfo is None
    assert art.published.date().isoformat() == row["date"]
    assert char_f1(art.body, row["text"]) >= 0.98
    with pytest.raises(FrozenInstanceError):
        art.title = ""  # type: ignore[misc]


def test_both_cctv_templates_are_present(cctv: tuple[Path, list[dict]]) -> None:
    folder, rows = cctv
    pages = [(folder / row["file"]).read_text(encoding="utf-8") for row in rows]
    assert any('class="cnt_bd"' in page for page in pages)
    assert any('id="content_area"' in page for page in pages)


def test_error_gne_list_pages(gne: tuple[Path, dict[str, dict]]) -> None:
    folder, rows = gne
    lists = [name for name, row in rows.items() if row["kind"] != "article"]
    assert len(lists) == 4
    for name in lists:
        with pytest.raises(ArticleParseError):
            _extract(folder / "html" / name)


def test_gne_titles_match_reference(gne: tuple[Path, dict[str, dict]]) -> None:
    folder, rows = gne
    referenced = [(name, row["gne_output_2019"]) for name, row in rows.items() if row.get("gne_output_2019")]
    for name, ref in referenced:
        art = _extract(folder / "html" / name)
        assert _WS.sub("", art.title) == _WS.sub("", ref["title"])
        assert char_f1(art.body, ref["content"]) >= 0.85


def _common_han_share(text: str) -> float:
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    common = 0
    for char in han:
        try:
            char.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(han) if han else 0.0


@pytest.mark.parametrize("name", ["163_9.html", "hexun_1.html", "people_1.html"])
def test_gne_pages_with_lying_meta_charset(gne: tuple[Path, dict[str, dict]], name: str) -> None:
    folder, rows = gne
    assert rows[name]["declared_charset"].lower() == "gb2312"
    text, encoding = decode_bytes((folder / "html" / name).read_bytes())
    art = extract_html(text)
    assert encoding == "utf-8"
    assert "\ufffd" not in art.title
    assert _common_han_share(art.title) >= 0.9
    reference = rows[name].get("gne_output_2019")
    if reference:
        assert _WS.sub("", art.title) == _WS.sub("", reference["title"])
    assert _common_han_share(art.body) >= 0.9


def test_extractor_fixture_titles_and_bodies() -> None:
    folder = _dataset("extractor-fixtures-zh")
    for meta in folder.glob("readability-*/expected-metadata.json"):
        want = json.loads(meta.read_text(encoding="utf-8"))["title"]
        art = _extract(meta.parent / "source.html")
        assert art.title and want.startswith(art.title)
    newspaper = folder / "newspaper-bbc-chinese"
    art = _extract(newspaper / "source.html")
    assert char_f1(art.body, (newspaper / "expected.txt").read_text(encoding="utf-8")) >= 0.95


def test_url_from_canonical_link() -> None:
    html = (
        '<html><head><title>一条新闻的标题_某某网</title><link rel="canonical" href="/news/1.html"></head>'
        f'<body><h1>一条新闻的标题</h1><div class="article-content"><p>{"正文的一句话。" * 20}</p></div></body></html>'
    )
    art = extract_html(html, url="https://example.com/a?b=1")
    assert art.url == "https://example.com/news/1.html"
    assert art.title == "一条新闻的标题"


def test_credit_lines_leave_body_and_name_the_source() -> None:
    body = "".join(f"<p>第{i}段正文内容，写得足够长以便成为段落。</p>" for i in range(5))
    html = (
        "<html><head><title>标题在这里</title></head><body><h1>标题在这里</h1>"
        f'<div class="content">{body}<p>本文来源：某某日报</p><p>责任编辑：某某</p></div></body></html>'
    )
    art = extract_html(html)
    assert art.source == "某某日报"
    assert "责任编辑" not in art.body and "本文来源" not in art.body
    assert art.body.count("\n") == 4


def test_error_deeply_nested_page() -> None:
    html = "<html><body>" + "<div>" * 10_000 + "深" * 200 + "</div>" * 10_000 + "</body></html>"
    with pytest.raises(ArticleParseError):
        extract_html(html)


def test_deeply_nested_text_does_not_crash() -> None:
    html = "<html><body>" + "".join(f"<div><span>第{i}层的一些文字" for i in range(10_000)) + "</body></html>"
    try:
        extract_html(html)
    except ArticleParseError:
        pass


@pytest.mark.parametrize("html", ["", "   \n", "<html></html>", "\x00\x00<html>\x00"])
def test_error_empty_page(html: str) -> None:
    with pytest.raises(ArticleParseError) as info:
        extract_html(html, url="https://example.com/empty")
    assert info.value.path == "https://example.com/empty"


def test_error_script_only_page() -> None:
    script = "document.write('很多很多很多很多很多很多很多很多的文字');" * 50
    html = f"<html><head><script>{script}</script></head><body><script>{script}</script><style>p{{}}</style></body></html>"
    with pytest.raises(ArticleParseError) as info:
        extract_html(html)
    assert info.value.path == "<html>"


def test_error_huge_flat_page_is_refused_quickly() -> None:
    html = "<html><body>" + "<div>字</div>" * 100_000 + "</body></html>"
    with pytest.raises(ArticleParseError):
        extract_html(html)
