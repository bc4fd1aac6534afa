"""Query parsing: syntax as typed on a Western or a Chinese keyboard, and the plan it makes."""

from __future__ import annotations

import pytest

from search import _query
from search._variants import variants


@pytest.mark.parametrize(
    ("typed", "words", "phrases", "excluded", "any_of"),
    [
        ("习近平 会见", ["习近平", "会见"], [], [], []),
        ('"习近平会见"', [], ["习近平会见"], [], []),
        ("“习近平会见”", [], ["习近平会见"], [], []),
        ("「习近平会见」", [], ["习近平会见"], [], []),
        ("『习近平会见』", [], ["习近平会见"], [], []),
        ("＂习近平会见＂", [], ["习近平会见"], [], []),
        ("‘冬奥会’", [], ["冬奥会"], [], []),
        ("“北京 冬奥会”", [], ["北京 冬奥会"], [], []),
        ("“未闭合的短语", [], ["未闭合的短语"], [], []),
        ("冬奥会“开幕式”", ["冬奥会"], ["开幕式"], [], []),
        ("冬奥会 -北京", ["冬奥会"], [], ["北京"], []),
        ("冬奥会 －北京", ["冬奥会"], [], ["北京"], []),
        ("冬奥会 —北京", ["冬奥会"], [], ["北京"], []),
        ("广州 OR 深圳", [], [], [], [["广州", "深圳"]]),
        ("广州 | 深圳", [], [], [], [["广州", "深圳"]]),
        ("广州｜深圳", [], [], [], [["广州", "深圳"]]),
        ("广州|深圳|东莞 合作", ["合作"], [], [], [["广州", "深圳", "东莞"]]),
        ("合作 广州 OR 深圳 OR 东莞", ["合作"], [], [], [["广州", "深圳", "东莞"]]),
        ("ＡＩ　芯片", ["AI", "芯片"], [], [], []),  # full-width letters and space are plain text
        ("covid-19", ["covid-19"], [], [], []),  # a hyphen inside a word is text
        ("!!! 合作", ["合作"], [], [], []),
        ("-", [], [], [], []),
    ],
)
def test_syntax_as_typed(typed: str, words: list[str], phrases: list[str], excluded: list[str],
                         any_of: list[list[str]]) -> None:
    parsed = _query.parse(typed)
    assert (parsed.words, parsed.phrases, parsed.excluded, parsed.any_of) == (words, phrases, excluded, any_of)


def test_field_prefixes_with_either_colon() -> None:
    for typed in ("title:合作", "title：合作", "标题：合作", "TITLE:合作"):
        assert _query.parse(typed).title_terms == ["合作"]
    assert _query.parse("来源：新华社 合作").sources == ["新华社"]


def test_text_without_letters_is_reported_not_matched() -> None:
    parsed = _query.parse("！！ 合作 ……")
    assert parsed.words == ["合作"] and parsed.ignored == ["!!", "......"]


def test_every_word_is_required_as_typed_not_as_jieba_cut_it() -> None:
    plan = _query.exact_plan(_query.parse("兰抵抗 中共中央"))
    assert [[n.text for n in r.needles] for r in plan] == [["兰抵抗"], ["中共中央"]]
    # One or two characters are decided by postings; longer text is checked on the stored text.
    singles = _query.exact_plan(_query.parse("习 近平 习近平"))
    assert [r.needles[0].decided for r in singles] == [True, True, False]


@pytest.mark.parametrize(
    ("typed", "form"),
    [("人工智能", "人工智慧"), ("人工智慧", "人工智能"), ("網路", "网络"), ("网络", "网路"), ("軟體", "软件"), ("软件", "软体")],
)
def test_regional_forms(typed: str, form: str) -> None:
    assert form in variants(typed)


def test_regional_forms_leave_plain_words_alone() -> None:
    for word in ("中国", "习近平", "合作", "齐齐哈尔"):
        assert variants(word) == (word,)
