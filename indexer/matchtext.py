"""The text exact matching reads, and the character grams that find candidates for it.

One home for the matching contract shared by the index and the search side:

- ``match_text(title, body)`` is what the build stores per document (a Whoosh
  column): the normalised title and body (NFKC, case folded, Traditional to
  Simplified, runs of white space as one space), joined by ``SEPARATOR`` so
  that no match spans the two.
- ``char_grams(norm)`` are the terms of the character fields: every character
  of every run of letters, digits and Han characters, and every adjacent pair
  inside a run. A query text that is one such run is found exactly by its
  gram postings (one character: its unigram; two: its bigram); anything longer
  or with punctuation inside is found among the documents holding all of its
  grams, then checked on ``match_text``.

Changing what either function returns changes the index: bump
``FORMAT_VERSION`` (part of the analyzer version the index records).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from indexer.normalize import normalize

FORMAT_VERSION = 1
SEPARATOR = "\x00"
RUN = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")


def normal_form(text: str) -> str:
    """``text`` as matching sees it: normalised, white space collapsed, stripped."""
    return _SPACE.sub(" ", normalize(text)).strip()


def match_text(title: str | None, body: str) -> bytes:
    """The stored matching text of one document (UTF-8)."""
    return f"{normal_form(title or '')}{SEPARATOR}{normal_form(body)}".encode("utf-8")


def title_part(blob: bytes) -> bytes:
    return blob.split(SEPARATOR.encode(), 1)[0]


def gram_spans(norm: str) -> Iterator[tuple[str, int]]:
    """Unigrams and in-run bigrams of normalised text with their start, in text order."""
    for match in RUN.finditer(norm):
        run, base = match.group(), match.start()
        for i, ch in enumerate(run):
            yield ch, base + i
            if i + 1 < len(run):
                yield run[i : i + 2], base + i


def char_grams(norm: str) -> Iterator[str]:
    """The grams of ``gram_spans`` alone."""
    return (gram for gram, _start in gram_spans(norm))


def needle_grams(needle: str) -> tuple[tuple[str, ...], bool]:
    """The grams every document holding ``needle`` (in normal form) must have, fewest
    first-class ones only (bigrams cover their unigrams), and whether their postings
    alone decide the match (the needle is one run of one or two characters)."""
    runs = RUN.findall(needle)
    grams: list[str] = []
    for run in runs:
        if len(run) == 1:
            grams.append(run)
        else:
            grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    exact = len(runs) == 1 and runs[0] == needle and len(needle) <= 2
    return tuple(dict.fromkeys(grams)), exact
