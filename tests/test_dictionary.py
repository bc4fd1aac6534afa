"""jieba's dictionary as a memory-mapped trie (``indexer.dictionary``): the same counts, the same
words cut from queries, and a fresh process that analyses a query without loading the dictionary."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import analysis, dictionary
from indexer.analysis import ChineseAnalyzer, _jieba_over, _load_jieba, segment

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> dictionary.MappedFrequencies:
    full = _load_jieba()
    path = tmp_path_factory.mktemp("dictionary") / "words"
    dictionary.write_trie(full.FREQ, full.total, path)
    return dictionary.open_trie(path)


def _texts(count: int, seed: int) -> list[str]:
    """Han runs made of dictionary words, prefixes of words and random characters, in random order."""
    rng = random.Random(seed)
    words = [w for w, n in _load_jieba().FREQ.items() if n and all("\u4e00" <= c <= "\u9fff" for c in w)]
    words.sort()
    pieces = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 8)):
            kind = rng.random()
            word = rng.choice(words)
            parts.append(word if kind < 0.7 else word[: rng.randint(1, len(word))] if kind < 0.9 else chr(rng.randint(0x4E00, 0x9FA5)))
        pieces.append("".join(parts))
    return pieces


def test_mapped_counts_equal_the_loaded_dictionary(mapped: dictionary.MappedFrequencies) -> None:
    full = _load_jieba()
    assert len(mapped) == len(full.FREQ)
    assert mapped.total == full.total
    assert all(mapped.get(word) == count for word, count in full.FREQ.items())
    assert set(mapped) == set(full.FREQ)
    for absent in ("齐齐哈尔市人民", "zzzz", "", "\x00"):
        assert (absent in mapped) == (absent in full.FREQ)
        assert mapped.get(absent) == full.FREQ.get(absent)
    with pytest.raises(KeyError):
        mapped["齐齐哈尔市人民"]


def test_jieba_over_the_mapped_dictionary_cuts_as_indexing_does(mapped: dictionary.MappedFrequencies) -> None:
    cutter = _jieba_over(mapped, mapped.total)
    texts = _texts(3000, seed=7)
    differing = [t for t in texts if list(cutter.cut(t, HMM=True)) != [w for w, _, _ in segment(t)]]
    assert differing == []


def test_counts_that_do_not_match_the_words_are_refused(tmp_path: Path, mapped: dictionary.MappedFrequencies) -> None:
    dictionary.write_trie({"甲": 1, "甲乙": 2}, 3, tmp_path / "d")
    import numpy as np

    np.save(tmp_path / "d" / "counts.npy", np.zeros(7, dtype=np.int64))
    with pytest.raises(ValueError):
        dictionary.open_trie(tmp_path / "d")


def test_a_damaged_trie_is_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "words"
    full = _load_jieba()
    dictionary.write_trie(full.FREQ, full.total, path)
    (path / "words.marisa").write_bytes(b"not a trie")
    monkeypatch.setattr(dictionary, "trie_path", lambda: path)
    monkeypatch.setattr(dictionary, "_mapped", None)
    freq = dictionary.mapped_frequencies(_load_jieba)
    assert freq is not None and freq.total == full.total and freq.get("齐齐哈尔") == full.FREQ.get("齐齐哈尔")
    assert dictionary.open_trie(path).total == full.total  # the folder itself was replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words"]  # nothing partial left behind


def test_no_place_for_the_trie_means_no_mapped_dictionary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(dictionary, "trie_path", lambda: blocker / "words")
    monkeypatch.setattr(dictionary, "_mapped", None)
    assert dictionary.mapped_frequencies(_load_jieba) is None


_FRESH = """
import json, sys
from indexer import analysis
from indexer.analysis import ChineseAnalyzer, is_known_word, subwords
texts = json.loads(sys.stdin.read())
words = [[t.text for t in ChineseAnalyzer()(text, mode="query")] for text in texts]
extra = [is_known_word("齐齐哈尔"), is_known_word("齐齐哈尔市人民"), list(subwords("齐齐哈尔市"))]
print(json.dumps({"words": words, "extra": extra, "loaded": analysis._jieba is not None,
                  "jieba_fast": "jieba_fast" in sys.modules, "pkg_resources": "pkg_resources" in sys.modules}))
