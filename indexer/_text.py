"""Raw page text, as a browser copy or a simple scraper saves it.

Layout handled (see the seeds' README): navigation or breadcrumb lines, the
title (maybe with a series prefix), a metadata line with the time, source and
editors (alone or run together), an ``原标题`` line, the body, then credit
lines, a closing source line and site boilerplate.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from indexer.normalize import normalize
from indexer.textrules import CREDIT_LABELS, SOURCE_LABELS, both_scripts, parse_date

_SPACE = re.compile(r"[\s\u3000\u00a0\ufeff]+")
_BREADCRUMB = re.compile(r"(当前位置|您的位置|你的位置|所在位置|位置)\s*[:：]?|>>|»|＞＞|\s>\s")
_MENU_SEP = re.compile(r"\s*[|｜]\s*")


_LABELS = both_scripts(
    "发布时间|发表时间|更新时间|时间|日期|来源|稿源|编辑|责编|责任编辑|作者|记者|通讯员|"
    "审核|校对|统筹|策划|撰文|摄影|摄像|制作|监制|出品"
)
_META = re.compile(rf"({_LABELS})\s*[:：]\s*")
_META_LINE = re.compile(rf"^(?:\d{{4}}[-/.年]\d{{1,2}}[-/.月]\d{{1,2}}|(?:{_LABELS})\s*[:：])")
_CREDIT_LABELS = both_scripts(CREDIT_LABELS)
_CREDIT = re.compile(rf"^[（(]?\s*({_CREDIT_LABELS})\s*[:：\s]\s*\S.{{0,40}}$")
_REPORTER = re.compile(
    rf"[（(]\s*(?:[^()（）]{{0,15}}?)(?:{both_scripts('记者|通讯员|作者')}|文/|文／)\s*([^()（）]{{1,30}}?)\s*[）)]\s*$"
)
_ORIGINAL_TITLE = re.compile(r"^[（(]?\s*原标题\s*[:：]\s*(.+?)\s*[）)]?$")
_TRAILER = re.compile(
    rf"{both_scripts('版权所有|版权声明|内容销售的声明|免责声明|违法和不良信息举报|联系我们|邮箱')}|copyright|©|ICP[备證证]",
    re.I,
)
TITLE_LINE_MAX_CHARS = 80  # a longer first line is body text, not a title (the cap on titles: article.MAX_TITLE_CHARS)


@dataclass(frozen=True)
class PageText:
    title: str | None
    body: str
    published_text: str | None
    source: str | None
    category: str | None
    author: str | None
    editor: str | None
    original_title: str | None


def clean_lines(text: str) -> list[str]:
    return [line for line in (_SPACE.sub(" ", raw).strip() for raw in text.splitlines()) if line]


def _is_nav(line: str) -> bool:
    if _BREADCRUMB.search(line) and len(line) <= 60:
        return True
    items = [i for i in _MENU_SEP.split(line) if i]
    return len(items) >= 3 and all(len(i) <= 8 for i in items)


def _breadcrumb_category(line: str) -> str | None:
    parts = [p.strip() for p in re.split(r">>|»|＞＞|>|＞", _BREADCRUMB.sub(">>", line, count=1)) if p.strip()]
    parts = [p for p in parts if p not in ("首页", "主页", "网站首页")]
    return parts[-1] if parts else None


def _metadata(line: str) -> dict[str, str]:
    """``2023-03-28 09:25:56来源: 黑龙江日报编辑: 刘才星`` -> labels and values."""
    fields: dict[str, str] = {}
    matches = list(_META.finditer(line))
    lead = line[: matches[0].start()] if matches else line
    if parse_date(lead):
        fields["时间"] = lead.strip()
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        fields.setdefault(normalize(match.group(1)), line[match.end() : end].strip())
    return fields


def parse_page_text(text: str, *, boilerplate: Collection[str] = ()) -> PageText:
    """Split raw page text into title, metadata and body.

    ``boilerplate`` holds lines seen across many files of the same source:
    they are dropped wherever they stand.
    """
    lines = [line for line in clean_lines(text) if line not in boilerplate]
    category = title = original_title = author = source = published = None
    i = 0
    while i < len(lines) and _is_nav(lines[i]):
        if _BREADCRUMB.search(lines[i]):
            category = _breadcrumb_category(lines[i]) or category
        i += 1
    if i < len(lines) and len(lines[i]) <= TITLE_LINE_MAX_CHARS and not _META_LINE.match(lines[i]):
        title = lines[i]
        i += 1
    meta: dict[str, str] = {}
    while i < len(lines) and _META_LINE.match(lines[i]) and len(lines[i]) <= 120:
        for key, value in _metadata(lines[i]).items():
            meta.setdefault(key, value)
        i += 1
    body_lines = lines[i:]
    if body_lines and (m := _ORIGINAL_TITLE.match(body_lines[0])):
        original_title = m.group(1)
        body_lines = body_lines[1:]
    body_lines, trailer_meta = _strip_tail(body_lines)
    for key, value in trailer_meta.items():
        meta.setdefault(key, value)
    if body_lines and (m := _REPORTER.search(body_lines[-1])):
        author = m.group(1).strip()
        body_lines[-1] = body_lines[-1][: m.start()].rstrip()
        if not body_lines[-1]:
            body_lines.pop()
    published = next((meta[k] for k in ("发布时间", "发表时间", "时间", "日期", "更新时间") if meta.get(k)), None)
    source = meta.get("来源") or meta.get("稿源") or None
    author = author or meta.get("作者") or meta.get("记者") or meta.get("撰文") or None
    editor = meta.get("编辑") or meta.get("责任编辑") or meta.get("责编") or None
    return PageText(
        title=title,
        body="\n".join(body_lines),
        published_text=published,
        source=source,
        category=category,
        author=author,
        editor=editor,
        original_title=original_title,
    )


def _strip_tail(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Drop site boilerplate and credit lines after the last paragraph."""
    meta: dict[str, str] = {}
    cut = len(lines)
    # Boilerplate starts at the first trailer line in the last part of the page.
    for j in range(max(1, len(lines) // 3), len(lines)):
        if _TRAILER.search(lines[j]) and (len(lines[j]) <= 60 or j >= len(lines) - 2):
            cut = j
            break
    lines = lines[:cut]
    while lines and (m := _CREDIT.match(lines[-1])):
        label = m.group(1)
        value = _CREDIT_VALUE.sub("", lines[-1]).strip(" ）)")
        label = normalize(label)
        meta.setdefault("来源" if label in SOURCE_LABELS else label, value)
        lines = lines[:-1]
    return lines, meta


_CREDIT_VALUE = re.compile(r"^[（(]?\s*\S+?\s*[:：\s]\s*")
