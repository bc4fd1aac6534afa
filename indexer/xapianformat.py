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
  (``indexer.matchtext.gram_spans``), unigrams with their character positions
  (``start + 1``), so contiguous text is a phrase of unigrams: exact matching;
- ``S<source>``, ``K<category>``, ``Y<year>``: boolean filter terms;
- values: ``DATE`` (``xapian.sortable_serialise`` of the POSIX time), ``DUP``
  (reprint key, the collapse key), ``SOURCE``, ``YEAR``, ``CATEGORY`` (facets);
- data: the stored fields as JSON (``encode_stored`` / ``decode_stored``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from indexer import schema as F

FORMAT_VERSION = 1
BACKEND = "xapian"
SHARD_PREFIX = "shard-"
STUB_SUFFIX = ".stub"
ID, TITLE_WORD, BODY_WORD, TITLE_GRAM, BODY_GRAM = "Q", "T", "W", "H", "B"
FILTER_PREFIX = {F.SOURCE: "S", F.CATEGORY: "K", F.YEAR: "Y"}
FIELD_PREFIX = {F.TITLE: TITLE_WORD, F.BODY: BODY_WORD, F.TITLE_CHARS: TITLE_GRAM, F.BODY_CHARS: BODY_GRAM,
                F.ID_FIELD: ID, **FILTER_PREFIX}
DATE, DUP, SOURCE, YEAR, CATEGORY = 0, 1, 2, 3, 4
FACET_SLOT = {F.SOURCE: SOURCE, F.YEAR: YEAR, F.CATEGORY: CATEGORY}
STORED = (F.ID_FIELD, F.HEADLINE, F.BODY, F.URL, F.SOURCE, F.CATEGORY, F.PUBLISHED, F.AUTHOR, F.EDITOR,
          F.ORIGINAL_TITLE, F.TITLE_DERIVED, F.YEAR)
# Metadata of shard 0: the vocabulary files, so a client that reaches the shards
# only over the network can still complete and correct queries.
VOCAB_KEY = "zhsearch:vocab:"
GENERATION_KEY = "zhsearch:generation"
MAX_TERM_BYTES = 240  # Xapian refuses terms over 245 bytes


def term(field: str, text: str) -> str | None:
    """The Xapian term of ``text`` in ``field`` (None for one too long to index)."""
    value = FIELD_PREFIX[field] + text
    return value if len(value.encode("utf-8")) <= MAX_TERM_BYTES else None


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
