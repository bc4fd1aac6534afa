"""Regional forms: the listed trigger strings decide which texts need OpenCC's converters, and
skipping the converters for the others never loses a form."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import jieba
import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.matchtext import normal_form
from search import _variants
from search._variants import converted, variants
from tests import _corpus
from tests.conftest import require_data


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    for cached in (variants, _variants._converter, _variants._triggers):
        cached.cache_clear()
    yield
    for cached in (variants, _variants._converter, _variants._triggers):
        cached.cache_clear()


def _same_as_converted(texts: list[str]) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The texts whose forms differ between ``variants`` and the converters run on every text."""
    return [(t, variants(t), full) for t in texts if variants(t) != (full := converted(t, normal_form(t)))]


def _substrings(texts: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = rng.choice(texts)
        length = rng.randint(1, 10)
        start = rng.randrange(max(1, len(text) - length))
        out.append(text[start:start + length])
    return out


def test_the_shipped_list_is_derived_from_the_installed_opencc() -> None:
    shipped = _variants.listed_lines()
    if shipped[0] != _variants._HEADER.format(opencc.__version__):
        pytest.fail(f"the list names {shipped[0]!r}, OpenCC is {opencc.__version__}: run search._variants.write_triggers()")
    assert shipped[1:] == _variants.derive_triggers()


def test_plain_text_builds_no_converter_and_a_regional_word_does(fresh_caches: None) -> None:
    for text in ("经济发展", "习近平 会见", "冬奥会", "Huawei 5G"):
        assert variants(text) == (normal_form(text),)
    assert _variants._converter.cache_info().currsize == 0
    assert "人工智慧" in variants("人工智能")
    assert _variants._converter.cache_info().currsize == 4


def test_a_list_of_another_opencc_release_is_not_used(fresh_caches: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opencc, "__version__", "0.0.0")
    assert _variants._triggers() is None
    assert variants("经济发展") == ("经济发展",)
    assert _variants._converter.cache_info().currsize == 4  # every text converted


def test_dictionary_words_lose_no_form() -> None:
    """20,000 words of jieba's dictionary (as installed), plain and in Traditional characters."""
    path = Path(jieba.__file__).parent / "dict.txt"
    words = [line.split(" ", 1)[0] for line in path.read_text("utf-8").splitlines()]
    sample = random.Random(7).sample(words, 20_000)
    to_traditional = _variants._converter("s2twp")
    assert _same_as_converted(sample + [to_traditional.convert(w) for w in sample[:5_000]]) == []


def test_our_articles_lose_no_form() -> None:
    texts = [f"{r['title']} {r['text']}" for r in _corpus.generate(200)]
    assert _same_as_converted(_substrings(texts, 5_000, seed=11)) == []


def test_real_articles_lose_no_form() -> None:
    """Random substrings of CCTV news (Simplified) and of Taiwan Wikipedia (drcd, Traditional)."""
    cctv = require_data("cctv-xwlb", "articles.jsonl")
    drcd = require_data("drcd", "corpus.jsonl")
    simplified = [json.loads(line)["text"] for line in cctv.read_text("utf-8").splitlines()[:3_000]]
    traditional = re.findall(r"[\u4e00-\u9fff]{20,}", drcd.read_text("utf-8"))[:3_000]
    texts = _substrings(simplified, 15_000, seed=12) + _substrings(traditional, 15_000, seed=13)
    assert _same_as_converted(texts) == []


_LISTED = sorted({ch for s in _variants.listed_lines()[1:] for ch in s} | set("经济发展合作会见于伦敦位落網路軟體"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_LISTED), min_size=1, max_size=8))
def test_texts_of_listed_characters_lose_no_form(text: str) -> None:
    assert variants(text) == converted(text, normal_form(text))
