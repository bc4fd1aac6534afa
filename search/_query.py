"""From what a user types to a plan: what must match, and how to rank.

The grammar is forgiving: nothing a user types raises. Recognised, as typed on
a Western or a Chinese keyboard: phrases in ``"…"``, ``“…”``, ``「…」``,
``『…』``, ``‘…’`` or ``＂…＂``; ``-word``, ``－word`` or ``—word`` (exclude);
``OR``, ``|`` or ``｜`` between words; ``title:`` and ``source:`` prefixes (also
with ``：``). Everything else is text, full-width letters and digits included.

Matching is by text, not by jieba's words: each word (the text between spaces)
and each phrase must occur contiguously in the normalised title or body
(``search._exact``). jieba's words and the character bigrams only rank, and
make the partial tiers that follow when few articles hold every word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from whoosh import query as Q

from indexer import schema as F
from indexer.analysis import ChineseAnalyzer, ChineseCharAnalyzer, subwords
from indexer.matchtext import RUN, normal_form
from indexer.textrules import is_han
from search._exact import Requirement, needle
from search._variants import variants

MAX_QUERY_CHARS = 500
MAX_RANKED_WORDS = 32  # words that rank (every word still has to match)
MAX_PROXIMITY_PAIRS = MAX_RANKED_WORDS - 1
TITLE_BOOST = 0.6
CHAR_WEIGHT = 0.6
PROXIMITY_BOOST = 0.5
SUBWORD_WEIGHT = 0.5
FIELD_PREFIXES = {"title": F.TITLE, "source": F.SOURCE, "标题": F.TITLE, "来源": F.SOURCE}
# Quotes as typed on a Chinese keyboard too (NFKC has already made ＂ a ").
QUOTES = {'"': '"', "\u201c": "\u201d", "\u300c": "\u300d", "\u300e": "\u300f", "\u2018": "\u2019"}
EXCLUDE_MARKS = ("-", "\u2014", "\u2013")  # -, — and – (NFKC has made － a -)
OR_WORDS = ("OR", "|")  # NFKC has made ｜ a |
_CHUNK_END = re.compile(r"\s|[" + re.escape("".join(QUOTES)) + "]")
_words = ChineseAnalyzer()
_chars = ChineseCharAnalyzer()


@dataclass
class ParsedQuery:
    """What the user asked for. ``words`` are the texts as typed between spaces:
    each must occur, contiguously, in the title or the body."""

    text: str
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    title_terms: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    any_of: list[list[str]] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)  # the plain text as typed, for character bigrams
    ignored: list[str] = field(default_factory=list)  # chunks with no letter, digit or Han character
    sequence: list[str] = field(default_factory=list)  # words and phrases in the order typed, for proximity

    @property
    def empty(self) -> bool:
        """No text to match (a ``source:`` alone is a filter, not text)."""
        return not (self.words or self.phrases or self.title_terms or self.any_of)

    @property
    def texts(self) -> list[str]:
        """Every text that has to match: words, phrases, title terms and the OR groups' texts."""
        return [*self.words, *self.phrases, *self.title_terms, *(t for g in self.any_of for t in g)]

    def highlight_terms(self) -> list[str]:
        terms = [*self.words, *self.phrases, *self.title_terms]
        for group in self.any_of:
            terms.extend(group)
        words = [w for text in [*self.words, *self.phrases] for w in query_words(text)]
        # The dictionary words inside them too: partial matches are often found by those (合作 in 对口合作).
        terms.extend(words + [sub for w in words for sub, _ in subwords(w)])
        return terms


