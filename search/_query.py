"""From what a user types to Whoosh queries.

The default grammar is forgiving: nothing a user types raises. Recognised:
``"exact phrase"``, ``-word`` (exclude), ``OR`` between two terms,
``title:`` and ``source:`` prefixes. Everything else is text. Each word is a
*concept* that matches if the document has the jieba word **or** the same
characters contiguously (a phrase of character bigrams), so text that jieba
segments differently in the article still matches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from whoosh import query as Q

from indexer import schema as F
from indexer.analysis import ChineseAnalyzer, ChineseCharAnalyzer
from indexer.analysis import subwords

MAX_QUERY_CHARS = 500
MAX_CONCEPTS = 32
TITLE_BOOST = 0.6
CHAR_WEIGHT = 0.6
PROXIMITY_BOOST = 0.5
SUBWORD_WEIGHT = 0.5
FIELD_PREFIXES = {"title": F.TITLE, "source": F.SOURCE, "标题": F.TITLE, "来源": F.SOURCE}
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_words = ChineseAnalyzer()
_chars = ChineseCharAnalyzer()


@dataclass
class ParsedQuery:
    text: str
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    title_terms: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    any_of: list[list[str]] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)  # the plain text as typed, for character bigrams

    @property
    def empty(self) -> bool:
        """No text to match (a ``source:`` alone is a filter, not text)."""
        return not (self.words or self.phrases or self.title_terms or self.any_of)

    def highlight_terms(self) -> list[str]:
        terms = [*self.words, *self.phrases, *self.title_terms]
        for group in self.any_of:
            terms.extend(group)
        return terms


def clean(text: str) -> str:
    """Drop control characters and cap the length; never raises."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text[: MAX_QUERY_CHARS * 2])
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def query_words(text: str) -> list[str]:
    """The query-mode word tokens of ``text`` (normalised, stop words removed)."""
    return [t.text for t in _words(text, mode="query")]


def char_tokens(text: str) -> list[str]:
    return [t.text for t in _chars(text, mode="query")]


def parse(text: str) -> ParsedQuery:
    text = clean(text)
    parsed = ParsedQuery(text=text)
    pending_or = False
    for match in _TOKEN.finditer(text):
        quoted, raw = match.group(1), match.group(2)
        if quoted is not None:
            if quoted.strip():
                parsed.phrases.append(quoted.strip())
            pending_or = False
            continue
        assert raw is not None
        if raw == "OR":
            pending_or = bool(parsed.words or parsed.any_of)
            continue
        if raw.startswith("-") and len(raw) > 1:
            parsed.excluded.append(raw[1:].strip('"'))
            continue
        prefix, sep, rest = raw.partition(":")
        if not sep:
            prefix, sep, rest = raw.partition("：")
        if sep and rest and prefix.lower() in FIELD_PREFIXES:
            target = FIELD_PREFIXES[prefix.lower()]
            (parsed.title_terms if target == F.TITLE else parsed.sources).append(rest.strip('"'))
            continue
        words = query_words(raw) or ([raw] if char_tokens(raw) else [])
        parsed.chunks.append(raw)
        if pending_or and words:
            previous = parsed.any_of.pop() if parsed.any_of and _last_was_group(parsed) else [parsed.words.pop()]
            previous.append(" ".join(words) if len(words) > 1 else words[0])
            parsed.any_of.append(previous)
            words = []
        pending_or = False
        parsed.words.extend(words)
    parsed.words = parsed.words[:MAX_CONCEPTS]
    return parsed


def _last_was_group(parsed: ParsedQuery) -> bool:
    return bool(parsed.any_of) and not parsed.words


def _char_phrase(fieldname: str, text: str, *, single_chars: bool = True) -> Q.Query | None:
    """The characters of ``text``, contiguous. A lone Han character is a prefix over
    the bigrams (it costs one posting list per bigram), so it is only used when
    ``single_chars`` asks for it."""
    grams = char_tokens(text)
    if not grams:
        return None
    if len(grams) == 1:
        gram = grams[0]
        if len(gram) == 1 and _is_han(gram):
            return Q.Prefix(fieldname, gram) if single_chars else None
        return Q.Term(fieldname, gram)
    return Q.Phrase(fieldname, grams)


def concept(text: str, *, fields: tuple[str, ...] = (F.TITLE, F.BODY), single_chars: bool = False) -> Q.Query:
    """Matches documents holding ``text``: as jieba words or as contiguous characters."""
    clauses: list[Q.Query] = []
    words = query_words(text)
    char_fields = {F.TITLE: F.TITLE_CHARS, F.BODY: F.BODY_CHARS}
    for name in fields:
        if len(words) == 1:
            clauses.append(Q.Term(name, words[0]))
        elif words:
            clauses.append(Q.Phrase(name, words, slop=2))
        char_q = _char_phrase(char_fields[name], text, single_chars=single_chars or not words)
        if char_q is not None:
            clauses.append(char_q)
    return Q.Or(clauses) if clauses else Q.NullQuery


