"""A scale corpus for the benchmarks: new articles recombined from the sentences of the CCTV ones.

    python bench/generate.py --generated 1000000 --seed 1 --out FILE.jsonl

``generate(source, n, seed)`` yields ``n`` JSON-lines records in the input
format the indexer reads (``{"id","title","date","source","category"?,"url","text"}``,
as ``cctv-xwlb/articles.jsonl``), deterministic for a seed and a source file.
It streams: it holds the source's sentences (the 29k CCTV articles' 200k
sentences; 122 MB peak RSS for the whole process writing a million articles)
and nothing per generated article, so memory stays flat at any ``n``.

How an article is made (article ``k`` of ``n``, from its own ``random.Random``
seeded by ``(seed, k)``, so any article can be made again on its own):

- its place in time ``p = k / n`` picks a template among the real articles
  around position ``p`` of the (date-ordered) source; the template gives the
  structure: paragraphs and sentences per paragraph, so sentence counts follow
  the real distribution exactly and lengths in characters closely;
- each sentence is a real sentence of a real article within ``WINDOW``
  articles of the template (a day or two of real news: the topics of one period
  stay together); the first one is a real article's first sentence, the
  others never are. The two longest sentences are joined by a comma into one,
  so that an article's longest sentence, which the indexer's reprint key
  (``indexer._build.reprint_key``) is made of, is a pair no other article has:
  otherwise every long source sentence reused in many articles would make
  them look like reprints of each other;
- the title joins the head of one neighbour's title to the tail of another's
  (split at the first comma, colon or space), or is a neighbour's title whole;
- the date runs from ``START`` to ``END`` with ``p`` (records come out in date
  order); the source is the real one or one of ``SYNTHETIC_SOURCES`` (weighted);
  the category is the template's when it has one, else a synthetic one or none;
- ``REPRINT_SHARE`` of the articles are true reprints: the same title and body
  as an earlier generated article (made again from its seed), a new id, its own
  later date and another source.

How it differs from a real archive of the same size (measure with
``python bench/generate.py --vocab``):

- Vocabulary growth (Heaps' law, V ~ K * N^b with b about 0.4-0.6 for news):
  recombined sentences bring no new word, name or number, so the vocabulary
  grows only as the draws cover the source's sentences, more slowly than a
  real archive's, and stops at the source's own (only jieba cuts across a
  comma join can be new). Measured in distinct Han character bigrams:
  generated 10k / 30k / 100k: 199k / 280k / 352k; real 10k: 234k, the whole
  29k: 391k. A real million-article archive has many
  times the 29k articles' vocabulary: new names, places, products, numbers.
  Term dictionaries (``.trm``) and the vocabulary files are therefore too small
  here, postings per term too long.
- Zipf tail: every source word's frequency is multiplied by about ``n / 29k``;
  words seen once in the source are seen ~``n / 29k`` times, so there are
  almost no hapaxes at large ``n``, where a real archive keeps a long tail of
  words seen once (often 40-50 % of its vocabulary). Fewer inlined short
  posting lists, more dense ones.
- Reprints: exactly ``REPRINT_SHARE``, whole and verbatim; real reprints change
  the lead-in, credits and punctuation, and their share varies by outlet.
- Burstiness: topics follow the source's timeline stretched over ``START``..``END``,
  so a story of one real day spreads over several generated days, and the same
  events recur at every ``n`` (more articles make the bursts denser, not new);
  real news has new bursts (a new event, an election, an epidemic) each period.
- One register: every sentence is CCTV 新闻联播 prose whatever the source says.
"""

from __future__ import annotations

import bisect
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