def clean(text: str) -> str:
    """Drop control characters and cap the length; never raises."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text[: MAX_QUERY_CHARS * 2])
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def query_words(text: str) -> list[str]:
    """The query-mode word tokens of ``text`` (normalised, stop words removed)."""
    return list(_query_words(text))


@lru_cache(maxsize=4096)
def _query_words(text: str) -> tuple[str, ...]:
    # Cached: a query's texts are cut for ranking, both partial tiers and highlights.
    return tuple(t.text for t in _words(text, mode="query"))


def char_tokens(text: str) -> list[str]:
    return [t.text for t in _chars(text, mode="query")]


def _has_text(text: str) -> bool:
    return bool(RUN.search(text))


def _scan(text: str) -> list[tuple[bool, str]]:
    """``(quoted, text)`` pieces: phrases between any pair of quotes, and the chunks between spaces."""
    out: list[tuple[bool, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in QUOTES:
            close = text.find(QUOTES[ch], i + 1)
            end = n if close == -1 else close
            out.append((True, text[i + 1 : end]))
            i = end + 1
        else:
            m = _CHUNK_END.search(text, i)
            end = n if m is None else m.start()
            out.append((False, text[i:end]))
            i = end
    return out


def parse(text: str) -> ParsedQuery:
    text = clean(text)
    parsed = ParsedQuery(text=text)
    pending_or = False
    last = ""  # what the latest plain chunk became: "word" or "group"
    for quoted, raw in _scan(unicodedata.normalize("NFKC", text)):
        if quoted:
            if _has_text(raw):
                parsed.phrases.append(" ".join(raw.split()))
                parsed.sequence.append(parsed.phrases[-1])
            pending_or, last = False, ""
            continue
        if raw in OR_WORDS:
            pending_or = bool(last)
            continue
        mark = next((m for m in EXCLUDE_MARKS if raw.startswith(m)), None)
        if mark and len(raw) > len(mark):
            rest = raw[len(mark) :]
            if _has_text(rest):
                parsed.excluded.append(rest)
            continue
        prefix, sep, rest = raw.partition(":")
        if sep and rest and prefix.lower() in FIELD_PREFIXES:
            target = FIELD_PREFIXES[prefix.lower()]
            if _has_text(rest):
                (parsed.title_terms if target == F.TITLE else parsed.sources).append(rest)
            continue
        alternatives = [a for a in raw.split("|") if _has_text(a)] if "|" in raw else [raw]
        if not alternatives or not _has_text(alternatives[0]):
            parsed.ignored.append(raw)
            continue
        parsed.chunks.extend(alternatives)
        if pending_or or len(alternatives) > 1:
            if pending_or:
                if last == "word":
                    parsed.sequence.pop()
                previous = parsed.any_of.pop() if last == "group" else [parsed.words.pop()]
                alternatives = previous + alternatives
            parsed.any_of.append(list(dict.fromkeys(alternatives)))
            last = "group"
        else:
            parsed.words.append(raw)
            parsed.sequence.append(raw)
            last = "word"
        pending_or = False
    parsed.words = list(dict.fromkeys(parsed.words))
    return parsed


def _bigrams(text: str) -> list[str]:
    return [g for g in char_tokens(text) if len(g) == 2 and is_han(g)]


def ranking_clauses(parsed: ParsedQuery) -> list[Q.Query]:
    """Scoring terms: BM25 over words (title boosted) plus Han bigrams (single
    characters when the query has no bigram), and a proximity bonus."""
    clauses: list[Q.Query] = []
    texts = [*parsed.words, *parsed.phrases]
    for group in parsed.any_of:
        texts.extend(group)
    for text in parsed.title_terms:
        clauses += [Q.Term(F.TITLE, w, boost=TITLE_BOOST) for w in query_words(text)]
        grams = _bigrams(text) or [g for g in char_tokens(text) if len(g) == 1]
        clauses += [Q.Term(F.TITLE_CHARS, g, boost=CHAR_WEIGHT * TITLE_BOOST) for g in grams]
    words: list[str] = []
    for text in texts:
        words.extend(query_words(text) or [])
    for word in list(dict.fromkeys(words))[:MAX_RANKED_WORDS]:
        clauses.append(Q.Term(F.BODY, word))
        clauses.append(Q.Term(F.TITLE, word, boost=TITLE_BOOST))
        if not is_han(word):
            # Letters and digits (2008, 5g) also weigh as a CJK bigram engine's whole-word terms do.
            clauses.append(Q.Term(F.BODY, word, boost=CHAR_WEIGHT))
            clauses.append(Q.Term(F.TITLE, word, boost=CHAR_WEIGHT * TITLE_BOOST))
        for sub, _ in subwords(word):
            clauses.append(Q.Term(F.BODY, sub, boost=SUBWORD_WEIGHT))
    # Bigrams of the text as typed, across word boundaries and stop words, as a
    # CJK bigram engine would see it; single characters when there is none.
    grams: list[str] = []
    for text in [*parsed.chunks, *parsed.phrases]:
        grams.extend(_bigrams(text))
    if not grams:
        grams = [g for text in [*parsed.chunks, *parsed.phrases] for g in char_tokens(text)
                 if len(g) == 1 and (is_han(g) or len(normal_form(text)) == 1)]
    for gram in list(dict.fromkeys(grams))[: MAX_RANKED_WORDS * 2]:
        clauses.append(Q.Term(F.BODY_CHARS, gram, boost=CHAR_WEIGHT))
        clauses.append(Q.Term(F.TITLE_CHARS, gram, boost=CHAR_WEIGHT * TITLE_BOOST))
    sequence = [w for text in parsed.sequence for w in query_words(text)][:MAX_RANKED_WORDS]
    for a, b in list(zip(sequence, sequence[1:]))[:MAX_PROXIMITY_PAIRS]:
        clauses.append(Q.Phrase(F.BODY, [a, b], slop=3, boost=PROXIMITY_BOOST))
    return clauses


def any_term_query(ranking: Q.Query, *, fields: tuple[str, ...] | None = None) -> Q.Query:
    """Documents with any single term of the ranking query, optionally only the terms of some fields."""
    terms = [q for q in ranking.children() if isinstance(q, Q.Term)] if isinstance(ranking, Q.Or) else []
    if fields is not None:
        terms = [q for q in terms if q.fieldname in fields]
    return Q.Or(terms) if terms else Q.NullQuery


def _requirement(texts: list[str], *, title_only: bool = False, regional: bool = False) -> Requirement | None:
    forms: list[str] = []
    for text in texts:
        forms.extend(variants(text) if regional else [normal_form(text)])
    needles = tuple(n for n in (needle(f, title_only=title_only) for f in dict.fromkeys(forms)) if n is not None)
    return Requirement(needles) if needles else None


def exact_plan(parsed: ParsedQuery, *, regional: bool = False) -> list[Requirement]:
    """What the exact tier requires: every word and phrase as contiguous text, title
    terms in the title, one text of each OR group; with ``regional`` each may also
    be one of its regional forms (网络 / 網路)."""
    groups = [[w] for w in parsed.words] + [[p] for p in parsed.phrases] + parsed.any_of
    plan = [_requirement(g, regional=regional) for g in groups]
    plan += [_requirement([t], title_only=True, regional=regional) for t in parsed.title_terms]
    return [r for r in plan if r is not None]


def has_variants(parsed: ParsedQuery) -> bool:
    return any(len(variants(t)) > 1 for t in parsed.texts)


def words_plan(parsed: ParsedQuery) -> list[Requirement]:
    """The second tier: every jieba word of the words of two or more characters as
    text anywhere (not necessarily together), one-character ones as words
    (``single_character_words``); the phrases, title terms and OR groups as in the first."""
    plan: list[Requirement | None] = [_requirement([p]) for p in parsed.phrases]  # a quoted phrase stays whole
    for text in parsed.words:
        words = query_words(text) or [text]
        plan.extend(_requirement([w]) for w in dict.fromkeys(words) if len(w) > 1 or w == text)
    plan += [_requirement(g) for g in parsed.any_of]
    plan += [_requirement([t], title_only=True) for t in parsed.title_terms]
    return [r for r in plan if r is not None]


def single_character_words(parsed: ParsedQuery) -> Q.Query:
    """The second tier's one-character jieba words (旗 of 有多少旗), which count there only as words
    of their own: inside other words (八旗) a lone character says little about a document."""
    singles = [w for text in parsed.words for w in query_words(text) if len(w) == 1 and w != normal_form(text)]
    if not singles:
        return Q.Every()
    return Q.And([Q.Or([Q.Term(F.TITLE, w), Q.Term(F.BODY, w)]) for w in dict.fromkeys(singles)])


def exclusion_plan(parsed: ParsedQuery) -> list[Requirement]:
    """Each excluded text: a document holding any of them is left out."""
    return [r for r in (_requirement([t]) for t in parsed.excluded) if r is not None]


def word_count(parsed: ParsedQuery) -> int:
    return len({w for t in parsed.texts for w in (query_words(t) or [t])})


def fallback_queries(parsed: ParsedQuery, ranking: Q.Query) -> list[Q.Query]:
    """Partial matches, tried in turn until one finds something: any query word (or
    dictionary word inside one), any Han bigram, any Han character."""
    # A character alone only where the query has it alone (one shared character of two words is noise).
    singles = [w for text in parsed.chunks + parsed.phrases for w in [normal_form(text), *query_words(text)]]
    unigrams = [w for w in singles if len(w) == 1 and is_han(w)]
    return [
        any_term_query(ranking, fields=F.WORD_FIELDS),
        any_term_query(ranking),
        Q.Or([Q.Term(f, g) for g in dict.fromkeys(unigrams) for f in F.CHAR_FIELDS]) if unigrams else Q.NullQuery,
    ]
