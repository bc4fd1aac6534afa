"""A generated corpus of Chinese news articles, and the brute-force truth tests compare search with.

Every article is written by code from the word lists below (no third-party
text), seeded, so the same seed gives the same articles on every machine. The
corpus holds what the search tests need to exist somewhere:

- titles, bodies of several paragraphs, urls, dates over ``YEARS`` (a few undated),
  several ``SOURCES`` and ``CATEGORIES`` (a few articles without one);
- true reprints: the same title and text again under other ids and sources;
- articles written in Traditional characters (``TRADITIONAL``);
- single Han characters inside longer words (哈 of 齐齐哈尔 and 哈尔滨);
- the ``PHRASES`` both contiguous (对口合作) and split (对口 … 合作) in other articles.

``Truth`` answers what an exact search must count by scanning every article's
title and body in the project's normal form (``indexer.matchtext.normal_form``).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.matchtext import normal_form

SEED = 20240601
COUNT = 1200  # more than search()'s 1,000 pages of one hit each, so paging reaches its cap

CITIES = ("齐齐哈尔", "哈尔滨", "牡丹江", "佳木斯", "广州", "东莞", "深圳", "大连", "厦门", "成都", "西安", "兰州")
WORDS = tuple(
    "经济 合作 发展 装备 制造 对口 企业 项目 投资 市场 农业 科技 教育 医疗 交通 铁路 港口 能源 电力 文化 旅游 体育 "
    "创新 人才 服务 社区 乡村 振兴 工业 数字 数据 安全 生态 森林 湿地 冬季 游客 学生 学校 医院 冷链 物流 列车 高速 "
    "机场 口岸 贸易 出口 粮食 大豆 玉米 水稻 丰收 气温 订单 增长 机床 车间 工人 产品 技术 园区 平台 签约 会议 居民 "
    "供暖 冰雪 码头 航线 书店 博物馆 图书馆 志愿者 快递 电商 直播 种子 牧场 果园 茶叶 海鲜 渔船 风电 光伏 储能".split()
)
LINKS = ("的", "与", "和", "在", "推进", "加快", "带动", "服务")
SOURCES = ("北岭日报", "南江晚报", "东海新闻网", "西原广播", "中州通讯")
CATEGORIES = ("经济", "科技", "社会", "文化", "体育")
YEARS = tuple(range(2018, 2025))
PHRASES = ("对口合作", "装备制造", "冷链物流")
# Simplified word -> its Traditional form; Traditional articles are written from these alone.
TRADITIONAL = {
    "齐齐哈尔": "齊齊哈爾", "哈尔滨": "哈爾濱", "广州": "廣州", "东莞": "東莞", "经济": "經濟", "发展": "發展",
    "合作": "合作", "会议": "會議", "铁路": "鐵路", "农业": "農業", "医疗": "醫療", "机场": "機場", "贸易": "貿易",
    "学校": "學校", "对口": "對口", "装备": "裝備", "企业": "企業", "项目": "項目", "投资": "投資",
    "市场": "市場", "交通": "交通", "电力": "電力", "旅游": "旅遊", "创新": "創新", "服务": "服務",
    "冷链": "冷鏈", "列车": "列車", "粮食": "糧食", "丰收": "豐收", "订单": "訂單", "增长": "增長", "车间": "車間",
}
TRADITIONAL_LINKS = ("的", "與", "和", "在", "推進", "加快")


def _sentence(rng: random.Random, city: str, words: tuple[str, ...], links: tuple[str, ...]) -> str:
    parts = [city]
    for _ in range(rng.randint(5, 10)):
        parts.append(rng.choice(words))
        if rng.random() < 0.35:
            parts.append(rng.choice(links))
    return "".join(parts) + rng.choice("，。。。")


def _paragraph(rng: random.Random, city: str, words: tuple[str, ...], links: tuple[str, ...]) -> str:
    text = "".join(_sentence(rng, city, words, links) for _ in range(rng.randint(2, 4)))
    return f"{city}的{text[len(city):-1]}。"  # every paragraph holds 的: a text in every article


def _date(rng: random.Random) -> str:
    return f"{rng.choice(YEARS)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _article(rng: random.Random, i: int) -> dict[str, Any]:
    traditional = i % 20 == 7
    if traditional:
        words = tuple(v for k, v in TRADITIONAL.items() if k not in CITIES)
        city = TRADITIONAL[rng.choice(("齐齐哈尔", "哈尔滨", "广州", "东莞"))]
        links = TRADITIONAL_LINKS
    else:
        words, city, links = WORDS, rng.choice(CITIES), LINKS
    paragraphs = [_paragraph(rng, city, words, links) for _ in range(rng.randint(2, 5))]
    if not traditional and rng.random() < 0.3:  # a phrase, contiguous or split by other words
        phrase = rng.choice(PHRASES)
        head, tail = phrase[:2], phrase[2:]
        inserted = phrase if rng.random() < 0.5 else f"{head}{rng.choice(WORDS)}{rng.choice(WORDS)}{tail}"
        at = rng.randrange(len(paragraphs))
        paragraphs[at] = f"{city}{inserted}{rng.choice(WORDS)}，{paragraphs[at]}"
    record: dict[str, Any] = {
        "id": f"gen-{i:04d}",
        "title": city + "".join(rng.choice(words) for _ in range(rng.randint(2, 3))),
        "text": "\n".join(paragraphs),
        "source": rng.choice(SOURCES),
        "url": f"https://news.example.org/articles/generated/{i:04d}/index.shtml",
    }
    if i % 50 != 3:
        record["date"] = _date(rng)
    if i % 9:
        record["category"] = rng.choice(CATEGORIES)
    return record


def generate(count: int = COUNT, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` articles (ids ``gen-0000``…) and the reprints of every 37th (ids ``gen-NNNN-rK``)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        record = _article(rng, i)
        out.append(record)
        if i % 37 == 5:
            for k in range(1, rng.randint(1, 2) + 1):
                others = [s for s in SOURCES if s != record["source"]]
                out.append({**record, "id": f"{record['id']}-r{k}", "source": rng.choice(others)})
    return out


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


@dataclass(frozen=True)
class TruthArticle:
    id: str
    title: str  # as written; "" when the article has no title of its own
    body: str
    year: str | None
    date: str | None
    source: str | None
    category: str | None

    @property
    def norm_title(self) -> str:
        return normal_form(self.title)

    @property
    def norm_body(self) -> str:
        return normal_form(self.body)


_HAS_TEXT = re.compile(r"[^\W_]")


class Truth:
    """Brute force over every article: which hold a text, as exact search must count them."""

    def __init__(self, articles: Iterable[TruthArticle]) -> None:
        self.articles = {a.id: a for a in articles}
        self._norm = {a.id: (a.norm_title, a.norm_body) for a in self.articles.values()}

    def holding(self, text: str, *, within: Iterable[str] | None = None, title_only: bool = False) -> set[str]:
        needle = normal_form(text)
        assert _HAS_TEXT.search(needle), text
        ids = self._norm if within is None else within
        return {i for i in ids if needle in self._norm[i][0] or (not title_only and needle in self._norm[i][1])}

    def holding_all(self, *texts: str) -> set[str]:
        found = set(self._norm)
        for text in texts:
            found = self.holding(text, within=found)
        return found

    def raw_holding(self, text: str) -> set[str]:
        """Without normalising: the articles whose title or body holds ``text`` as written."""
        return {i for i, a in self.articles.items() if text in a.title or text in a.body}

    def years(self, ids: Iterable[str]) -> Counter[str]:
        return Counter(y for i in ids if (y := self.articles[i].year) is not None)

    def with_source(self, source: str) -> set[str]:
        return {i for i, a in self.articles.items() if a.source == source}


def from_records(records: Iterable[dict[str, Any]]) -> list[TruthArticle]:
    return [TruthArticle(r["id"], r["title"], r["text"], r["date"][:4] if r.get("date") else None, r.get("date"),
                         r.get("source"), r.get("category")) for r in records]


def from_articles(articles: Iterable[Any]) -> list[TruthArticle]:
    """``indexer.Article`` objects (the shipped sample, as the project reads it)."""
    out = []
    for a in articles:
        title = "" if a.title_derived else "\n".join(t for t in (a.title, a.original_title) if t)
        date = a.published.date().isoformat() if a.published else None
        out.append(TruthArticle(a.id, title, a.body, date[:4] if date else None, date, a.source, a.category))
    return out