# Bump when the articles made for a seed change: the benchmark caches of generated corpora
# (bench/_common.generated_corpus) are keyed by it, not by this file's text.
VERSION = 1
REAL_SOURCE = "央视网·新闻联播"
# Invented outlets (weights fall as 1/rank, the real one first).
SYNTHETIC_SOURCES = ("合成·华夏日报", "合成·东方晚报", "合成·北方新闻网", "合成·南方通讯社", "合成·西部商报", "合成·环球快讯")
SOURCES = (REAL_SOURCE, *SYNTHETIC_SOURCES)
SOURCE_WEIGHTS = tuple(accumulate(1 / (i + 1) for i in range(len(SOURCES))))
SYNTHETIC_CATEGORIES = ("时政", "经济", "国际", "社会", "科技", "文化", "体育", "地方")
CATEGORY_WEIGHTS = tuple(accumulate((8, 6, 5, 4, 3, 2, 2, 2)))
NO_CATEGORY_SHARE = 0.3  # of the articles whose template has none
REPRINT_SHARE = 0.02
REPRINT_MEAN_LAG = 200  # articles between an original and its reprint, on average (exponential)
WINDOW = 40  # real articles either side of the template that lend sentences and titles
START = date(2016, 1, 1)
END = date(2026, 8, 21)
URL_BASE = "https://generated.invalid/"
_SENTENCE = re.compile(r"[^。！？!?；;]*(?:[。！？!?；;]+[”’」』）)]*|$)")
_TITLE_SPLIT = re.compile(r"[，,：:\s]")
_END_PUNCT = re.compile(r"[。！？!?；;]+([”’」』）)]*)$")
_CLAUSE = re.compile(r"[，。！？!?；;：:\n]")
_LEAD_IN = re.compile(r"^[^，。：:]{0,20}消息（[^）]*）：")
CANDIDATES = 3  # sentences drawn per slot; the one nearest the template's length is kept
BODY_TITLE_SHARE = 0.5  # titles that are a clause of the body; the others come from real titles
TITLE_CHARS = (8, 28)


def _comma_end(sentence: str) -> str:
    """``sentence`` ending in a comma instead of its final punctuation (closing quotes kept)."""
    sentence = sentence.rstrip()
    return _END_PUNCT.sub(r"\1，", sentence) if _END_PUNCT.search(sentence) else sentence + "，"


@dataclass
class Pool:
    """The source's sentences, article by article, and each article's structure."""

    sentences: list[str]
    starts: list[int]  # first sentence of article i (its opener); starts[-1] = len(sentences)
    shapes: list[tuple[int, ...]]  # sentences per paragraph of article i
    titles: list[str]
    categories: list[str | None]

    @property
    def articles(self) -> int:
        return len(self.shapes)


def split_sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE.findall(paragraph) if s.strip()]


def load_pool(source: Path) -> Pool:
    """Read the real articles (JSON lines, date order) into a sentence pool."""
    sentences: list[str] = []
    starts: list[int] = []
    shapes: list[tuple[int, ...]] = []
    titles: list[str] = []
    categories: list[str | None] = []
    with source.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            shape = []
            first = len(sentences)
            for paragraph in (record.get("text") or "").split("\n"):
                parts = split_sentences(paragraph.strip())
                if parts:
                    sentences.extend(parts)
                    shape.append(len(parts))
            if not shape:
                del sentences[first:]
                continue
            starts.append(first)
            shapes.append(tuple(shape))
            titles.append((record.get("title") or "").strip() or sentences[first][:30])
            category = record.get("category")
            categories.append(category.strip() or None if isinstance(category, str) else None)
    starts.append(len(sentences))
    return Pool(sentences, starts, shapes, titles, categories)


