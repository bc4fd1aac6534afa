"""The Xapian shard format: terms, values and document data, written and read here only.

An index folder built with ``--backend xapian`` serves, like a Whoosh one, the
generation that ``CURRENT`` names; that generation holds ``shard-0`` …
``shard-N-1`` (Xapian databases), the vocabulary files and ``zhsearch.json``
(with ``"backend": "xapian"``). Beside ``CURRENT`` each shard has a stub
database file ``shard-K.stub`` naming the current generation's shard, rewritten
atomically when a new generation is published, so a server started once on
the stub (``xapian-tcpsrv --port P DIR/shard-K.stub``) serves every later one
to each new connection.

Articles go to shard ``shard_of(id, N)`` (a stable hash). Each document has:

- ``Q<id>``: its id (boolean);
- ``T<word>`` / ``W<word>``: jieba words of the title / body (``indexer.analysis``),
  body words with their word positions (the proximity bonus);
- ``H<gram>`` / ``B<gram>``: the character grams of the normalised title / body
  (``indexer.matchtext.gram_spans``), bigrams with their character positions
  (``start + 1``), so a run of three characters or more is the exact phrase of
  its overlapping bigrams: exact matching (a bigram's position list is far
  shorter than those of its two characters, so phrases cost less to check);
- the wdf of those four kinds of term is their count already normalised by the
  length of their own field, as the local backend's BM25 does
  (``ranked_wdf``): Xapian's BM25 knows one length per document, all fields
  together, so it is run with ``b = 0`` over these wdfs (``BM25_PARAMS``) and
  scores as per-field BM25 with the local backend's k1 and b. The field
  averages are those of the build's first ``AVERAGE_SAMPLE`` articles (all of
  a smaller build), kept in every shard's metadata (``LENGTHS_KEY``) for
  ``update``;
- ``S<source>``, ``K<category>``, ``Y<year>``: boolean filter terms;
- values: ``DATE`` (``xapian.sortable_serialise`` of the POSIX time), ``DUP``
  (reprint key, the collapse key), ``SOURCE``, ``YEAR``, ``CATEGORY`` (facets),
  ``REPRINT``: the reprint key again, only in articles whose key another article
  of the index shares (set by ``mark_reprints`` when a generation is finished;
  a deletion may leave it on an article no longer reprinted, which counts the
  same). A query counts its reprint groups with a match spy on it: a spy on
  ``DUP`` would bring every listed article's key over the network;
- data: the stored fields as JSON (``encode_stored`` / ``decode_stored``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from whoosh.util.numeric import length_to_byte

from indexer import schema as F
from indexer.schema import BM25_B, BM25_K1, stored_length

FORMAT_VERSION = 3  # 3: bigram positions, REPRINT; 2: per-field length-normalised wdf; 1: raw counts
BACKEND = "xapian"
SHARD_PREFIX = "shard-"
STUB_SUFFIX = ".stub"
ID, TITLE_WORD, BODY_WORD, TITLE_GRAM, BODY_GRAM = "Q", "T", "W", "H", "B"
FILTER_PREFIX = {F.SOURCE: "S", F.CATEGORY: "K", F.YEAR: "Y"}
FIELD_PREFIX = {F.TITLE: TITLE_WORD, F.BODY: BODY_WORD, F.TITLE_CHARS: TITLE_GRAM, F.BODY_CHARS: BODY_GRAM,
                F.ID_FIELD: ID, **FILTER_PREFIX}
DATE, DUP, SOURCE, YEAR, CATEGORY, REPRINT = 0, 1, 2, 3, 4, 5
FACET_SLOT = {F.SOURCE: SOURCE, F.YEAR: YEAR, F.CATEGORY: CATEGORY}
STORED = (F.ID_FIELD, F.HEADLINE, F.BODY, F.URL, F.SOURCE, F.CATEGORY, F.PUBLISHED, F.AUTHOR, F.EDITOR,
          F.ORIGINAL_TITLE, F.TITLE_DERIVED, F.YEAR)
# Metadata of shard 0: the vocabulary files, so a client that reaches the shards
# only over the network can still complete and correct queries.
VOCAB_KEY = "zhsearch:vocab:"
GENERATION_KEY = "zhsearch:generation"
FORMAT_KEY = "zhsearch:format"  # FORMAT_VERSION, in every shard: a client refuses another
LENGTHS_KEY = "zhsearch:lengths"  # JSON {prefix: average field length} the wdfs were normalised by
RANKED = (TITLE_WORD, BODY_WORD, TITLE_GRAM, BODY_GRAM)  # prefixes whose wdf is length-normalised
WDF_SCALE = 64  # a normalised count of 1 is a wdf of 64: rounding moves a score by under 1 %
AVERAGE_SAMPLE = 2000
# Xapian's BM25Weight(k1, k2, k3, b, min_normlen) over the normalised wdfs: the local k1, in
# wdf units, and no length normalisation of its own (every query leaf has a wqf of 1, so k3 has
# no effect). Scores are the local ones times a constant, but for Xapian's own IDF.
BM25_PARAMS = (BM25_K1 * WDF_SCALE, 0.0, 1.0, 0.0, 0.5)
SCORE_SCALE = (BM25_K1 * WDF_SCALE + 1) / (BM25_K1 + 1)  # Xapian's score over the local one
MAX_TERM_BYTES = 240  # Xapian refuses terms over 245 bytes


def term(field: str, text: str) -> str | None:
    """The Xapian term of ``text`` in ``field`` (None for one too long to index)."""
    value = FIELD_PREFIX[field] + text
    return value if len(value.encode("utf-8")) <= MAX_TERM_BYTES else None


def shared_values(spy: Any) -> dict[bytes, int]:
    """The values a ``xapian.ValueCountMatchSpy`` saw more than once, and how often: read most
    frequent first, a batch at a time, so values seen once never come into Python."""
    want = 64
    while True:
        found = [(item.term, int(item.termfreq)) for item in spy.top_values(want)]
        if len(found) < want or found[-1][1] <= 1:
            return {key: n for key, n in found if n > 1}
        want *= 4


def shard_of(article_id: str, shards: int) -> int:
    digest = hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_name(k: int) -> str:
    return f"{SHARD_PREFIX}{k}"


def stub_path(index_dir: Path, k: int) -> Path:
    return index_dir / f"{shard_name(k)}{STUB_SUFFIX}"


def encode_stored(doc: dict[str, Any]) -> bytes:
    out = {k: doc[k] for k in STORED if doc.get(k) not in (None, "")}
    if isinstance(out.get(F.PUBLISHED), datetime):
        out[F.PUBLISHED] = out[F.PUBLISHED].isoformat()
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_stored(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(data.decode("utf-8"))
    if isinstance(out.get(F.PUBLISHED), str):
        out[F.PUBLISHED] = datetime.fromisoformat(out[F.PUBLISHED])
    return out


def date_key(when: datetime) -> float:
    """What the DATE value holds (serialised with ``xapian.sortable_serialise``): seconds since 1970, naive as UTC."""
    return (when - datetime(1970, 1, 1)).total_seconds() if when.tzinfo is None else when.timestamp()


def ranked_wdf(count: int, length: int, average: float) -> int:
    """The wdf of a term seen ``count`` times in a field of ``length`` tokens (fields of
    ``average`` tokens on average): BM25's length-normalised count, in ``WDF_SCALE`` units."""
    norm = (1 - BM25_B) + BM25_B * stored_length(length_to_byte(length)) / (average or 1.0)
    return max(1, round(WDF_SCALE * count / norm))
