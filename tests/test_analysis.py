"""The analyzers: tokens, positions and offsets into the original text."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from whoosh.analysis import Analyzer

from indexer.analysis import ChineseAnalyzer, ChineseCharAnalyzer


def tokens(analyzer: Analyzer, text: str, mode: str = "index") -> list[tuple[str, int, str]]:
    """(token, position, original text the offsets point at)."""
    return [(t.text, t.pos, text[t.startchar : t.endchar]) for t in analyzer(text, positions=True, chars=True, mode=mode)]


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("齐齐哈尔 装备制造", "query", [("齐齐哈尔", 0, "齐齐哈尔"), ("装备", 2, "装备"), ("制造", 3, "制造")]),
        # Traditional and full-width input normalise to Simplified, offsets stay on the original.
        ("齊齊哈爾", "query", [("齐齐哈尔", 0, "齊齊哈爾")]),
        ("ＡＢＣ１２３", "query", [("abc123", 0, "ＡＢＣ１２３")]),
        # Mixed tokens survive whole.
        ("5G网络", "query", [("5g", 0, "5G"), ("网络", 1, "网络")]),
        ("COVID-19疫情", "query", [("covid-19", 0, "COVID-19"), ("疫情", 1, "疫情")]),
        ("Python 3.6.3版本", "query", [("python", 0, "Python"), ("3.6.3", 2, "3.6.3"), ("版本", 3, "版本")]),
        ("C#和C++", "query", [("c#", 0, "C#"), ("c++", 2, "C++")]),
        ("2024年", "query", [("2024", 0, "2024"), ("年", 1, "年")]),
        ("增长12.5%", "query", [("增长", 0, "增长"), ("12.5%", 1, "12.5%")]),
        # Stop words are dropped but keep their position.
        ("广州的合作", "query", [("广州", 0, "广州"), ("合作", 2, "合作")]),
        # Index mode adds the dictionary words inside a long word at the same position.
        ("齐齐哈尔市", "index", [("齐齐哈尔市", 0, "齐齐哈尔市"), ("齐齐", 0, "齐齐"), ("哈尔", 0, "哈尔")]),
        ("COVID-19", "index", [("covid-19", 0, "COVID-19"), ("covid", 0, "COVID"), ("19", 0, "19")]),
        # Punctuation leaves a gap so phrases do not run across it.
        ("对口，合作", "query", [("对口", 0, "对口"), ("合作", 2, "合作")]),
        ("", "query", []),
        ("，。！？", "query", []),
    ],
)
def test_word_tokens(text: str, mode: str, expected: list[tuple[str, int, str]]) -> None:
    assert tokens(ChineseAnalyzer(), text, mode) == expected


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("对口合作", "query", [("对", 0, "对"), ("对口", 0, "对口"), ("口", 1, "口"), ("口合", 1, "口合"),
                              ("合", 2, "合"), ("合作", 2, "合作"), ("作", 3, "作")]),
        ("鹤", "query", [("鹤", 0, "鹤")]),
        ("齊齊哈爾", "index", [("齐", 0, "齊"), ("齐齐", 0, "齊齊"), ("齐", 1, "齊"), ("齐哈", 1, "齊哈"),
                               ("哈", 2, "哈"), ("哈尔", 2, "哈爾"), ("尔", 3, "爾")]),
        # One run across scripts: letters and digits are characters like any other.
        ("5G网", "query", [("5", 0, "5"), ("5g", 0, "5G"), ("g", 1, "G"), ("g网", 1, "G网"), ("网", 2, "网")]),
        # Punctuation ends a run: no gram spans it.
        ("哈尔。滨", "index", [("哈", 0, "哈"), ("哈尔", 0, "哈尔"), ("尔", 1, "尔"), ("滨", 3, "滨")]),
        ("covid_19", "index", [("c", 0, "c"), ("co", 0, "co"), ("o", 1, "o"), ("ov", 1, "ov"), ("v", 2, "v"),
                               ("vi", 2, "vi"), ("i", 3, "i"), ("id", 3, "id"), ("d", 4, "d"), ("1", 6, "1"),
                               ("19", 6, "19"), ("9", 7, "9")]),
    ],
)
def test_char_tokens(text: str, mode: str, expected: list[tuple[str, int, str]]) -> None:
    assert tokens(ChineseCharAnalyzer(), text, mode) == expected


def test_offsets_follow_start_char_and_start_pos() -> None:
    toks = list(ChineseAnalyzer()("齐齐哈尔", positions=True, chars=True, start_pos=10, start_char=100, mode="query"))
    assert [(t.pos, t.startchar, t.endchar) for t in toks] == [(10, 100, 104)]


def test_offsets_survive_length_changing_normalisation() -> None:
    text = "ﬁ合作ß齐齐哈尔"  # the ligature and ß expand under NFKC/case folding
    got = tokens(ChineseAnalyzer(), text, "query")
    assert ("齐齐哈尔", "齐齐哈尔") in [(t, orig) for t, _, orig in got]
    assert ("合作", "合作") in [(t, orig) for t, _, orig in got]


def test_user_dictionary_keeps_domain_words_whole() -> None:
    assert [t for t, _, _ in tokens(ChineseAnalyzer(), "对口合作", "query")] == ["对口合作"]


def test_analyzers_pickle_without_state() -> None:
    for analyzer in (ChineseAnalyzer(), ChineseCharAnalyzer()):
        clone = pickle.loads(pickle.dumps(analyzer))
        assert type(clone) is type(analyzer)
        assert clone.__dict__ == {}
        assert tokens(clone, "齐齐哈尔", "query") == tokens(analyzer, "齐齐哈尔", "query")


def test_fast_segmenter_agrees_with_jieba_reference() -> None:
    """With jieba_fast installed, ``segment`` must cut exactly as jieba 0.42.1 does (on real news text)."""
    pytest.importorskip("jieba_fast", reason="the optional 'fast' extra is not installed")
    import itertools
    import json
    import re

    from indexer.analysis import _load_jieba, reference_segmenter, segment
    from tests.conftest import require_data

    reference = reference_segmenter()
    assert type(_load_jieba()).__module__.startswith("jieba_fast")
    path = require_data("cctv-xwlb", "articles.jsonl")
    with path.open(encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in itertools.islice(fh, 1500)]
    runs = [run for text in texts for run in re.findall("[\u4e00-\u9fff]+", text)]
    assert len(runs) > 20_000
    differing = [run for run in runs if [w for w, _, _ in segment(run)] != list(reference.cut(run, HMM=True))]
    assert differing == []


@pytest.mark.parametrize("run", ["我们在塱头村吃了一碗粿条", "选手林孝埈以第一名结束比赛"])
def test_runs_with_characters_the_fast_hmm_lacks_cut_like_jieba(run: str) -> None:
    """jieba_fast alone cuts these differently (its HMM has no statistics for 塱, 粿, 埈)."""
    pytest.importorskip("jieba_fast", reason="the optional 'fast' extra is not installed")
    from indexer.analysis import _load_jieba, reference_segmenter, segment

    expected = list(reference_segmenter().cut(run, HMM=True))
    assert [w for w, _, _ in segment(run)] == expected
    assert list(_load_jieba().cut(run, HMM=True)) != expected  # why segment() hands such runs to jieba


def test_jieba_cache_is_readable_by_other_users(tmp_path: Path) -> None:
    """A web server running as another user must be able to load the cache instead of rebuilding it."""
    import stat

    import jieba

    from indexer.analysis import _with_user_dictionary

    cache = tmp_path / "jieba-test.cache"
    _with_user_dictionary(jieba.Tokenizer(), str(cache))
    assert cache.exists()
    assert cache.stat().st_mode & stat.S_IROTH


def test_a_very_long_run_is_segmented_in_pieces_with_true_offsets() -> None:
    from indexer.analysis import MAX_SEGMENT_RUN, segment

    text = ("冬奥会在北京开幕" * 400)[: MAX_SEGMENT_RUN * 3 + 17]
    words = segment(text)
    assert "".join(w for w, _s, _e in words) == text
    assert all(text[s:e] == w for w, s, e in words)
    assert [s for _w, s, _e in words][1:] == [e for _w, _s, e in words][:-1]
    assert {MAX_SEGMENT_RUN, 2 * MAX_SEGMENT_RUN, 3 * MAX_SEGMENT_RUN} <= {s for _w, s, _e in words}


@pytest.mark.parametrize("analyzer", [ChineseAnalyzer(), ChineseCharAnalyzer()], ids=["words", "chars"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [("齊齊哈爾 ＡＢＣ", "齐齐哈尔 abc"), ("广州的合作", "广州的合作"), ("", "")],
)
def test_untokenized_value_is_one_normalised_token(analyzer: Analyzer, text: str, expected: str) -> None:
    got = [(t.text, t.pos, t.startchar, t.endchar, t.original)
           for t in analyzer(text, tokenize=False, positions=True, chars=True, keeporiginal=True, start_pos=4, start_char=10)]
    assert got == [(expected, 4, 10, 10 + len(text), text)]


@pytest.mark.parametrize("analyzer", [ChineseAnalyzer(), ChineseCharAnalyzer()], ids=["words", "chars"])
@pytest.mark.parametrize("text", ["齊齊哈爾的ＡＢＣ１２３", "Python 3.6.3版本", "臺灣經濟，增長12.5%"])
def test_keeporiginal_keeps_the_text_as_written(analyzer: Analyzer, text: str) -> None:
    found = [(t.text, t.original, text[t.startchar : t.endchar]) for t in analyzer(text, chars=True, keeporiginal=True, mode="index")]
    assert found
    assert all(original == span for _, original, span in found)
    assert any(original != norm for norm, original, _ in found)  # the normalised text is not what was written


def test_keeporiginal_of_a_traditional_word() -> None:
    assert [(t.text, t.original) for t in ChineseAnalyzer()("臺灣", keeporiginal=True, mode="query")] == [("台湾", "臺灣")]
