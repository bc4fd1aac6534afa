"""Analyzers for the word fields (jieba) and the character fields (CJK bigrams).

Both honour Whoosh's token contract: ``pos`` is a token number, and
``startchar``/``endchar`` point into the original text, so highlights land on
the characters as written even though matching runs on normalised text
(NFKC, case folded, Traditional converted to Simplified).

Whoosh pickles these analyzers into the index schema: the classes stay at the
top level of this module, hold no state, and keep their names. Any change to
what they emit must bump ``ANALYZER_VERSION`` so that old indexes ask for a
rebuild instead of silently mismatching.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import sys
import tempfile
import threading
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Iterator

from whoosh.analysis import Analyzer, Token
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint

from indexer import settings
from indexer.dictionary import mapped_frequencies
from indexer.normalize import normalize_with_offsets, original_span
from indexer.postings import count_positions, decode_positions, encode_positions
from indexer.matchtext import FORMAT_VERSION as MATCH_FORMAT, char_grams, gram_spans
from indexer.textrules import HAN, is_han

# 2: character unigrams and bigrams of every run, without positions (times 100, plus the match text's format)
ANALYZER_VERSION = 2 * 100 + MATCH_FORMAT

# A Han run, or a word of letters/digits with inner joiners kept whole
# ("covid-19", "3.6.3", "c#", "c++", "12.5%").
_ALNUM = rf"[^\W_{HAN}]"
_SEGMENT = re.compile(
    rf"(?P<han>[{HAN}]+)|(?P<word>{_ALNUM}+(?:[.\-'&_+]{_ALNUM}+)*[+#%]*)"
)
_PIECES = re.compile(rf"{_ALNUM}+")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    text = resources.files("indexer").joinpath("resources/stopwords.txt").read_text("utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


_jieba: object = None


def _load_jieba():  # type: ignore[no-untyped-def]
    """jieba's tokenizer with our user dictionary, built once per process."""
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                _jieba = _build_jieba()
    return _jieba


def _build_jieba():  # type: ignore[no-untyped-def]
    """jieba 0.42.1 is the reference; jieba_fast (its C port, the ``fast`` extra)
    is used when installed, as it yields the same words about twice as fast
    (tests/test_analysis.py checks that they agree)."""
    try:
        import jieba_fast as engine
        default_cache = "zhsearch-jieba-fast.cache"
    except ImportError:
        engine = _import_jieba()
        default_cache = None
    engine.setLogLevel(logging.WARNING)
    return _with_user_dictionary(engine.Tokenizer(), settings.setting("JIEBA_CACHE") or default_cache)


