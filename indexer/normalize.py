"""One normalisation for documents and queries: NFKC, case folding, Traditional to Simplified.

``normalize_with_offsets`` also returns, for every character of the normalised
text, the index of the original character it came from, so that token offsets
can point into the text as written.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Sequence

import opencc


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def normalize(text: str) -> str:
    """Normalise ``text`` for matching (the offsets are not needed).

    Always the same text as ``normalize_with_offsets`` gives, so that what the
    analyzers index, what exact matching verifies and what snippets mark agree.
    """
    return normalize_with_offsets(text)[0]


@lru_cache(maxsize=8)
def normalize_with_offsets(text: str) -> tuple[str, Sequence[int] | None]:
    """Return ``(normalised, origin)``; ``origin`` is None when the mapping is one to one.

    Cached for the last few texts: indexing analyses each title and body twice
    (word and character fields) and the reprint key reads the body again.
    Callers must not modify ``origin``.
    """
    folded = _fold(text)
    if len(folded) == len(text):
        converted = _t2s().convert(folded)
        if len(converted) == len(folded):
            return converted, None
    # Slow path: some character expands or contracts (…, ㎡, ligatures, ß): character by character.
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        piece = _char(ch)
        out.append(piece)
        origin.extend([i] * len(piece))
    return "".join(out), origin


@lru_cache(maxsize=1 << 16)
def _char(ch: str) -> str:
    """One character normalised alone (cached: the slow path above meets the same few thousand)."""
    piece = _fold(ch)
    if piece and len(converted := _t2s().convert(piece)) == len(piece):
        return converted
    return piece


def original_span(origin: Sequence[int] | None, start: int, end: int, length: int) -> tuple[int, int]:
    """Map a ``[start, end)`` span of the normalised text back to the original text."""
    if origin is None:
        return start, end
    if start >= len(origin):
        return length, length
    return origin[start], (origin[end - 1] + 1) if end > start else origin[start]