"""


def test_a_fresh_process_cuts_queries_without_loading_the_dictionary(tmp_path: Path) -> None:
    """The first process writes the trie (loading the dictionary once); the next only maps it."""
    texts = ["齐齐哈尔装备制造", "習近平會見", "人工智能 5G网络", "中共中央政治局会议", *_texts(200, seed=11)]
    env = {**os.environ, "ZHSEARCH_JIEBA_CACHE": str(tmp_path / "jieba.cache"), "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", _FRESH], input=json.dumps(texts), env=env, capture_output=True,
                             text=True, check=True, timeout=120)
        runs.append(json.loads(out.stdout))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("zhsearch-dictionary-")] != []
    assert runs[0]["loaded"] is True  # it had to build the trie from the loaded dictionary
    assert runs[1]["loaded"] is False and runs[1]["jieba_fast"] is False and runs[1]["pkg_resources"] is False
    expected = [[t.text for t in ChineseAnalyzer()(text, mode="query")] for text in texts]
    assert runs[0]["words"] == runs[1]["words"] == expected
    assert runs[1]["extra"] == [True, False, [list(pair) for pair in analysis.subwords("齐齐哈尔市")]]


_UPDATE = """
import json, sys
from indexer import analysis, update_index
report = update_index([sys.argv[1]], index_dir=sys.argv[2])
print(json.dumps({"indexed": report.indexed, "loaded": analysis._jieba is not None}))
"""


def _terms(root: Path) -> dict[tuple[str, bytes], int]:
    from indexer import _store

    with _store.open_generation(_store.current_generation(root)).reader() as reader:
        return {(field, text): reader.doc_frequency(field, text) for field, text in reader.all_terms()}


@pytest.mark.parametrize("deferred_chars", [analysis.DEFERRED_CHARS, 300])
def test_a_small_update_indexes_the_words_a_rebuild_does_without_loading_the_dictionary(
        tmp_path: Path, deferred_chars: int) -> None:
    """Its articles are cut over the mapped dictionary: every field's terms and document frequencies
    equal those of one rebuild of the same articles. Past the budget (300 characters here) the
    process loads the dictionary and goes on with jieba_fast: the same terms again."""
    from indexer import build_index
    from tests import _corpus

    records = _corpus.generate(12, seed=5)
    env = {**os.environ, "ZHSEARCH_JIEBA_CACHE": str(tmp_path / "jieba.cache"), "PYTHONPATH": str(ROOT)}
    first, rest = _corpus.write_jsonl(tmp_path / "a.jsonl", records[:1]), _corpus.write_jsonl(tmp_path / "b.jsonl", records[1:])
    updated, rebuilt = tmp_path / "updated", tmp_path / "rebuilt"
    build_index([first], index_dir=updated, procs=1)
    subprocess.run([sys.executable, "-c", "from indexer import analysis; analysis.prepare_query_dictionary()"],
                   env=env, check=True, timeout=120)
    script = _UPDATE if deferred_chars == analysis.DEFERRED_CHARS else _UPDATE.replace(
        "report =", f"analysis.DEFERRED_CHARS = {deferred_chars}\nreport =")
    out = json.loads(subprocess.run([sys.executable, "-c", script, str(rest), str(updated)], env=env,
                                    capture_output=True, text=True, check=True, timeout=300).stdout)
    assert out["indexed"] == len(records) - 1
    assert out["loaded"] is (deferred_chars < sum(len(r["text"]) + len(r["title"]) for r in records[1:]))
    build_index([first, rest], index_dir=rebuilt, procs=1)
    assert _terms(updated) == _terms(rebuilt)
