"""The index schema: every field name lives here.

Word fields (jieba, with positions) and character fields (unigrams and
bigrams, frequencies only) are indexed for the title and the body; a column
holds their normalised text for exact matching; the display title and the body are stored for results,
snippets and the article page.
"""

from __future__ import annotations

from whoosh.columns import VarBytesColumn
from whoosh.fields import COLUMN, DATETIME, ID, STORED, TEXT, Schema
from whoosh.util.numeric import byte_to_length

from indexer.analysis import ChineseAnalyzer, ChineseCharAnalyzer, IndexFrequency, IndexPositions

SCHEMA_VERSION = 3  # 3: postings in indexer.postings form, position lists as varint gaps

ID_FIELD = "id"
TITLE = "title"
TITLE_CHARS = "title_chars"
BODY = "body"
BODY_CHARS = "body_chars"
HEADLINE = "headline"
PUBLISHED = "published"
# The raw value of the ``PUBLISHED`` column for an undated article (Whoosh's
# DATETIME default: the largest unsigned 64-bit number).
NO_DATE = 2**64 - 1
YEAR = "year"
SOURCE = "source"
CATEGORY = "category"
URL = "url"
AUTHOR = "author"
EDITOR = "editor"
ORIGINAL_TITLE = "original_title"
TITLE_DERIVED = "title_derived"
ORIGIN = "origin"
CONTENT_HASH = "content_hash"
DUP_KEY = "dup_key"
# The normalised title and body that exact matching checks (indexer.matchtext.match_text).
MATCH_TEXT = "match_text"

# BM25's term-frequency saturation and length normalisation, for both backends (the Xapian
# shards are written with b applied, ``indexer.xapianformat``): Trotman et al.'s defaults
# (Improvements to BM25 and Language Models Examined, ADCS 2014: k1 0.9, b 0.4, from TREC
# collections, news among them; Anserini's and PISA's defaults), not Robertson's 1.2 / 0.75.
BM25_K1 = 0.9
BM25_B = 0.4


def stored_length(code: int) -> float:
    """A field length as BM25 reads it from Whoosh's one byte a document (``length_to_byte``);
    0, a field the document lacks, reads as 1."""
    return float(byte_to_length(code)) if code else 1.0

WORD_FIELDS = (TITLE, BODY)
CHAR_FIELDS = (TITLE_CHARS, BODY_CHARS)
FACET_FIELDS = (SOURCE, YEAR, CATEGORY)


def _text(analyzer: ChineseAnalyzer, *, stored: bool = False) -> TEXT:
    field = TEXT(analyzer=analyzer, stored=stored, phrase=True)
    field.format = IndexPositions(field_boost=field.format.field_boost)
    return field


def _grams(analyzer: ChineseCharAnalyzer) -> TEXT:
    field = TEXT(analyzer=analyzer, phrase=False)
    field.format = IndexFrequency(field_boost=field.format.field_boost)
    return field


def build_schema() -> Schema:
    words = ChineseAnalyzer()
    chars = ChineseCharAnalyzer()
    return Schema(
        **{
            ID_FIELD: ID(stored=True, unique=True),
            TITLE: _text(words),
            TITLE_CHARS: _grams(chars),
            BODY: _text(words, stored=True),
            BODY_CHARS: _grams(chars),
            HEADLINE: STORED(),
            PUBLISHED: DATETIME(stored=True, sortable=True),
            YEAR: ID(stored=True, sortable=True),
            SOURCE: ID(stored=True, sortable=True),
            CATEGORY: ID(stored=True, sortable=True),
            URL: STORED(),
            AUTHOR: STORED(),
            EDITOR: STORED(),
            ORIGINAL_TITLE: STORED(),
            TITLE_DERIVED: STORED(),
            ORIGIN: STORED(),
            CONTENT_HASH: ID(stored=True),
            DUP_KEY: ID(stored=True, sortable=True),
            MATCH_TEXT: COLUMN(VarBytesColumn()),
        }
    )
