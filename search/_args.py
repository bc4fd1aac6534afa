"""Checking ``search()``'s arguments, and translating what a damaged index file raises."""

from __future__ import annotations

import contextlib
import pickle
import struct
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time as dtime
from typing import Any

from whoosh import query as Q

from indexer import schema as F
from search.errors import IndexDamagedError, QuerySyntaxError, SearchError


def date_bound(value: Any, name: str, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, dtime.max if end else dtime.min)
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise QuerySyntaxError(f"{name} must be a date like 2024-10-18, not {value!r}") from None
        return datetime.combine(parsed, dtime.max if end else dtime.min)
    raise QuerySyntaxError(f"{name} must be a date, not {type(value).__name__}")


def whole(value: Any, name: str, low: int, high: int) -> int:
    """A whole number from an ``int`` or text of at most 9 ASCII digits (a sign allowed), within ``low..high``."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        significant = digits.lstrip("0") or "0"
        if digits.isascii() and digits.isdigit() and len(significant) <= 9:
            number = -int(significant) if text.startswith("-") else int(significant)
    if number is None:
        raise QuerySyntaxError(f"{name} must be a whole number of at most 9 digits, not {str(value)[:20]!r}")
    if not low <= number <= high:
        raise QuerySyntaxError(f"{name} must be between {low} and {high}, not {number}")
    return number


def filters(source: str | None, category: str | None, year: str | int | None,
             date_from: datetime | None, date_to: datetime | None) -> list[Q.Query]:
    out: list[Q.Query] = []
    if source:
        out.append(Q.Term(F.SOURCE, str(source)))
    if category:
        out.append(Q.Term(F.CATEGORY, str(category)))
    if year:
        out.append(Q.Term(F.YEAR, str(year)))
    if date_from or date_to:
        out.append(Q.DateRange(F.PUBLISHED, date_from, date_to))
    return out


# What reading a damaged file raises: zlib and pickle errors in stored fields and postings,
# struct errors and short reads in tables, bad UTF-8 in terms, offsets past an array's end.
DAMAGE = (OSError, EOFError, ValueError, zlib.error, struct.error, pickle.UnpicklingError, IndexError, KeyError)


def damaged(exc: BaseException) -> IndexDamagedError:
    return IndexDamagedError(f"the index is damaged ({type(exc).__name__}: {str(exc)[:120]}); "
                             "rebuild it with `python -m indexer rebuild`")


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Errors of a damaged index file become ``IndexDamagedError``."""
    try:
        yield
    except SearchError:
        raise
    except DAMAGE as exc:
        raise damaged(exc) from exc
