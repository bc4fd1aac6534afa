"""indexer.textrules: each text rule once, and every reader, the build and the search side using it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

import indexer
from indexer import parse_article
from indexer._html import extract_html
from indexer._text import parse_page_text
from indexer.article import derive_title
from indexer.textrules import CREDIT_LABELS, SENTENCE_END, both_scripts, is_han, parse_date
from search._snippets import snippet


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-03-28", datetime(2023, 3, 28)),
        ("2023/3/8", datetime(2023, 3, 8)),
        ("2023.03.28", datetime(2023, 3, 28)),
        ("2023-03-28 09:25", datetime(2023, 3, 28, 9, 25)),
        ("2023-03-28 09:25:56", datetime(2023, 3, 28, 9, 25, 56)),
        ("2023-03-28T09:25:56+08:00", datetime(2023, 3, 28, 9, 25, 56)),
        ("2023-03-28 09 : 25", datetime(2023, 3, 28, 9, 25)),
        ("2023年3月28日", datetime(2023, 3, 28)),
        ("2023 年 3 月 28 日 09:25", datetime(2023, 3, 28, 9, 25)),
        ("2023年03月28日9时05分", datetime(2023, 3, 28, 9, 5)),
        ("發佈時間：2023年3月28日 09時25分", datetime(2023, 3, 28, 9, 25)),
        ("２０２３年３月２８日", datetime(2023, 3, 28)),
        ("２０２３－０３－２８　０９：２５：５６", datetime(2023, 3, 28, 9, 25, 56)),
        ("2023-03-28 09：25", datetime(2023, 3, 28, 9, 25)),
        ("来源：新华社 2024-02-03 10:11 编辑：张三", datetime(2024, 2, 3, 10, 11)),
        ("1999-12-31", datetime(1999, 12, 31)),
        # The first date that exists on the calendar is the one taken.
        ("2023-02-30 更正于 2023-03-01", datetime(2023, 3, 1)),
        # An impossible time leaves no date behind it.
        ("2023-03-28 25:61", None),
        ("", None),
        (None, None),
        ("没有日期的一行字", None),
        ("2023-13-45", None),
        ("1850-01-01", None),
        ("2023年", None),
        ("09:25", None),
        ("电话 12345678", None),
    ],
)
def test_parse_date(text: str | None, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_every_reader_reads_full_width_dates(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("一个标题\n发布时间：２０２３年３月２８日　０９：２５\n正文第一段，写得足够长。\n", "utf-8")
    assert parse_article(page).published == datetime(2023, 3, 28, 9, 25)
    html = (
        "<html><head><title>一个标题</title><meta name='pubdate' content='２０２３－０３－２８ ０９：２５'></head>"
        "<body><h1>一个标题</h1><article><p>正文第一段，写得足够长，足够长，足够长，足够长，足够长。</p>"
        "<p>正文第二段，也写得足够长，足够长，足够长，足够长。</p></article></body></html>"
    )
    assert extract_html(html).published == datetime(2023, 3, 28, 9, 25)
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"id": "a", "title": "标题", "text": "正文。", "date": "２０２４年２月３日"}, ensure_ascii=False), "utf-8")
    assert [a.published for a in indexer.read_sources([feed])] == [datetime(2024, 2, 3)]


@pytest.mark.parametrize("end", list("。！？；!?;\n"))
def test_one_sentence_end_for_titles_reprints_and_snippets(end: str) -> None:
    assert derive_title(f"第一句话{end}第二句话") == "第一句话"
    assert SENTENCE_END.split(f"甲{end}乙") == ["甲", "乙"]
    # A snippet that has to start inside the text starts after a sentence end.
    text = "无关的开头" * 30 + end + "目标句子在这里。" + "无关的结尾" * 30
    assert snippet(text, ["目标"], width=40).startswith("…<mark>目标</mark>")


@pytest.mark.parametrize("not_an_end", list("，、：,:"))
def test_commas_do_not_end_a_sentence(not_an_end: str) -> None:
    assert derive_title(f"第一句{not_an_end}还是第一句。第二句") == f"第一句{not_an_end}还是第一句"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("中", True),
        ("中华人民共和国", True),
        ("\u3400", True),  # Extension A
        ("\u4dbf", True),
        ("\u4dc0", False),  # a Yijing hexagram symbol, between Extension A and the basic block
        ("\uf900", True),  # a compatibility ideograph
        ("\U00020bb7", False),  # Extension B, outside the Basic Multilingual Plane: a letter here
        ("中a", False),
        ("5g", False),
        ("。", False),
        ("中 国", False),
        ("ぁ", False),
    ],
)
def test_is_han(text: str, expected: bool) -> None:
    assert is_han(text) is expected


def test_both_scripts_adds_traditional_spellings() -> None:
    labels = both_scripts(["责任编辑", "来源"]).split("|")
    assert {"责任编辑", "責任編輯", "来源", "來源"} <= set(labels)
    assert labels == sorted(labels, key=len, reverse=True)
    assert "發布時間" in both_scripts("发布时间").split("|")


def test_credit_vocabulary_covers_what_both_readers_strip() -> None:
    for label in ("责任编辑", "编辑", "本文来源", "文章来源", "稿件来源", "来源", "作者", "记者", "校对", "主编"):
        assert label in CREDIT_LABELS


_HTML_WITH_CREDITS = (
    "<html><head><title>港口新航線開通</title></head><body><h1>港口新航線開通</h1><div class='content'>"
    "<p>本報訊 港口今天開通了一條新的貨運航線，每週三班，連接兩個主要的貿易城市。</p>"
    "<p>港務部門表示，新航線將縮短運輸時間，並降低沿線企業的物流成本。</p>"
    "<p>{credit}</p></div></body></html>"
)


@pytest.mark.parametrize(
    ("credit", "source"),
    [("責任編輯：王小明", None), ("来源：海港日报", "海港日报"), ("來源：海港日報", "海港日報"), ("文章來源：海港日報", "海港日報")],
)
def test_html_credit_lines_leave_the_body_in_both_scripts(credit: str, source: str | None) -> None:
    art = extract_html(_HTML_WITH_CREDITS.format(credit=credit))
    assert credit not in art.body
    assert "新的貨運航線" in art.body
    assert art.source == source


def test_html_traditional_reporter_is_the_author() -> None:
    art = extract_html(_HTML_WITH_CREDITS.format(credit="記者：李大同"))
    assert art.author == "李大同"
    assert "李大同" not in art.body


@pytest.mark.parametrize(
    ("trailer", "field", "value"),
    [
        ("責任編輯：王小明", "editor", "王小明"),
        ("责任编辑：王小明", "editor", "王小明"),
        ("來源：海港日報", "source", "海港日報"),
        ("文章来源：海港日报", "source", "海港日报"),
    ],
)
def test_page_text_credit_lines_in_both_scripts(trailer: str, field: str, value: str) -> None:
    page = parse_page_text(f"港口新航線開通\n港口今天開通了一條新的貨運航線，每週三班。\n港務部門表示，新航線將縮短運輸時間。\n{trailer}\n")
    assert getattr(page, field) == value
    assert trailer not in page.body and "新航線將縮短" in page.body

