"""The article record every input format is turned into."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[\sT]*(?P<H>\d{1,2})[:：时](?P<M>\d{2})(?:[:：分](?P<S>\d{2}))?)?"
)
DERIVED_TITLE_CHARS = 30


@dataclass(frozen=True)
class Article:
    """One article as indexed. ``body`` holds paragraphs joined by newlines."""

    id: str
    title: str
    body: str
    published: datetime | None = None
    source: str | None = None
    category: str | None = None
    url: str | None = None
    author: str | None = None
    editor: str | None = None
    original_title: str | None = None
    title_derived: bool = False
    origin: str | None = field(default=None, compare=False)
    # What reading changed in an article that was still indexed (bytes
    # replaced, a field cut short); the build report lists them.
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def content_hash(self) -> str:
        digest = hashlib.blake2b(digest_size=16)
        for part in (self.title, self.body):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        return digest.hexdigest()


def derive_title(body: str) -> str:
    """A title for an article that has none: its first sentence, cut short."""
    first = _SENTENCE_END.split(body.strip(), maxsplit=1)[0].strip()
    if len(first) > DERIVED_TITLE_CHARS:
        first = first[:DERIVED_TITLE_CHARS] + "…"
    return first


def parse_date(text: str | None) -> datetime | None:
    """The first plausible date (and time) in ``text``; None if absent or impossible."""
    if not text:
        return None
    match = _DATE.search(text)
    if not match:
        return None
    parts = [int(match.group(k) or 0) for k in ("y", "m", "d", "H", "M", "S")]
    try:
        return datetime(*parts)
    except ValueError:
        return None
