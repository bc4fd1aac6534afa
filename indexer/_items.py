"""What reading a source yields: articles, skipped items with their reason, notes; and the
one way a reader turns fields into an ``Article`` (``finish``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from indexer._decode import encoding_name
from indexer.article import MAX_ID_CHARS, Article, cap_fields, derive_title
from indexer.errors import ArticleParseError

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Skipped:
    """An input item that did not become an article, and why."""

    item: str
    reason: str


@dataclass(frozen=True)
class Note:
    """An input item that was indexed with a change (bytes replaced, a field cut), and which."""

    item: str
    note: str


Item = Article | Skipped


def replaced_note(bad: int, encoding: str) -> str:
    return f"{bad} invalid {encoding_name(encoding)} byte sequence{'s' if bad > 1 else ''} replaced with U+FFFD"


def failure(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"cannot read ({type(exc).__name__}: {message[:200]})" if message else f"cannot read ({type(exc).__name__})"


def finish(
    rel: str, *, title: str | None, body: str, published: datetime | None = None, article_id: str | None = None,
    notes: tuple[str, ...] = (), **fields: str | None,
) -> Article:
    """The article of ``rel``, its fields stripped and capped (``article.cap_fields``)."""
    article_id = article_id or rel
    if len(article_id) > MAX_ID_CHARS:
        raise ArticleParseError(rel, f"id too long ({len(article_id):,} characters > {MAX_ID_CHARS:,})")
    body = body.strip()
    if not body and not (title or "").strip():
        raise ArticleParseError(rel, "no text")
    if not body:
        body = title or ""
    title = (title or "").strip()
    derived = not title
    return cap_fields(Article(
        id=article_id,
        title=title or derive_title(body),
        body=body,
        published=published,
        title_derived=derived,
        origin=fields.pop("origin", None) or rel,
        notes=notes,
        **{k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in fields.items()},
    ))
