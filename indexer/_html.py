"""News pages as HTML to an :class:`HtmlArticle`: headline, body text and metadata.

The body comes from the element the page names as content (``id``/``class`` such as
``content``, ``article``, ``cnt_bd``, or an ``<article>`` tag) nearest to most paragraph
text, if it holds most of the page's prose; otherwise from trafilatura.  Credit lines
(``编辑：``, ``本文来源：``) and boilerplate leave the body.  Pages without article text
(empty, script-only, list/index pages) raise ``ArticleParseError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from urllib.parse import urljoin

import lxml.html
import trafilatura
from htmldate import find_date
from lxml import etree

from indexer.errors import ArticleParseError
from indexer.textrules import AUTHOR_LABELS, CREDIT_LABELS, SOURCE_LABELS, both_scripts, parse_date, starts_with_date

MAX_HTML_CHARS = 5_000_000
MAX_FALLBACK_ELEMENTS = 50_000
MIN_BODY_CHARS = 20
_MIN_PARA_CHARS = 20
_MIN_CONTAINER_CHARS = 50
_CONTAINER_SHARE = 0.5
_LINK_SHARE = 0.5
_REPEATED_ITEMS = 5

_NOISE_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "textarea", "select", "button")
_GROUP_TAGS = frozenset("div section aside nav ul ol dl table form footer header".split())
_BLOCK_TAGS = _GROUP_TAGS | frozenset(
    "html body p article main h1 h2 h3 h4 h5 h6 li tr td th blockquote pre figure figcaption dt dd br hr".split()
)
_CONTENT_NAME = re.compile(
    r"(?:^|[\s_-])(?:article|content|cnt|text|txt|body|detail|post|entry|story|zw|main|con(?![a-z])|art(?![a-z]))"
)
_NOISE_NAME = re.compile(
    r"(?:^|[\s_-])(?:comment|cmt|reply|related|recommend|share|nav|menu|footer|sidebar|aside|hot|rank|banner"
    r"|advert|copy|breadcrumb|tool)"
)
_NOISE_REGIONS = frozenset(("nav", "footer", "aside"))
_TITLE_NAME = re.compile(r"(?:^|[\s_-])(?:tit|title|headline)", re.I)
_PREAMBLE = re.compile(r"^[\s\ufeff]*<\?xml[^>]*>|</(?:html|body)\s*>", re.I)
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w")
_NON_WORD = re.compile(r"\W+")
_LABEL_PREFIX = re.compile(
    r"^\s*(?:\[[^\[\]]{1,12}\]|[【(（]\s*(?:视频|组图|图集|图文|图片|多图|音频|直播|高清)\s*[】)）])\s*"
)
_STRONG_SEP = re.compile(r"\s*(?:_+|\|+|｜|-{2,}|\s[-–—]\s)\s*")
_SITE_WORDS = re.compile(r"网|站|报|频道|新闻|官方|官网|在线|资讯|周刊|电视|论坛|中心|\.(?:com|cn|net|org)\b|^[\x00-\x7f]+$|^[A-Z]{2,}\b")
_DATE_META = (
    "article:published_time", "og:article:published_time", "og:release_date", "publishdate", "publish_date",
    "pubdate", "publishtime", "publish-time", "published_time", "datepublished", "dc.date.issued", "dc.date",
    "sailthru.date", "parsely-pub-date", "weibo:article:create_at", "date",
)
_CREDIT = re.compile(rf"^[（(【\[]?\s*(?:{both_scripts(CREDIT_LABELS)})\s*[:：|｜]")
_BOILERPLATE = re.compile(r"^\W{0,3}(?:免责声明|版权所有|版权声明|copyright|©|未经.{0,12}(?:授权|许可)|转载请注明)", re.I)
_SOURCE = re.compile(rf"(?:{both_scripts(SOURCE_LABELS)})\s*[:：|｜]\s*([^\s\d|｜,，:：;；()（）]{{2,20}})")
_AUTHOR = re.compile(rf"(?:{both_scripts(AUTHOR_LABELS)}|(?<!\w)文)\s*[:：／/|｜]\s*([^\s\d|｜,，:：;；()（）]{{2,12}})")
_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)

Element = lxml.html.HtmlElement


@dataclass(frozen=True)
class HtmlArticle:
    title: str
    body: str
    published: datetime | None
    author: str | None
    source: str | None
    url: str | None


def extract_html(html: str, *, url: str | None = None) -> HtmlArticle:
    """Extract headline, body and metadata from a decoded news page.

    Only the first ``MAX_HTML_CHARS`` characters are parsed.  Raises
    ``ArticleParseError`` when the page holds no article text.
    """
    where = url or "<html>"
    html = _PREAMBLE.sub("", html[:MAX_HTML_CHARS])
    if not html.strip():
        raise ArticleParseError(where, "empty page")
    try:
        doc = lxml.html.document_fromstring(html, parser=_PARSER)
        etree.strip_elements(doc, *_NOISE_TAGS, with_tail=False)
        heading, title = _title(doc)
        lines = _body_lines(doc, html, title)
    except (etree.LxmlError, ValueError, RecursionError) as exc:
        raise ArticleParseError(where, f"cannot extract ({exc.__class__.__name__}: {exc})") from exc
    if lines is None:
        raise ArticleParseError(where, "list or index page, not an article")
    lines, credits = _clean_lines(lines, title)
    body = "\n".join(lines)
    if _chars(body) < MIN_BODY_CHARS:
        raise ArticleParseError(where, "no article text")
    after = _text_after(heading) if heading is not None else ""
    return HtmlArticle(
        title=title,
        body=body,
        published=_published(doc, after),
        author=_author(doc, after, credits),
        source=_first(_SOURCE, credits) or _first(_SOURCE, [after[:300]]) or _meta(doc, "source"),
        url=_url(doc, url),
    )


def _norm(text: str | None) -> str:
    return _WS.sub(" ", (text or "").replace("\ufffd", "")).strip()


def _chars(text: str) -> int:
    return len(_WS.sub("", text))


def _names(el: Element) -> str:
    return f"{el.get('id', '')} {el.get('class', '')}".lower()


def _content_named(el: Element) -> bool:
    return el.tag in ("article", "main") or (bool(_CONTENT_NAME.search(_names(el))) and not _noise(el))


def _noise(el: Element) -> bool:
    return el.tag in _NOISE_REGIONS or bool(_NOISE_NAME.search(_names(el)))


def _paragraphs(doc: Element) -> dict[Element, int]:
    """Characters of non-link text per block element of the page body, outside comment/footer/nav regions."""
    body = doc.find("body")
    if body is None:
        return {}
    noisy = {e for region in body.iter() if isinstance(region.tag, str) and _noise(region) for e in region.iter()}
    sizes: dict[Element, int] = {}
    for node in body.xpath(".//text()[not(ancestor::a)]"):
        block = node.getparent()
        if node.is_tail:
            block = block.getparent()
        while block is not None and block.tag not in _BLOCK_TAGS:
            block = block.getparent()
        if block is not None and block not in noisy:
            sizes[block] = sizes.get(block, 0) + _chars(node)
    return sizes


def _container(doc: Element, title: str) -> Element | None:
    """The content-named element nearest to most paragraph text, if it holds most of the page's prose.

    Shares weigh each paragraph by its squared length, so long paragraphs outweigh labels and teasers;
    copies of the headline do not count.
    """
    sizes = {
        b: n
        for b, n in _paragraphs(doc).items()
        if n >= _MIN_PARA_CHARS and not (n <= len(title) + 10 and _echoes(b.text_content(), title))
    }
    scores: dict[Element, float] = {}
    for block, size in sizes.items():
        for depth, ancestor in enumerate(chain([block], block.iterancestors())):
            if depth > 6:
                break
            if _content_named(ancestor):
                scores[ancestor] = scores.get(ancestor, 0.0) + size / 2**depth
    if not scores:
        return None
    best = max(scores, key=scores.__getitem__)
    inside = set(best.iter())
    held = [n for b, n in sizes.items() if b in inside]
    own = sum(_chars(t) for t in best.xpath(".//text()[not(ancestor::a)]"))
    share = sum(n * n for n in held) / sum(n * n for n in sizes.values())
    if sum(held) >= _MIN_CONTAINER_CHARS and share >= _CONTAINER_SHARE and sum(held) >= 0.5 * own:
        return best
    return None


def _echoes(text: str, title: str, slack: int = 10) -> bool:
    """Whether ``text`` is the headline again, give or take punctuation and ``slack`` more characters."""
    words, head = _NON_WORD.sub("", _clean_title(text)), _NON_WORD.sub("", title)
    return bool(head) and head in words and len(words) <= len(head) + slack


def _skipped(el: Element) -> bool:
    if "display:none" in (el.get("style") or "").replace(" ", ""):
        return True
    if el.tag == "figcaption" or "caption" in _names(el):
        return True
    if el.tag not in _GROUP_TAGS:
        return False
    if _noise(el):
        return True
    size = _chars(el.text_content())
    return size > 0 and _chars("".join(el.xpath(".//a//text()"))) >= _LINK_SHARE * size


def _element_lines(el: Element) -> list[str]:
    parts: list[str] = []

    def walk(node: Element) -> None:
        block = node.tag in _BLOCK_TAGS
        parts.append("\n" if block else "")
        parts.append(node.text or "")
        for child in node:
            if isinstance(child.tag, str) and not _skipped(child):
                walk(child)
            parts.append(child.tail or "")
        parts.append("\n" if block else "")

    walk(el)
    return [line for line in (_norm(x) for x in "".join(parts).split("\n")) if line]


def _body_lines(doc: Element, html: str, title: str) -> list[str] | None:
    """Body lines; ``None`` for a list page."""
    container = _container(doc, title)
    if container is not None:
        return _element_lines(container)
    if sum(1 for _ in doc.iter()) > MAX_FALLBACK_ELEMENTS:
        raise ValueError("too many elements for the fallback extractor")
    text = trafilatura.extract(html, favor_precision=True, include_comments=False, include_tables=False)
    lines = [line for line in (_norm(x) for x in (text or "").split("\n")) if line]
    return None if lines and _in_repeated_item(doc, lines) else lines


def _in_repeated_item(doc: Element, lines: list[str]) -> bool:
    """Whether the text starts inside one of many same-shaped siblings (a list entry) that also holds its end."""
    node = next((n for n in doc.xpath("//body//text()") if lines[0][:8] in _norm(n)), None)
    start = node.getparent() if node is not None else None
    for el in chain([start], start.iterancestors()) if start is not None else ():
        parent = el.getparent()
        if parent is None or not (el.tag == "li" or el.get("class")):
            continue
        if sum(1 for s in parent if s.tag == el.tag and s.get("class") == el.get("class")) >= _REPEATED_ITEMS:
            return lines[-1][-8:] in _norm(el.text_content())
    return False


def _clean_lines(lines: list[str], title: str) -> tuple[list[str], list[str]]:
    """Split off credit and boilerplate lines; drop decoration and a repeated headline/dateline on top."""
    kept: list[str] = []
    credits: list[str] = []
    for line in lines:
        if len(line) <= 80 and _CREDIT.search(line):
            credits.append(line)
        elif not (len(line) <= 300 and _BOILERPLATE.search(line)) and _WORD.search(line):
            kept.append(line)
    while kept and (_echoes(kept[0], title, 4) or (len(kept[0]) <= 60 and starts_with_date(kept[0]))):
        kept.pop(0)
    return kept, credits


def _clean_title(text: str) -> str:
    return _norm(_LABEL_PREFIX.sub("", _norm(text)))


def _strip_site(title: str) -> str:
    segments = [s for s in _STRONG_SEP.split(title) if s.strip()]
    if len(segments) > 1:
        title = max(segments, key=len)
    head, sep, tail = title.rpartition("-")
    if sep and head and len(tail) <= 20 and _SITE_WORDS.search(tail):
        title = head
    return _clean_title(title)


def _title(doc: Element) -> tuple[Element | None, str]:
    """The headline element (if found) and the headline without site name or label prefix."""
    references = [_clean_title(t) for t in (doc.findtext(".//title"), _meta(doc, "og:title", "twitter:title")) if t]
    best: tuple[Element | None, str] = (None, "")
    for el in doc.iter("h1", "h2", "h3", "div", "span", "p", "strong"):
        if el.tag not in ("h1", "h2", "h3") and not _TITLE_NAME.search(_names(el)):
            continue
        text = _clean_title(el.text_content())
        if 4 <= len(text) <= 120 and len(text) > len(best[1]) and any(text in r for r in references):
            best = (el, text)
    if best[0] is not None:
        return best
    h1 = doc.find(".//h1")
    fallback = _meta(doc, "og:title", "twitter:title") or (h1.text_content() if h1 is not None else "")
    return h1, _strip_site(fallback or _norm(doc.findtext(".//title")))


def _meta(doc: Element, *names: str) -> str | None:
    wanted = {n.lower() for n in names}
    for meta in doc.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        value = _norm(meta.get("content"))
        if key in wanted and value:
            return value
    return None


def _first(pattern: re.Pattern[str], texts: list[str]) -> str | None:
    return next((m.group(1) for t in texts if (m := pattern.search(t))), None)


def _text_after(el: Element) -> str:
    return _norm(" ".join(el.xpath("following::text()[position() <= 200]")))[:3000]


def _published(doc: Element, after: str) -> datetime | None:
    """From meta tags, ``<time>``, the dateline after the headline, else htmldate (trafilatura's date finder)."""
    for value in (_meta(doc, *_DATE_META), *(t.get("datetime") for t in doc.iter("time")), after[:1000]):
        found = parse_date(value)
        if found is not None:
            return found
    return parse_date(find_date(doc, extensive_search=False, outputformat="%Y-%m-%d %H:%M:%S"))


def _author(doc: Element, after: str, credits: list[str]) -> str | None:
    named = _first(_AUTHOR, [after[:300], *credits])
    if named and named != "未知":
        return named
    meta = _meta(doc, "author", "article:author", "byline")
    if meta and len(meta) <= 20 and not re.search(r"[@/,，]|^\d+$", meta) and not _SITE_WORDS.search(meta):
        return meta
    return None


def _url(doc: Element, url: str | None) -> str | None:
    for link in doc.iter("link"):
        href = link.get("href")
        if "canonical" in (link.get("rel") or "").lower() and href:
            return urljoin(url or "", href.strip())
    og = _meta(doc, "og:url")
    return urljoin(url or "", og) if og else url
