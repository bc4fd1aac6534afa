"""Refining a search on the page: filter chips in Chinese, quick date ranges, the year facet in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

FILTER_LABELS = {"source": "来源", "category": "栏目", "year": "年份"}
QUICK_RANGES = (("一天内", 1), ("一周内", 7), ("一月内", 30), ("一年内", 365))
KEPT = ("source", "category", "year", "date_from", "date_to", "reprints_of", "sort", "per_page")  # carried to a new query


@dataclass(frozen=True)
class Chip:
    label: str
    remove_url: str


@dataclass(frozen=True)
class DateControl:
    quick: tuple[tuple[str, str], ...]  # (label, date_from)
    current: str | None  # the quick range's label, "自定义", or None for any date
    date_from: str
    date_to: str


def date_control(filters: dict[str, str], *, today: date | None = None) -> DateControl:
    today = today or date.today()
    quick = tuple((label, (today - timedelta(days=days)).isoformat()) for label, days in QUICK_RANGES)
    start, end = filters.get("date_from", ""), filters.get("date_to", "")
    current = None
    if start or end:
        current = next((label for label, since in quick if start == since and not end), "自定义")
    return DateControl(quick=quick, current=current, date_from=start[:10], date_to=end[:10])


def range_label(dates: DateControl) -> str:
    if dates.current != "自定义":
        return dates.current or ""
    if dates.date_from and dates.date_to:
        return f"{dates.date_from} 至 {dates.date_to}"
    return f"{dates.date_from} 起" if dates.date_from else f"{dates.date_to} 及以前"


def chips(filters: dict[str, str], dates: DateControl, url: Callable[..., str]) -> list[Chip]:
    """One chip per filter, labelled in Chinese; a date range is one chip (时间：一周内, 时间：a 至 b)."""
    out = [Chip(f"{label}：{filters[name]}", url(**{name: None})) for name, label in FILTER_LABELS.items()
           if filters.get(name)]
    if dates.current:
        out.append(Chip(f"时间：{range_label(dates)}", url(date_from=None, date_to=None)))
    if filters.get("reprints_of"):
        out.append(Chip("只看一篇文章的相似转载", url(reprints_of=None)))
    return out


def facet_values(name: str, values: Sequence[Any]) -> list[Any]:
    """What a facet lists: the ten largest values; years, all of them newest first."""
    if name == "year":
        return sorted(values, key=lambda fv: str(fv.value), reverse=True)
    return list(values[:10])
