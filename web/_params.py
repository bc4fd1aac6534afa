"""Request arguments of the search page and API, checked before ``search()`` sees them; article ids in URLs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from werkzeug.routing import PathConverter

from search import QuerySyntaxError

FILTERS = ("source", "category", "year", "date_from", "date_to", "reprints_of")
MAX_ID_CHARS = 2000  # the indexer skips records with longer ids
MAX_PAGE_LINKS = 1000  # search() refuses pages past this


@dataclass(frozen=True)
class SearchArgs:
    q: str
    page: int | str = 1  # as typed: search() checks it
    per_page: int | str = 10
    sort: str = "relevance"
    filters: dict[str, str] = field(default_factory=dict)
    correct: bool = True  # answer a query that matches nothing with a likely correction's results

    @property
    def blank(self) -> bool:
        return not self.q.strip() and not self.filters


def _whole(args: Mapping[str, str], name: str, default: int) -> int | str:
    """The number as typed (``search()`` checks it, one rule for both), or the default."""
    return args.get(name, "").strip() or default


def _year(value: str) -> str:
    if not (len(value) == 4 and value.isascii() and value.isdigit()):
        raise QuerySyntaxError(f"year must be a year of four digits like 2024, not {value[:20]!r}")
    return value


def check_length(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise QuerySyntaxError(f"{name} is too long: {len(value)} characters, at most {limit} allowed")
    return value


def parse_search_args(args: Mapping[str, str], *, max_chars: int, per_page: int) -> SearchArgs:
    """Typed arguments; :class:`QuerySyntaxError` for anything unusable (ranges are left to ``search()``)."""
    q = check_length("the query", args.get("q", ""), max_chars)
    filters = {name: check_length(name, args[name].strip(), MAX_ID_CHARS if name == "reprints_of" else max_chars)
               for name in FILTERS if args.get(name, "").strip()}
    if "year" in filters:
        filters["year"] = _year(filters["year"])
    return SearchArgs(
        q=q,
        page=_whole(args, "page", 1),
        per_page=_whole(args, "per_page", per_page),
        sort=args.get("sort", "").strip().lower() or "relevance",  # sort=DATE as sort=date
        filters=filters,
        correct=args.get("nofix", "").strip() in ("", "0"),
    )


def page_window(page: int, pages: int, *, around: int = 2) -> list[int | None]:
    """Page numbers to link, ``None`` where a gap is elided: 1 … 4 5 [6] 7 8 … 20."""
    last = min(pages, MAX_PAGE_LINKS)
    if last <= 1:
        return []
    shown = {1, last, *range(max(1, page - around), min(last, page + around) + 1)}
    out: list[int | None] = []
    previous = 0
    for number in sorted(shown):
        if number - previous > 1:
            out.append(None)
        out.append(number)
        previous = number
    return out


class ArticleIdConverter(PathConverter):
    """``<article_id:...>``: a ``path`` converter for ids of any shape.

    Ids may contain ``/``, ``:``, ``#``, ``?``, spaces and Chinese, may start with
    ``/`` and may hold ``.``/``..`` segments. Browsers would resolve those segments
    away, so such ids get every ``/`` escaped as ``%2F`` (the server decodes it back).
    """

    regex = r"[\s\S]+"  # any character, newlines too (ids come from JSON records and file names)
    part_isolating = False

    def to_url(self, value: str) -> str:
        segments = value.split("/")
        if any(s in (".", "..") for s in segments):
            return quote(value, safe="!$&'()*+,:;=@")
        return super().to_url(value)
