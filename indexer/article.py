"""The article record every input format is turned into."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime

from indexer.textrules import SENTENCE_END

DERIVED_TITLE_CHARS = 30

# Field caps, in characters, applied to every article at ingest. Titles and
# the other short fields are shown on every results page and twice on the
# article page, so a broken scraper's 5 MB title must not reach them; a cut
# text field ends in "…". The body is never cut: it stays searchable whole
# (a file or a JSON line over MAX_FILE_BYTES is skipped instead).
MAX_TITLE_CHARS = 200
MAX_SHORT_FIELD_CHARS = 100  # source, category, author, editor
MAX_URL_CHARS = 2000  # a longer url is dropped, not cut: half a url is a broken link
MAX_ID_CHARS = 2000  # a longer id is skipped, not cut: a cut id could name another article
FIELD_CAPS = {
    "title": MAX_TITLE_CHARS,
    "original_title": MAX_TITLE_CHARS,
    "source": MAX_SHORT_FIELD_CHARS,
    "category": MAX_SHORT_FIELD_CHARS,
    "author": MAX_SHORT_FIELD_CHARS,
    "editor": MAX_SHORT_FIELD_CHARS,
}


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


def cap_fields(article: Article) -> Article:
    """``article`` with its short fields cut to ``FIELD_CAPS`` and an overlong url dropped, each change noted."""
    changes: dict[str, str | None] = {}
    notes: list[str] = []
    for name, cap in FIELD_CAPS.items():
        value = getattr(article, name)
        if value is not None and len(value) > cap:
            changes[name] = value[: cap - 1] + "…"
            notes.append(f"{name} cut to {cap} of {len(value):,} characters")
    if article.url is not None and len(article.url) > MAX_URL_CHARS:
        changes["url"] = None
        notes.append(f"url dropped ({len(article.url):,} characters > {MAX_URL_CHARS:,})")
    if not changes:
        return article
    return replace(article, **changes, notes=article.notes + tuple(notes))  # type: ignore[arg-type]


def derive_title(body: str) -> str:
    """A title for an article that has none: its first sentence, cut short."""
    first = SENTENCE_END.split(body.strip(), maxsplit=1)[0].strip()
    if len(first) > DERIVED_TITLE_CHARS:
        first = first[:DERIVED_TITLE_CHARS] + "…"
    return first