def ranking_clauses(parsed: ParsedQuery) -> list[Q.Query]:
    """Scoring terms: BM25 over words (title boosted) plus bigrams, and a proximity bonus."""
    clauses: list[Q.Query] = []
    texts = [*parsed.words, *parsed.phrases]
    for group in parsed.any_of:
        texts.extend(group)
    for text in parsed.title_terms:
        clauses += [Q.Term(F.TITLE, w, boost=TITLE_BOOST) for w in query_words(text)]
        clauses += [Q.Term(F.TITLE_CHARS, g, boost=CHAR_WEIGHT * TITLE_BOOST) for g in char_tokens(text)]
    words: list[str] = []
    for text in texts:
        words.extend(query_words(text) or [])
    for word in dict.fromkeys(words):
        clauses.append(Q.Term(F.BODY, word))
        clauses.append(Q.Term(F.TITLE, word, boost=TITLE_BOOST))
        for sub, _ in subwords(word):
            clauses.append(Q.Term(F.BODY, sub, boost=SUBWORD_WEIGHT))
    grams: list[str] = []
    # Bigrams of the text as typed, across word boundaries and stop words, as a
    # CJK bigram engine would see it.
    for text in [*parsed.chunks, *parsed.phrases]:
        grams.extend(g for g in char_tokens(text) if len(g) > 1 or not _is_han(g))
    for gram in dict.fromkeys(grams):
        clauses.append(Q.Term(F.BODY_CHARS, gram, boost=CHAR_WEIGHT))
        clauses.append(Q.Term(F.TITLE_CHARS, gram, boost=CHAR_WEIGHT * TITLE_BOOST))
    if not grams:
        for text in texts:
            q = _char_phrase(F.BODY_CHARS, text)
            if q is not None:
                clauses.append(q)
    for a, b in zip(parsed.words, parsed.words[1:]):
        clauses.append(Q.Phrase(F.BODY, [a, b], slop=3, boost=PROXIMITY_BOOST))
    return clauses


def any_term_query(ranking: Q.Query, *, fields: tuple[str, ...] | None = None) -> Q.Query:
    """Documents with any single term of the ranking query (positions not read),
    optionally only the terms of some fields."""
    terms = [q for q in ranking.children() if isinstance(q, (Q.Term, Q.Prefix))] if isinstance(ranking, Q.Or) else []
    if fields is not None:
        terms = [q for q in terms if q.fieldname in fields]
    return Q.Or(terms) if terms else Q.NullQuery


def _is_han(text: str) -> bool:
    return all("\u3400" <= c <= "\u9fff" for c in text)


def word_concept(text: str) -> Q.Query:
    """``text`` as jieba words only: the cheap test, tried before the character phrases."""
    words = query_words(text)
    if not words:
        return concept(text)
    if len(words) == 1:
        return Q.Or([Q.Term(F.TITLE, words[0]), Q.Term(F.BODY, words[0])])
    return Q.Or([Q.Phrase(F.TITLE, words, slop=2), Q.Phrase(F.BODY, words, slop=2)])


def strict_query(parsed: ParsedQuery, *, chars: bool = True) -> Q.Query:
    """Every word, phrase and field term must match.

    With ``chars`` a word also matches as contiguous characters inside other
    words (slower: it reads character positions).
    """
    required: list[Q.Query] = [concept(w) if chars else word_concept(w) for w in parsed.words]
    required += [_phrase_required(p) for p in parsed.phrases]
    required += [concept(t, fields=(F.TITLE,)) for t in parsed.title_terms]
    required += [Q.Or([concept(t) for t in group]) for group in parsed.any_of]
    return Q.And(required) if required else Q.NullQuery


def _phrase_required(text: str) -> Q.Query:
    """An exact phrase: the same contiguous characters in the title or the body."""
    clauses = [q for q in (_char_phrase(F.TITLE_CHARS, text), _char_phrase(F.BODY_CHARS, text)) if q is not None]
    return Q.Or(clauses) if clauses else Q.NullQuery


def partial_query(parsed: ParsedQuery, *, single_chars: bool = False) -> Q.Query:
    """Any word, phrase or field term matches (the relaxed query).

    With ``single_chars`` a lone character also matches inside longer words:
    the last resort before answering with nothing.
    """
    parts: list[Q.Query] = [concept(w, single_chars=single_chars) for w in parsed.words]
    parts += [_phrase_required(p) for p in parsed.phrases]
    parts += [concept(t, fields=(F.TITLE,)) for t in parsed.title_terms]
    parts += [concept(t) for group in parsed.any_of for t in group]
    return Q.Or(parts) if parts else Q.NullQuery


def exclusion_query(parsed: ParsedQuery) -> Q.Query | None:
    if not parsed.excluded:
        return None
    return Q.Or([concept(text) for text in parsed.excluded])
