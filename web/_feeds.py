"""The newest matches of a search as an Atom 1.0 feed and its JSON Feed 1.1 twin.

The XML is written by ``xml.etree.ElementTree``, which escapes markup; characters XML 1.0
forbids (C0 controls other than tab and newlines, lone surrogates, U+FFFE/U+FFFF), which
an article's text may hold, are dropped first, so any article gives a well-formed feed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET

from markupsafe import Markup

ATOM = "http://www.w3.org/2005/Atom"
JSON_FEED = "https://jsonfeed.org/version/1.1"
FEED_SIZE = 20
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


@dataclass(frozen=True)
class Entry:
    id: str  # the article page's absolute URL: one article, one id, in every feed
    url: str
    title: str
    snippet_html: str
    published: datetime | None
    source: str | None


@dataclass(frozen=True)
class Feed:
    title: str
    self_url: str
    page_url: str
    entries: Sequence[Entry]

    @property
    def updated(self) -> datetime:
        dated = [_aware(e.published) for e in self.entries if e.published]
        return max(dated) if dated else _EPOCH


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _stamp(value: datetime) -> str:
    return _aware(value).isoformat().replace("+00:00", "Z")


def atom(feed: Feed) -> bytes:
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            node.text = xml_text(text)
        return node

    add(root, "id", feed.self_url)
    add(root, "title", feed.title)
    add(root, "updated", _stamp(feed.updated))
    add(root, "link", rel="self", type="application/atom+xml", href=feed.self_url)
    add(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    add(root, "generator", "闻搜")
    author = add(root, "author")
    add(author, "name", "闻搜")
    for e in feed.entries:
        entry = add(root, "entry")
        add(entry, "id", e.id)
        add(entry, "title", e.title or "（无标题）")
        add(entry, "link", rel="alternate", type="text/html", href=e.url)
        add(entry, "updated", _stamp(e.published or feed.updated))
        if e.published:
            add(entry, "published", _stamp(e.published))
        if e.source:
            add(add(entry, "author"), "name", e.source)
        add(entry, "summary", e.snippet_html, type="html")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def json_feed(feed: Feed) -> dict[str, Any]:
    items = []
    for e in feed.entries:
        item: dict[str, Any] = {"id": e.id, "url": e.url, "title": e.title or "（无标题）",
                                "content_html": e.snippet_html, "summary": Markup(e.snippet_html).striptags()}
        if e.published:
            item["date_published"] = _stamp(e.published)
        if e.source:
            item["authors"] = [{"name": e.source}]
        items.append(item)
    return {"version": JSON_FEED, "title": feed.title, "home_page_url": feed.page_url, "feed_url": feed.self_url,
            "language": "zh-CN", "items": items}
