"""The index's own vocabulary with pinyin, for autocomplete and "did you mean".

Written beside each generation as ``vocab.tsv`` (term, weight, full pinyin,
initials), so the search side never pays for pinyin conversion at query time.
Title words weigh more than body words, as users look for what stories are about.

The weights come from each word's document frequency in the title and body
fields, summed over the segments. ``COUNTS_FILE`` keeps those sums for every
candidate word and names the segments they cover, so an update adds the counts
of the segments it wrote and subtracts those it merged away instead of reading
every term of the index again; pinyin already in the previous generation's
files is reused. Layout, version ``COUNTS_VERSION``: ``COUNTS_MAGIC``, the
version and a header length (uint32 each, little-endian), a JSON header
(``segments``; ``documents``, the live documents when the vocabulary was written,
which sets the body words' floor; and per field its term count and byte length), then per field
its words (UTF-8, joined by newlines) and their document frequencies (uint32).
"""

from __future__ import annotations

import json
import os
import re
import struct
from array import array
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.index import Index

from indexer.schema import BODY, TITLE
from indexer.textrules import HAN

VOCAB_FILE = "vocab.tsv"
COUNTS_FILE = "vocab-counts.bin"
COUNTS_MAGIC = b"ZHVC"
COUNTS_VERSION = 1
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


Counts = dict[str, dict[str, int]]  # field -> Han word -> documents holding it
_FIELDS = ((TITLE, TITLE_WEIGHT), (BODY, 1))


def write_vocab(ix: Index, gen: Path, *, previous: Path | None = None) -> None:
    """Write the vocabulary of ``ix`` (in ``gen``) and its ``COUNTS_FILE``.

    ``previous`` is the generation ``gen`` was cloned from (its files hard-linked there): its
    counts are brought up to date segment by segment and its pinyin reused; when the segments
    are the same (a delete marks documents deleted, which leaves the segments' counts as they
    are) its files are kept. Without it, or when its counts are missing or cover segments it no
    longer has, every term of every segment is counted.
    """
    with ix.reader() as reader:
        leaves = {leaf.segment().segment_id(): leaf for leaf, _base in reader.leaf_readers()
                  if leaf.segment() is not None}  # an empty index's reader has no segment
        doc_count = reader.doc_count()
        counts = None
        if previous is not None:
            try:
                segments, before, counts = read_counts(previous)
            except (OSError, ValueError):
                counts = None
            else:
                if (segments == leaves.keys() and _floor(before) == _floor(doc_count)
                        and all((gen / name).exists() for name in (VOCAB_FILE, CHARS_FILE, COUNTS_FILE))):
                    return
                counts = _counts_since(previous, segments, counts, leaves)
        if counts is None:
            counts = {}
            for leaf in leaves.values():
                _add_counts(counts, leaf, 1)
        write_counts(gen, counts, leaves, doc_count)
        weights = weights_of(counts, doc_count)
    write_vocab_weights(weights, gen, previous=previous)


def _floor(doc_count: int) -> int:
    """The body documents a word needs: in a small index every body word counts; in a large
    one, words seen once are mostly noise."""
    return 1 if doc_count < SMALL_INDEX_DOCS else 2


def weights_of(counts: Counts, doc_count: int) -> dict[str, int]:
    """Each word's weight: its title documents times ``TITLE_WEIGHT`` plus its body documents."""
    min_body_df = _floor(doc_count)
    weights: dict[str, int] = {}
    for field, factor in _FIELDS:
        floor = min_body_df if field == BODY else 1
        for term, df in counts.get(field, {}).items():
            if df >= floor:
                weights[term] = weights.get(term, 0) + df * factor
    return weights


def _add_counts(counts: Counts, leaf: Any, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) one segment's document frequencies. Summed segment
    by segment: a multi-segment reader's merged term iterator costs about three times as much."""
    for field, _factor in _FIELDS:
        if field not in leaf.schema:
            continue
        into = counts.setdefault(field, {})
        for btext, info in leaf.iter_field(field):
            term = btext.decode("utf-8")
            if _HAN_WORD.match(term):
                df = into.get(term, 0) + sign * info.doc_frequency()
                if df > 0:
                    into[term] = df
                else:
                    into.pop(term, None)


