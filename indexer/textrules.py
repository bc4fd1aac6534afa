"""Rules about Chinese text that reading, indexing and searching share, each defined once.

- ``SENTENCE_END``: where a sentence ends (derived titles, reprint keys, snippet edges).
- ``HAN``, ``HAN_RUN`` and ``is_han()``: what a Han character is.
- ``parse_date()``: the first real date (and time) written in a text.
- ``CREDIT_LABELS`` and ``both_scripts()``: the labels that open a credit line, in both scripts.

``search`` imports this module (it must not import ``indexer``'s private modules),
so it stays light: OpenCC loads only when ``both_scripts`` is first called.

``HAN`` decides which characters the word analyzer hands to jieba and
``SENTENCE_END`` shapes the stored reprint key: changing either changes the
index (bump ``indexer.analysis.ANALYZER_VERSION``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

SENTENCE_END_CHARS = "。！？；!?;\n"
SENTENCE_END = re.compile(f"[{re.escape(SENTENCE_END_CHARS)}]")

# Han characters as a regex character-class body (use it inside ``[...]``): CJK
# Unified Ideographs, Extension A and the compatibility ideographs. Extensions B
# and beyond, outside the Basic Multilingual Plane, count as letters.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RUN = re.compile(f"[{HAN}]+")
# The CJK Unified Ideographs block alone, where every common character lies.
# The decoder's test of a legacy encoding (which share of the Han characters
# are common ones) was measured over this block: rare characters of the other
# blocks are what a wrong codec produces, and they would count against it only
# if the heuristic were re-measured with them.
BASIC_HAN = "\u4e00-\u9fff"


def is_han(text: str) -> bool:
    """Whether every character of ``text`` is a Han character (``HAN``); False for ``""``."""
    return HAN_RUN.fullmatch(text) is not None


# Year (1900-2099), month and day with ``-``, ``/``, ``.`` or 年月日, then
# optionally the time of day (``09:25``, ``09:25:56``, ``9时25分``, ISO's ``T``).
_DATE = re.compile(
    r"((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*T?\s*(\d{1,2})\s*[:：时時]\s*(\d{2})(?:\s*[:：分]\s*(\d{2}))?)?"
)


def _fold_digits(text: str) -> str:
    """Full-width digits and punctuation (２０２３－０３－２８) as ASCII."""
    return unicodedata.normalize("NFKC", text)


def parse_date(text: str | None) -> datetime | None:
    """The first date in ``text`` that exists on the calendar, with its time of day
    when one follows (else midnight); None when there is none.

    A time zone after the time is ignored: the datetime is as written, naive.
    """
    if not text:
        return None
    for match in _DATE.finditer(_fold_digits(text)):
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        try:
            return datetime(year, month, day, hour, minute, second)
        except ValueError:
            continue
    return None


def starts_with_date(text: str) -> bool:
    """Whether ``text`` opens with something written as a date (a dateline)."""
    return _DATE.match(_fold_digits(text)) is not None


# Labels that open a credit line (who wrote, edited, checked, photographed or
# supplied an article), in Simplified Chinese; ``both_scripts`` adds the
# Traditional forms. Readers of every format strip or read credit lines by these.
CREDIT_LABELS = (
    "统筹", "策划", "撰文", "文字", "文", "编辑", "责编", "责任编辑", "值班编辑", "主编", "编审",
    "校对", "审核", "审校", "摄影", "摄像", "图", "图片", "视频", "制作", "设计", "监制", "出品",
    "记者", "通讯员", "作者", "来源", "本文来源", "文章来源", "稿件来源", "图片来源",
)
# The credit labels that name the article's source, and those that name its writer.
SOURCE_LABELS = ("来源", "本文来源", "文章来源", "稿件来源")
AUTHOR_LABELS = ("作者", "记者", "撰文")


@lru_cache(maxsize=1)
def _s2t():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("s2t")


def both_scripts(words: str | Iterable[str]) -> str:
    """A regex alternation of ``words`` (``"a|b|c"`` or an iterable) and their Traditional
    spellings, longest first, so that Traditional pages read like Simplified ones."""
    simplified = words.split("|") if isinstance(words, str) else list(words)
    convert = _s2t().convert
    out = dict.fromkeys(simplified)
    out.update(dict.fromkeys(convert(w) for w in simplified))
    # OpenCC writes 發佈 (发布); Taiwan and Hong Kong pages mostly write 發布.
    out.update(dict.fromkeys(w.replace("發佈", "發布") for w in list(out)))
    return "|".join(sorted(out, key=len, reverse=True))
