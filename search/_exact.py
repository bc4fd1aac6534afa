"""Exact matching: the documents whose normalised title or body holds a text.

A text is found in two steps, both exact together:

1. candidates: the documents whose title, or whose body, holds every character
   gram of the text (``indexer.matchtext.needle_grams``), from the character
   fields' postings; for a text of one or two letters, digits or Han characters
   these postings are the answer;
2. otherwise each candidate's stored normal form (``indexer.matchtext``) is
   searched for the text, one read per document for all the texts of a query;
   except where the text, all Han characters, is a word of the title's or the
   body's word field: a jieba word is a piece of the normalised text it was cut
   from, so those documents hold it (a common word at a million articles has
   hundreds of thousands of candidates, nearly all decided this way).

So a single character, a word jieba cut inside a longer one (``兰抵抗`` in
伊斯兰抵抗运动) and text with punctuation are all found exactly, whatever the
segmenter did. The cost is bounded by the number of candidates: postings are
numpy masks, and each candidate's text is read at most once per query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from indexer import schema as F
from indexer.matchtext import SEPARATOR, needle_grams, title_part
from indexer.textrules import is_han

_SEP = SEPARATOR.encode()


@dataclass(frozen=True)
class Needle:
    """One text in normal form, and how to find it."""

    text: str
    grams: tuple[str, ...]
    decided: bool  # the grams' postings alone decide
    title_only: bool = False

    @property
    def utf8(self) -> bytes:
        return self.text.encode("utf-8")


@dataclass(frozen=True)
class Requirement:
    """Satisfied by a document that holds any of its needles (one, or an OR group, or regional forms)."""

    needles: tuple[Needle, ...]


def needle(text: str, *, title_only: bool = False) -> Needle | None:
    """``text`` (already in normal form) as a needle; None when it has no letter, digit or Han character."""
    grams, decided = needle_grams(text)
    if not grams or _SEP in text.encode("utf-8"):
        return None
    return Needle(text, grams, decided, title_only)


# Where the stored texts of some documents lie: per segment whose texts are one buffer, a
# ``find(sub, start, end)`` over it (an ``mmap``'s or ``bytes``' own) with those documents and
# their texts' starts and ends; and the documents whose texts are not in such a buffer.
Spans = tuple[list[tuple[Callable[[bytes, int, int], int], np.ndarray, np.ndarray, np.ndarray]], np.ndarray]


class Matcher:
    """Evaluates requirements on one engine (its postings and stored match texts), caching texts per query.

    With ``spans`` (``search._columns.Columns.match_text_spans``), candidates are checked where
    their texts lie, by the buffer's own ``find`` between each text's start and end: no copy of
    a text, and a few calls a document instead of a dozen."""

    def __init__(self, term_mask: Callable[[str, str], np.ndarray], text_of: Callable[[int], bytes], n: int,
                 spans: Callable[[np.ndarray], Spans] | None = None) -> None:
        self._term_mask = term_mask
        self._text_of = text_of
        self._spans = spans
        self._n = n
        self._texts: dict[int, bytes] = {}
        self.verified = 0  # documents whose text was read, for tests and benchmarks

    def candidates(self, n: Needle) -> np.ndarray:
        fields = (F.TITLE_CHARS,) if n.title_only else (F.TITLE_CHARS, F.BODY_CHARS)
        out = np.zeros(self._n, dtype=bool)
        for name in fields:
            have = np.ones(self._n, dtype=bool)
            for gram in n.grams:
                have &= self._term_mask(name, gram)
                if not have.any():
                    break
            out |= have
        return out

    def _as_word(self, n: Needle) -> np.ndarray:
        """The documents whose title (or, unless ``title_only``, body) has the needle as a word."""
        out = self._term_mask(F.TITLE, n.text)
        if not n.title_only:
            out |= self._term_mask(F.BODY, n.text)
        return out

    def _text(self, docnum: int) -> bytes:
        found = self._texts.get(docnum)
        if found is None:
            found = self._texts[docnum] = self._text_of(docnum)
            self.verified += 1
        return found

    def _holds(self, docnum: int, needles: list[Needle]) -> bool:
        text = self._text(docnum)
        title = title_part(text) if any(n.title_only for n in needles) else text
        return any(n.utf8 in (title if n.title_only else text) for n in needles)

    def all_of(self, plan: list[Requirement], within: np.ndarray) -> np.ndarray:
        """The documents of ``within`` that satisfy every requirement."""
        out = within.copy()
        pending: list[tuple[list[Needle], np.ndarray]] = []  # needles to check, and where postings decided
        for req in plan:
            if not out.any():
                return out
            cand = np.zeros(self._n, dtype=bool)
            decided = np.zeros(self._n, dtype=bool)
            for n in req.needles:
                c = self.candidates(n)
                cand |= c
                if n.decided:
                    decided |= c
                elif is_han(n.text):
                    decided |= c & self._as_word(n)
            out &= cand
            undecided = [n for n in req.needles if not n.decided]
            if undecided:
                pending.append((undecided, decided))
        for needles, decided in pending:
            out[self._failing(np.flatnonzero(out & ~decided), needles)] = False
        return out

    def _failing(self, docs: np.ndarray, needles: list[Needle]) -> list[int]:
        """The documents of ``docs`` that hold none of ``needles``."""
        if self._spans is None or not len(docs):
            return [d for d in docs.tolist() if not self._holds(d, needles)]
        groups, rest = self._spans(docs)
        keys = [(n.utf8, n.title_only) for n in needles]
        failing = []
        for find, ids, starts, ends in groups:
            self.verified += len(ids)
            for d, start, end in zip(ids.tolist(), starts.tolist(), ends.tolist()):
                title_end = -1
                for text, title_only in keys:
                    if title_only:
                        if title_end < 0:
                            title_end = find(_SEP, start, end)
                            title_end = end if title_end < 0 else title_end
                        if find(text, start, title_end) >= 0:
                            break
                    elif find(text, start, end) >= 0:
                        break
                else:
                    failing.append(d)
        failing.extend(d for d in rest.tolist() if not self._holds(d, needles))
        return failing

    def any_of(self, plan: list[Requirement], within: np.ndarray) -> np.ndarray:
        """The documents of ``within`` that satisfy at least one requirement."""
        out = np.zeros(self._n, dtype=bool)
        for req in plan:
            out |= self.all_of([req], within & ~out)
        return out