def _with_user_dictionary(tokenizer, cache: str | None):  # type: ignore[no-untyped-def]
    if cache:
        tokenizer.cache_file = cache
    tokenizer.initialize()
    _share_cache(tokenizer)
    userdict = resources.files("indexer").joinpath("resources/userdict.txt")
    for line in userdict.read_text("utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith("#"):
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            tokenizer.add_word(parts[0], freq, parts[2] if len(parts) > 2 else None)
    return tokenizer


def _share_cache(tokenizer) -> None:  # type: ignore[no-untyped-def]
    """jieba writes its dictionary cache with ``mkstemp``, readable by its owner only, so a
    web server running as another user would rebuild the dictionary (about 1 s) in every
    process. Make a cache this process owns readable by all (it holds only the public dictionary)."""
    name = tokenizer.cache_file or "jieba.cache"
    path = os.path.join(tokenizer.tmp_dir or tempfile.gettempdir(), name)
    try:
        info = os.stat(path)
        if info.st_uid == os.getuid() and not info.st_mode & stat.S_IROTH:
            os.chmod(path, info.st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    except OSError:
        pass  # no cache written (read-only temp folder): jieba works without one


def reference_segmenter():  # type: ignore[no-untyped-def]
    """jieba 0.42.1 itself with our dictionary, to check a faster engine against."""
    jieba = _import_jieba()
    jieba.setLogLevel(logging.WARNING)
    return _with_user_dictionary(jieba.Tokenizer(), settings.setting("JIEBA_CACHE") or None)


_reference: object = None
_query: object = None
_query_lock = threading.Lock()
_import_lock = threading.Lock()


def _reference_sharing(fast):  # type: ignore[no-untyped-def]
    """jieba 0.42.1 over ``fast``'s dictionary (the same words and counts, user dictionary
    included): a second copy of the 500,000-word dictionary would cost about 75 MB."""
    return _jieba_over(fast.FREQ, fast.total)


def _import_jieba():  # type: ignore[no-untyped-def]
    """``import jieba``, unless already done without its ``pkg_resources``: jieba imports it only
    to find its own data files, and opens them by path when it is missing; importing it costs
    0.2-0.4 s, a third of a fresh process's first query. It is hidden for this import only."""
    if "jieba" not in sys.modules and "pkg_resources" not in sys.modules:
        with _import_lock:
            sys.modules["pkg_resources"] = None  # type: ignore[assignment]
            try:
                import jieba  # noqa: F401
            finally:
                if "pkg_resources" in sys.modules and sys.modules["pkg_resources"] is None:
                    del sys.modules["pkg_resources"]
    import jieba

    return jieba


def _jieba_over(freq, total):  # type: ignore[no-untyped-def]
    """jieba 0.42.1's tokenizer over an already built dictionary (a dict, or a mapped trie)."""
    jieba = _import_jieba()
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = freq, total
    tokenizer.initialized = True
    return tokenizer


def _reference_engine():  # type: ignore[no-untyped-def]
    """jieba 0.42.1 over the loaded dictionary (the loaded engine itself when it is jieba)."""
    global _reference
    fast = _load_jieba()
    if not type(fast).__module__.startswith("jieba_fast"):
        return fast
    if _reference is None:
        with _lock:
            if _reference is None:
                _reference = _reference_sharing(fast)
    return _reference


def _query_engine():  # type: ignore[no-untyped-def]
    """What cuts queries: jieba 0.42.1 over the loaded dictionary if this process has one
    (an indexing process), else over the memory-mapped one (``indexer.dictionary``), so a
    fresh process answers its first query without loading 580,000 keys. Same words either way."""
    global _query
    if _query is None:
        with _query_lock:
            if _query is None:
                freq = None if _jieba is not None else mapped_frequencies(_load_jieba)
                _query = _jieba_over(freq, freq.total) if freq is not None else _reference_engine()
    return _query


def prepare_query_dictionary() -> bool:
    """Write the memory-mapped dictionary queries are cut with, if it is not there yet (loading
    the dictionary once); whether there is one."""
    return mapped_frequencies(_load_jieba) is not None


def _frequencies():  # type: ignore[no-untyped-def]
    """jieba's word counts: the loaded dictionary's, or the mapped one's (the same)."""
    return _jieba.FREQ if _jieba is not None else _query_engine().FREQ


@lru_cache(maxsize=1)
def _hmm_characters() -> frozenset[str]:
    """The characters jieba's HMM (for words not in the dictionary) has statistics for."""
    _import_jieba()
    from jieba.finalseg import emit_P

    return frozenset().union(*emit_P.values())


# An update of a few articles cuts them over the memory-mapped dictionary (jieba 0.42.1, the same
# words, about a quarter of jieba_fast's pace) rather than load jieba_fast's (about 1.5 s) for them;
# past this many characters (about that load's time at jieba's pace) it loads it after all.
DEFERRED_CHARS = 100_000
_deferred = 0


@contextlib.contextmanager
def deferred_dictionary(chars: int | None = None) -> Iterator[None]:
    """Within the block, text is cut over the mapped dictionary until ``chars`` (default
    ``DEFERRED_CHARS``) characters have been."""
    global _deferred
    _deferred = DEFERRED_CHARS if chars is None else chars
    try:
        yield
    finally:
        _deferred = 0


def _engine_for(text: str):  # type: ignore[no-untyped-def]
    """jieba_fast's HMM splits runs with characters its statistics lack (塱, 埈, 粿)
    differently from jieba 0.42.1; such runs (a few in a thousand) go to jieba itself."""
    global _deferred
    if _deferred > 0 and _jieba is None:
        _deferred -= len(text)
        return _query_engine()
    fast = _load_jieba()
    if type(fast).__module__.startswith("jieba_fast") and not _hmm_characters().issuperset(text):
        return _reference_engine()
    return fast


def segment(text: str, *, query: bool = False) -> list[tuple[str, int, int]]:
    """jieba's accurate-mode words of a normalised Han run, with offsets.

    A run longer than ``MAX_SEGMENT_RUN`` is cut in pieces of that length first:
    jieba's time grows faster than the run (one 800,000-character run of a single
    character: 35 s), and real text has punctuation long before. A word across a
    piece boundary is cut in two; exact matching reads characters, not words.
    ``query``: cut by ``_query_engine`` (the same words, without loading the dictionary).
    """
    out = []
    cut = (_query_engine() if query else _engine_for(text)).cut
    for piece in range(0, len(text), MAX_SEGMENT_RUN):
        start = piece
        for word in cut(text[piece : piece + MAX_SEGMENT_RUN], HMM=True):
            end = start + len(word)
            out.append((word, start, end))
            start = end
    return out


MAX_SEGMENT_RUN = 1000


def is_known_word(word: str) -> bool:
    """Whether jieba's dictionary (with ours) holds ``word``."""
    return bool(_frequencies().get(word))


def subwords(word: str) -> Iterator[tuple[str, int]]:
    """Dictionary words of length 2 and 3 inside a longer word (jieba's search mode)."""
    freq = _frequencies()
    for n in (2, 3):
        if len(word) > n:
            for i in range(len(word) - n + 1):
                gram = word[i : i + n]
                if freq.get(gram):
                    yield gram, i


class _NormalisingAnalyzer(Analyzer):
    """Whoosh's analyzer call contract, shared by both analyzers: normalise the
    text once, keep the map back to the original offsets, reuse one ``Token``."""

    def __call__(  # type: ignore[override]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        norm, origin = normalize_with_offsets(value)
        length = len(value)
        if not tokenize:
            # The whole value as one token, normalised as every term is (Whoosh's own
            # analyzers also run their filters over an untokenized value).
            token.text, token.boost, token.stopped, token.pos = norm, 1.0, False, start_pos
            token.startchar, token.endchar = start_char, start_char + length
            if keeporiginal:
                token.original = value
            yield token
            return
        for text, pos, start, end in self._tokens(norm, mode=mode, removestops=removestops, start_pos=start_pos):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            token.pos = pos
            s, e = original_span(origin, start, end, length)
            if keeporiginal:
                token.original = value[s:e]
            token.startchar = start_char + s
            token.endchar = start_char + e
            yield token

    def _tokens(self, norm: str, *, mode: str, removestops: bool, start_pos: int) -> Iterator[tuple[str, int, int, int]]:
        """``(text, position, start, end)`` over the normalised text."""
        raise NotImplementedError

    def term_positions(self, value: str) -> dict[str, list[int]]:
        """Index mode in one pass: each term's positions, without ``Token`` objects or original offsets."""
        norm, _ = normalize_with_offsets(value)
        out: dict[str, list[int]] = {}
        for text, pos, _start, _end in self._tokens(norm, mode="index", removestops=True, start_pos=0):
            positions = out.get(text)
            if positions is None:
                out[text] = [pos]
            else:
                positions.append(pos)
        return out


class IndexPositions(Positions):
    """Whoosh's ``Positions`` format with its position lists as varint gaps
    (``indexer.postings.encode_positions``) instead of a pickled list each, and
    indexing through ``term_positions`` when the analyzer has it: the same
    terms, positions and weights as the generic token loop, about three times
    faster. Whoosh decodes the lists through this class (phrase queries, merges)."""

    def encode(self, poslist):  # type: ignore[no-untyped-def]
        return encode_positions(poslist)

    def decode_positions(self, valuestring):  # type: ignore[no-untyped-def]
        return decode_positions(valuestring)

    def decode_frequency(self, valuestring):  # type: ignore[no-untyped-def]
        return count_positions(valuestring)

    def word_values(self, value, analyzer, **kwargs):  # type: ignore[no-untyped-def]
        fast = getattr(analyzer, "term_positions", None)
        if fast is None or kwargs.get("mode", "index") != "index" or not isinstance(value, str):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        encode = self.encode
        return [(term, len(p), len(p) * boost, encode(p)) for term, p in fast(value).items()]


class ChineseAnalyzer(_NormalisingAnalyzer):
    """Word tokens: jieba for Han text, whole words for Latin letters and digits.

    In ``index`` mode the dictionary words inside a longer word are emitted at
    the same position as the word, so ``哈尔`` finds ``齐齐哈尔市``; queries use
    accurate mode only. Stop words are dropped but still take up their
    position, so phrase queries keep their shape.
    """

    def _tokens(self, norm: str, *, mode: str, removestops: bool, start_pos: int) -> Iterator[tuple[str, int, int, int]]:
        stops = stopwords() if removestops else frozenset()
        index_mode = mode == "index"
        pos = start_pos
        prev_end = 0
        for match in _SEGMENT.finditer(norm):
            base = match.start()
            if base > prev_end:
                pos += 1  # punctuation or space between segments
            prev_end = match.end()
            if match.group("han"):
                words = segment(match.group("han"), query=mode == "query")
            else:
                words = [(match.group("word"), 0, match.end() - base)]
            for word, s, e in words:
                if word not in stops:
                    yield word, pos, base + s, base + e
                    if index_mode:
                        for sub, offset in self._parts(word):
                            yield sub, pos, base + s + offset, base + s + offset + len(sub)
                pos += 1

    @staticmethod
    def _parts(word: str) -> Iterator[tuple[str, int]]:
        if is_han(word):
            yield from subwords(word)
        elif len(pieces := list(_PIECES.finditer(word))) > 1:
            for piece in pieces:
                yield piece.group(), piece.start()


class ChineseCharAnalyzer(_NormalisingAnalyzer):
    """Character tokens: every character of each run of letters, digits and Han
    characters, and every adjacent pair inside a run (``indexer.matchtext``).

    ``pos`` is the character number of the gram's first character (a bigram and
    the unigram it starts share it). The fields are indexed without positions:
    exact matching finds candidates by these grams and checks contiguity on the
    stored normalised text, so no query reads them.
    """

    def _tokens(self, norm: str, *, mode: str, removestops: bool, start_pos: int) -> Iterator[tuple[str, int, int, int]]:
        for gram, start in gram_spans(norm):
            yield gram, start_pos + start, start, start + len(gram)

    def term_counts(self, value: str) -> dict[str, int]:
        """Index mode in one pass: each gram's frequency."""
        norm, _ = normalize_with_offsets(value)
        return Counter(char_grams(norm))


class IndexFrequency(Frequency):
    """Whoosh's ``Frequency`` format (same bytes on disk) fed by ``term_counts``."""

    def word_values(self, value, analyzer, **kwargs):  # type: ignore[no-untyped-def]
        fast = getattr(analyzer, "term_counts", None)
        if fast is None or kwargs.get("mode", "index") != "index" or not isinstance(value, str):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        return [(term, n, n * boost, pack_uint(n)) for term, n in fast(value).items()]