def _counts_since(previous: Path, segments: set[str], counts: Counts, leaves: dict[str, Any]) -> Counts | None:
    """The counts of ``leaves`` from ``previous``'s (``counts`` over its ``segments``), or None
    when they cannot be derived."""
    gone = segments - leaves.keys()
    if gone:  # merged away or dropped by this change: still in the previous generation
        try:
            old = whoosh_index.open_dir(str(previous))
        except (OSError, ValueError, EOFError, whoosh_index.EmptyIndexError):
            return None
        with old.reader() as reader:
            found = {leaf.segment().segment_id(): leaf for leaf, _base in reader.leaf_readers()}
            if not gone <= found.keys():
                return None
            for name in gone:
                _add_counts(counts, found[name], -1)
    for name, leaf in leaves.items():
        if name not in segments:
            _add_counts(counts, leaf, 1)
    return counts


def write_counts(gen: Path, counts: Counts, segments: Iterable[str], doc_count: int) -> None:
    """Write ``COUNTS_FILE`` (a new file: never through the hard link a clone holds)."""
    blobs: list[bytes] = []
    fields: dict[str, list[int]] = {}
    for field, terms in sorted(counts.items()):
        words = "\n".join(terms).encode("utf-8")
        blobs += [words, array("I", terms.values()).tobytes()]
        fields[field] = [len(terms), len(words)]
    header = json.dumps({"segments": sorted(segments), "documents": doc_count, "fields": fields}).encode("utf-8")
    tmp = gen / f".{COUNTS_FILE}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(COUNTS_MAGIC + struct.pack("<II", COUNTS_VERSION, len(header)) + header)
        for blob in blobs:
            fh.write(blob)
    os.replace(tmp, gen / COUNTS_FILE)


def read_counts(gen: Path) -> tuple[set[str], int, Counts]:
    """The segments, live documents and counts of a ``COUNTS_FILE``; ``ValueError`` when it is not one of this version."""
    data = (gen / COUNTS_FILE).read_bytes()
    if data[:4] != COUNTS_MAGIC or len(data) < 12:
        raise ValueError(f"{gen / COUNTS_FILE}: not a vocabulary counts file")
    version, size = struct.unpack_from("<II", data, 4)
    if version != COUNTS_VERSION:
        raise ValueError(f"{gen / COUNTS_FILE}: version {version}, this code reads {COUNTS_VERSION}")
    try:
        header = json.loads(data[12 : 12 + size])
        at = 12 + size
        counts: Counts = {}
        for field, (n, nbytes) in header["fields"].items():
            words = data[at : at + nbytes].decode("utf-8").split("\n") if n else []
            at += nbytes
            dfs = array("I")
            dfs.frombytes(data[at : at + 4 * n])
            at += 4 * n
            if len(words) != n or len(dfs) != n:
                raise ValueError("truncated")
            counts[field] = dict(zip(words, dfs))
        return set(header["segments"]), int(header["documents"]), counts
    except (KeyError, TypeError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{gen / COUNTS_FILE}: unreadable ({exc})") from exc


def write_vocab_weights(weights: dict[str, int], gen: Path, *, previous: Path | None = None) -> int:
    """Write ``VOCAB_FILE`` and ``CHARS_FILE`` from word weights (the Han words among them),
    taking the pinyin of words and characters already in ``previous``'s files from there."""
    top = sorted((t, w) for t, w in weights.items() if _HAN_WORD.match(t))  # by term, then (stable) by weight:
    top.sort(key=itemgetter(1), reverse=True)                                # heaviest first, ties by term
    del top[MAX_TERMS:]
    known = {term: (full, initials) for term, _w, full, initials in read_vocab(previous / VOCAB_FILE)} if previous else {}
    lines = []
    for term, weight in top:
        full, initials = known.get(term) or pinyin_keys(term)
        lines.append(f"{term}\t{weight}\t{full}\t{initials}\n")
    tmp = gen / (VOCAB_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("".join(lines))
    chars = sorted({c for term, _weight in top for c in term})
    known_chars = read_char_pinyin(previous) if previous else {}
    tmp_chars = gen / (CHARS_FILE + ".tmp")
    with open(tmp_chars, "w", encoding="utf-8") as fh:
        for char in chars:
            fh.write(f"{char}\t{known_chars.get(char) or pinyin_keys(char)[0]}\n")
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
