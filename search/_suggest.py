"""Autocomplete and "did you mean" from the index's own vocabulary (``vocab.tsv``)."""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from indexer.normalize import normalize
from indexer.analysis import is_known_word
from indexer.vocab import VOCAB_FILE, pinyin_keys, read_char_pinyin, read_vocab
from indexer.textrules import HAN

_PINYIN = re.compile(r"^[a-z']+$")
_HAN_CHUNK = re.compile(rf"[{HAN}]{{2,}}")
# A homophone is suggested only when it is this many times more frequent in
# the index than what was typed.
HOMOPHONE_RATIO = 5


@dataclass(frozen=True)
class Vocabulary:
    weights: dict[str, int]
    by_term: tuple[str, ...]
    by_pinyin: tuple[tuple[str, str], ...]
    by_initials: tuple[tuple[str, str], ...]
    homophones: dict[str, tuple[str, int]]
    pinyin: dict[str, str]
    char_pinyin: dict[str, str]

    def _pinyin_of(self, chunk: str) -> str:
        """Full pinyin of ``chunk``: from the vocabulary (written at build time) when it is
        there, else spelled character by character from the vocabulary's characters, so
        that pypinyin and its dictionaries load only for characters the index lacks."""
        found = self.pinyin.get(chunk)
        if found is not None:
            return found
        chars = [self.char_pinyin.get(c) for c in chunk]
        if all(chars):
            return "".join(chars)  # type: ignore[arg-type]
        return pinyin_keys(chunk)[0]

    def complete(self, prefix: str, limit: int) -> list[str]:
        found: dict[str, int] = {}
        key = normalize(prefix).strip()
        if not key:
            return []
        if _PINYIN.match(key.replace(" ", "")):
            key = key.replace(" ", "").replace("'", "")
            for table in (self.by_pinyin, self.by_initials):
                i = bisect.bisect_left(table, (key, ""))
                while i < len(table) and table[i][0].startswith(key) and len(found) < 2000:
                    found[table[i][1]] = self.weights[table[i][1]]
                    i += 1
        else:
            i = bisect.bisect_left(self.by_term, key)
            while i < len(self.by_term) and self.by_term[i].startswith(key) and len(found) < 2000:
                term = self.by_term[i]
                found[term] = self.weights[term]
                i += 1
        ranked = sorted(found, key=lambda t: (-found[t], len(t), t))
        return [t for t in ranked if t != key][:limit] or ranked[:limit]

    def _fix(self, chunk: str) -> str | None:
        """A much better-known homophone of ``chunk``, unless ``chunk`` is itself a word."""
        own = self.weights.get(chunk, 0)
        if own == 0 and is_known_word(chunk):
            return None
        best = self.homophones.get(self._pinyin_of(chunk))
        if best and best[0] != chunk and (own == 0 or best[1] >= HOMOPHONE_RATIO * own):
            return best[0]
        return None

    def _fix_inside(self, chunk: str) -> str | None:
        """Homophone typos of three or more characters inside a longer run of text."""
        out, i, changed = [], 0, False
        while i < len(chunk):
            for n in range(min(6, len(chunk) - i), 2, -1):
                piece = chunk[i : i + n]
                if self.weights.get(piece, 0) == 0 and not is_known_word(piece) and (fixed := self._fix(piece)):
                    out.append(fixed)
                    i += n
                    changed = True
                    break
            else:
                out.append(chunk[i])
                i += 1
        return "".join(out) if changed else None

    def did_you_mean(self, text: str) -> str | None:
        """A better-known spelling of ``text``: pinyin typed as letters, or a homophone typo."""
        norm = normalize(text).strip()
        compact = norm.replace(" ", "").replace("'", "")
        # Pinyin is typed in lower case: "Huawei" is a name, not hua-wei.
        if compact and _PINYIN.match(compact) and not any(c.isupper() for c in text):
            best = self.homophones.get(compact)
            return best[0] if best else None
        changed = False
        out = norm
        for chunk in _HAN_CHUNK.findall(norm):
            fixed = self._fix(chunk)
            if fixed is None:
                fixed = self._fix_inside(chunk)
            if fixed is not None:
                out = out.replace(chunk, fixed)
                changed = True
        return out if changed else None


def _load(path: Path) -> Vocabulary:
    terms: list[str] = []
    weights: dict[str, int] = {}
    pinyin: list[tuple[str, str]] = []
    initials: list[tuple[str, str]] = []
    homophones: dict[str, tuple[str, int]] = {}
    for term, weight, full, short in read_vocab(path):
        terms.append(term)
        weights[term] = weight
        pinyin.append((full, term))
        initials.append((short, term))
        if full not in homophones or homophones[full][1] < weight:
            homophones[full] = (term, weight)
    return Vocabulary(
        weights=weights,
        by_term=tuple(sorted(terms)),
        by_pinyin=tuple(sorted(pinyin)),
        by_initials=tuple(sorted(initials)),
        homophones=homophones,
        pinyin={term: full for full, term in pinyin},
        char_pinyin=read_char_pinyin(path.parent),
    )


_lock = threading.Lock()


@lru_cache(maxsize=4)
def _cached(path: Path, mtime_ns: int) -> Vocabulary:
    return _load(path)


def vocabulary(generation: Path) -> Vocabulary:
    """The vocabulary of a generation, reloaded when an update rewrites it."""
    path = generation / VOCAB_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = -1
    with _lock:
        return _cached(path, mtime)
