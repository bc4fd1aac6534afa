"""The index's own vocabulary with pinyin, for autocomplete and "did you mean".

Written beside each generation as ``vocab.tsv`` (term, weight, full pinyin,
initials), so the search side never pays for pinyin conversion at query time.
Title words weigh more than body words, as users look for what stories are about.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from whoosh.index import Index

from indexer.schema import BODY, TITLE
from indexer.textrules import HAN

VOCAB_FILE = "vocab.tsv"
# Each Han character of the vocabulary with its full pinyin (its commonest reading): the
# search side spells out a word the index lacks (a typo) from these, without pypinyin's
# phrase dictionaries (about 55 MB in a server process).
CHARS_FILE = "vocab-chars.tsv"
MAX_TERMS = 150_000
TITLE_WEIGHT = 20
SMALL_INDEX_DOCS = 5000
_HAN_WORD = re.compile(rf"^[{HAN}]{{2,12}}$")


def pinyin_keys(term: str) -> tuple[str, str]:
    """Full pinyin and initials of ``term``. pypinyin is imported here, on first use:
    its dictionaries take about 0.3 s and tens of MB that most searches never need."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(term, style=Style.NORMAL, errors="ignore")
    return "".join(syllables), "".join(s[0] for s in syllables if s)


def write_vocab(ix: Index, gen: Path) -> int:
    weights: dict[str, int] = {}
    with ix.reader() as reader:
        # In a small index every body word counts; in a large one, words seen once are mostly noise.
        min_body_df = 1 if reader.doc_count() < SMALL_INDEX_DOCS else 2
        for field, factor, floor in ((TITLE, TITLE_WEIGHT, 1), (BODY, 1, min_body_df)):
            if field not in reader.schema:
                continue
            # Summed segment by segment: a multi-segment reader's merged term
            # iterator costs about three times as much.
            frequency: dict[bytes, int] = {}
            for leaf, _base in reader.leaf_readers():
                for btext, info in leaf.iter_field(field):
                    frequency[btext] = frequency.get(btext, 0) + info.doc_frequency()
            for btext, df in frequency.items():
                term = btext.decode("utf-8")
                if df >= floor and _HAN_WORD.match(term):
                    weights[term] = weights.get(term, 0) + df * factor
    return write_vocab_weights(weights, gen)


def write_vocab_weights(weights: dict[str, int], gen: Path) -> int:
    """Write ``VOCAB_FILE`` and ``CHARS_FILE`` from word weights (the Han words among them)."""
    top = sorted(((t, w) for t, w in weights.items() if _HAN_WORD.match(t)), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS]
    tmp = gen / (VOCAB_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for term, weight in top:
            full, initials = pinyin_keys(term)
            fh.write(f"{term}\t{weight}\t{full}\t{initials}\n")
    chars = sorted({c for term, _weight in top for c in term})
    tmp_chars = gen / (CHARS_FILE + ".tmp")
    with open(tmp_chars, "w", encoding="utf-8") as fh:
        for char in chars:
            fh.write(f"{char}\t{pinyin_keys(char)[0]}\n")
    tmp_chars.replace(gen / CHARS_FILE)
    tmp.replace(gen / VOCAB_FILE)
    return len(top)


def read_vocab(path: Path, *, strict: bool = False) -> Iterator[tuple[str, int, str, str]]:
    """The entries of a ``VOCAB_FILE``: (term, weight, full pinyin, initials).

    A malformed line is skipped, or with ``strict`` raises ``ValueError`` naming it;
    a missing file has no entries (``OSError`` with ``strict``).
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        if strict:
            raise
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] and parts[1].isdigit():
            yield parts[0], int(parts[1]), parts[2], parts[3]
        elif strict:
            raise ValueError(f"{path}:{lineno}: not a vocabulary line")


def read_char_pinyin(gen: Path) -> dict[str, str]:
    """The ``CHARS_FILE`` of a generation as a dict (empty when an older build wrote none)."""
    out: dict[str, str] = {}
    try:
        text = (gen / CHARS_FILE).read_text("utf-8")
    except OSError:
        return out
    for line in text.splitlines():
        char, _, full = line.partition("\t")
        if len(char) == 1 and full:
            out[char] = full
    return out
