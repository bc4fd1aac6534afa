"""indexer.vocab's files: the heaviest words first (ties by word), at most MAX_TERMS of them, and the
pinyin of words already in the previous generation's file taken from there."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import vocab

_WORDS = st.text(alphabet="中国经济发展人民合作", min_size=2, max_size=4)


@settings(max_examples=60, deadline=None)
@given(weights=st.dictionaries(_WORDS, st.integers(1, 6), max_size=40), limit=st.integers(1, 30))
def test_the_heaviest_words_first_ties_by_word_at_most_max_terms(tmp_path_factory: pytest.TempPathFactory,
                                                                  weights: dict[str, int], limit: int) -> None:
    gen = tmp_path_factory.mktemp("gen")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vocab, "MAX_TERMS", limit)
        written = vocab.write_vocab_weights({**weights, "abc": 99, "中": 99}, gen)  # neither is a Han word of 2+
    expected = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    entries = list(vocab.read_vocab(gen / vocab.VOCAB_FILE, strict=True))
    assert written == len(expected)
    assert [(term, weight) for term, weight, _full, _initials in entries] == expected
    assert all((full, initials) == vocab.pinyin_keys(term) for term, _w, full, initials in entries)


def test_pinyin_of_words_already_written_is_reused(tmp_path: Path) -> None:
    previous, gen = tmp_path / "previous", tmp_path / "gen"
    previous.mkdir()
    gen.mkdir()
    (previous / vocab.VOCAB_FILE).write_text("经济\t5\tjingji-mark\tjj-mark\nnot a line\n合作\tx\tbad\tbad\n", "utf-8")
    vocab.write_vocab_weights({"经济": 7, "合作": 3}, gen, previous=previous)
    entries = list(vocab.read_vocab(gen / vocab.VOCAB_FILE, strict=True))
    assert entries == [("经济", 7, "jingji-mark", "jj-mark"), ("合作", 3, *vocab.pinyin_keys("合作"))]