class Generator:
    """Article ``k`` of ``n`` for a seed, made on demand from its own random stream."""

    def __init__(self, pool: Pool, n: int, seed: int) -> None:
        self.pool = pool
        self.n = n
        self.seed = seed
        self.days = (END - START).days

    def _rng(self, k: int) -> random.Random:
        return random.Random(self.seed * 10_000_019 + k)  # an int seed: the same stream on every Python

    def is_reprint(self, k: int) -> bool:
        return self._rng(k).random() < REPRINT_SHARE and k > 0

    def original_of(self, k: int) -> int:
        """The article a reprint ``k`` copies (never a reprint itself)."""
        while self.is_reprint(k):
            rng = self._rng(k)
            rng.random()
            k = max(0, k - 1 - int(rng.expovariate(1 / REPRINT_MEAN_LAG)))
        return k

    def _content(self, k: int, rng: random.Random) -> tuple[str, str, str | None, str]:
        """Title, body, category and source of an original article ``k``; ``rng`` is past its reprint draw."""
        pool = self.pool
        m = pool.articles
        centre = min(m - 1, int(k / self.n * m))
        lo, hi = max(0, centre - WINDOW), min(m - 1, centre + WINDOW)
        starts, sentences, draw, span = pool.starts, pool.sentences, rng.random, hi - lo + 1

        def randint(a: int, b: int) -> int:  # rng.randint's range, a third of its cost
            return a + int(draw() * (b - a + 1))

        template = randint(lo, hi)
        t0 = starts[template]
        picked: list[str] = []
        for i in range(starts[template + 1] - t0):
            want = len(sentences[t0 + i])  # the template's own sentence length: the nearest of CANDIDATES
            best = ""
            for _ in range(CANDIDATES):
                j = lo + int(draw() * span)
                a, b = starts[j], starts[j + 1]
                cand = sentences[a] if i == 0 or b - a == 1 else sentences[a + 1 + int(draw() * (b - a - 1))]
                if not best or abs(len(cand) - want) < abs(len(best) - want):
                    best = cand
            picked.append(best)
        if len(picked) >= 2:  # join the two longest: the reprint key's sentence becomes a pair of its own
            x, y = sorted(sorted(range(len(picked)), key=lambda i: len(picked[i]))[-2:])
            picked[y] = _comma_end(picked[x]) + picked[y].lstrip()
            picked[x] = ""
        else:  # one sentence: the head of it up to its last comma, the tail of another after its first
            j = randint(lo, hi)
            other = sentences[randint(starts[j], starts[j + 1] - 1)]
            head, tail = picked[0].rpartition("，")[0], other.partition("，")[2]
            if head and tail:
                picked[0] = f"{head}，{tail}"
        paragraphs, i = [], 0
        for count in pool.shapes[template]:
            text = "".join(picked[i : i + count])
            i += count
            if text:
                paragraphs.append(text)
        body = "\n".join(paragraphs)
        title = ""
        if rng.random() < BODY_TITLE_SHARE:  # a clause of the body, as many outlets title a story
            clauses = [c for c in _CLAUSE.split(_LEAD_IN.sub("", body)) if TITLE_CHARS[0] <= len(c) <= TITLE_CHARS[1]]
            if clauses:
                title = clauses[randint(0, min(2, len(clauses) - 1))]
        if not title:
            head = _TITLE_SPLIT.split(pool.titles[randint(lo, hi)], maxsplit=1)
            tail = _TITLE_SPLIT.split(pool.titles[randint(lo, hi)], maxsplit=1)
            if len(head) == 2 and len(tail) == 2 and head[0] and tail[1]:
                title = f"{head[0]}，{tail[1]}"
            else:
                title = pool.titles[randint(lo, hi)]
        category = pool.categories[template]
        if category is None and rng.random() >= NO_CATEGORY_SHARE:
            category = SYNTHETIC_CATEGORIES[bisect.bisect(CATEGORY_WEIGHTS, rng.random() * CATEGORY_WEIGHTS[-1])]
        source = self._source(rng)
        return title, body, category, source

    @staticmethod
    def _source(rng: random.Random, other_than: str | None = None) -> str:
        while True:
            source = SOURCES[bisect.bisect(SOURCE_WEIGHTS, rng.random() * SOURCE_WEIGHTS[-1])]
            if source != other_than:
                return source

    def _date(self, k: int, rng: random.Random) -> str:
        return (START + timedelta(days=min(self.days, int((k + rng.random()) / self.n * (self.days + 1))))).isoformat()

    def record(self, k: int) -> dict[str, str]:
        """Article ``k`` as a JSON-lines record."""
        rng = self._rng(k)
        reprint = rng.random() < REPRINT_SHARE and k > 0  # the draw comes first for every article
        ident = f"gen{self.seed}-{k:07d}"
        if reprint:
            original = self.original_of(k)
            orng = self._rng(original)
            orng.random()
            title, body, category, source = self._content(original, orng)
            source = self._source(rng, other_than=source)
        else:
            title, body, category, source = self._content(k, rng)
        row = {"id": ident, "title": title, "date": self._date(k, rng), "source": source}
        if category:
            row["category"] = category
        row["url"] = f"{URL_BASE}{ident}.html"
        row["text"] = body
        return row


def generate(source: Path, n: int, seed: int, *, pool: Pool | None = None) -> Iterator[dict[str, str]]:
    """``n`` generated records in date order (see the module docstring)."""
    gen = Generator(pool or load_pool(source), n, seed)
    for k in range(n):
        yield gen.record(k)


def write(source: Path, n: int, seed: int, out: Path, *, pool: Pool | None = None) -> int:
    """Write ``n`` generated articles to ``out`` (JSON lines); return the count."""
    count = 0
    with out.open("w", encoding="utf-8") as f:
        buffer = []
        for row in generate(source, n, seed, pool=pool):
            buffer.append(json.dumps(row, ensure_ascii=False))
            count += 1
            if len(buffer) >= 4096:
                f.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            f.write("\n".join(buffer) + "\n")
    return count
