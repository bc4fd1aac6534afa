"""Highlighted snippets and titles.

Matching runs on normalised text (NFKC, case folded, Simplified) with plain
substring search over the stored text, whose offsets map back to the text as
written: no jieba and no Whoosh analysis per hit, linear in the article's
length. The snippet is the window of about ``SNIPPET_CHARS`` characters with
the most distinct matches, cut at sentence punctuation where one is near.
"""

from __future__ import annotations

from markupsafe import escape

from indexer.normalize import normalize, normalize_with_offsets, original_span
from indexer.textrules import SENTENCE_END_CHARS

SNIPPET_CHARS = 120
MAX_MATCHES_PER_TERM = 200
_SNAP = 24


def prepare_terms(terms: list[str]) -> list[str]:
    """Normalised, distinct, longest first; single Latin letters dropped."""
    out = {normalize(t).strip() for t in terms}
    return sorted((t for t in out if t and not (len(t) == 1 and t.isascii())), key=len, reverse=True)


def find_spans(text: str, terms: list[str]) -> list[tuple[int, int, str]]:
    """Spans ``(start, end, term)`` of ``terms`` in ``text``, in original offsets, merged."""
    norm, origin = normalize_with_offsets(text)
    raw: list[tuple[int, int, str]] = []
    for term in terms:
        start = norm.find(term)
        found = 0
        while start != -1 and found < MAX_MATCHES_PER_TERM:
            raw.append((start, start + len(term), term))
            found += 1
            start = norm.find(term, start + len(term))
    if not raw:
        return []
    raw.sort()
    merged: list[tuple[int, int, str]] = []
    for s, e, t in raw:
        if merged and s <= merged[-1][1]:
            ps, pe, pt = merged[-1]
            merged[-1] = (ps, max(pe, e), pt)
        else:
            merged.append((s, e, t))
    return [(*original_span(origin, s, e, len(text)), t) for s, e, t in merged]


def mark(text: str, spans: list[tuple[int, int, str]], start: int = 0, end: int | None = None) -> str:
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e, _ in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(str(escape(text[pos:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(str(escape(text[pos:end])))
    return "".join(out).replace("\n", "")


def highlight(text: str, terms: list[str]) -> str:
    """The whole of ``text`` escaped, with matches marked."""
    return mark(text, find_spans(text, terms))


def _best_window(spans: list[tuple[int, int, str]], width: int) -> int:
    """The start of the window of ``width`` characters, beginning at a match, with the most
    distinct terms (then the most matches). One pass: spans are sorted and do not overlap."""
    best_start, best_score = spans[0][0], (-1, -1)
    counts: dict[str, int] = {}
    j = 0
    for i, (anchor, _, _) in enumerate(spans):
        window_end = anchor + width
        while j < len(spans) and spans[j][1] <= window_end:
            counts[spans[j][2]] = counts.get(spans[j][2], 0) + 1
            j += 1
        score = (len(counts), j - i)
        if score > best_score:
            best_start, best_score = anchor, score
        if j > i:  # the span at i leaves the window
            term = spans[i][2]
            counts[term] -= 1
            if not counts[term]:
                del counts[term]
        else:
            j = i + 1
    return best_start


def snippet(text: str, terms: list[str], *, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around the densest matches, HTML-safe."""
    spans = find_spans(text, terms)
    if len(text) <= width:
        return mark(text, spans)
    if not spans:
        start = 0
    else:
        anchor = _best_window(spans, width)
        start = max(0, anchor - width // 4)
        back = max((text.rfind(c, max(0, start - _SNAP), anchor) for c in SENTENCE_END_CHARS), default=-1)
        if back != -1 and back < anchor:
            start = back + 1
    end = min(len(text), start + width)
    if end < len(text):
        forward = [i for c in SENTENCE_END_CHARS if (i := text.find(c, end - _SNAP, end + _SNAP // 2)) != -1]
        if forward:
            end = min(forward) + 1
    while start < end and text[start] in " \n\u3000":
        start += 1
    html = mark(text, spans, start, end)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + html + suffix
