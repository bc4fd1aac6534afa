"""Hostile queries: arbitrary Unicode, query-syntax fragments and huge inputs at ``search()``,
``suggest()`` and every web route. Nothing but a ``SearchError`` escapes the library; the web never answers 500.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import search
from indexer import build_index
from search import SearchError, SearchResults
from tests.test_faults import SOURCES, corpus, write_jsonl
from web import create_app


def fuzz(examples: int) -> settings:
    """``examples`` random cases, no deadline (the first query loads jieba), no example database on disk."""
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


SYNTAX = ['"', "(", ")", ":", "-", "OR", "AND", "NOT", "*", "?", "title:", "source:", "^", "~", "标题：", "来源:", "：",
          "\\", "/", "[", "]", "{", "}", "+", "!", "&&", "||", "'", "<", ">", "%", "~2", "^3", "*:*", "title:(",
          'source:"', '""', "--", '-"', "\u3000", "\ufeff", "\u202e", "\x00", "\n", "\t", "&", "#", "=", ";"]
WORDS = ["经济", "合作", "哈尔滨", "齐齐哈尔", "冷链", "5G", "qiqihaer", "hz", "ha", "COVID-19", "a0001", "央视网", "2024",
         "經濟", "ＡＢＣ", "🙂"]
ODD_IDS = ["news/2024/a b.txt", "../../etc/passwd", "/lead/slash", "中文:#编号?", "100%", "a\\b", "x" * 300]

# Any code point, now and then a lone surrogate.
ANY_CHAR = st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]))
HAN = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=4)
PIECES = st.one_of(st.sampled_from(SYNTAX), st.sampled_from(WORDS), HAN, st.text(max_size=6))
SYNTAX_QUERIES = st.lists(PIECES, max_size=16).flatmap(lambda parts: st.sampled_from([" ".join(parts), "".join(parts)]))
HUGE = st.builds(lambda piece, times: piece * times,
                 st.one_of(st.sampled_from(SYNTAX + WORDS), st.text(min_size=1, max_size=5)), st.integers(200, 20_000))
QUERIES = st.one_of(st.text(ANY_CHAR, max_size=300), SYNTAX_QUERIES, HUGE)
ODD_TEXT = st.one_of(st.none(), st.text(ANY_CHAR, max_size=12), st.sampled_from([*SOURCES, "经济", "2024", ""]))
DATES = st.one_of(st.none(), st.dates(), st.datetimes(), st.text(max_size=12),
                  st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8))])),
                  st.sampled_from(["2024-02-30", "2024-01-01", "0000-00-00", "9999-12-31", "2024-01-01T25:00"]))
SEARCH_OPTIONS = st.fixed_dictionaries({}, optional={
    "page": st.one_of(st.integers(1, 5), st.integers(-3, 1005), st.sampled_from(["2", "x", "", None, 1.5])),
    "per_page": st.one_of(st.integers(1, 100), st.integers(-3, 150), st.sampled_from(["10", "x", ""])),
    "sort": st.one_of(st.sampled_from(["relevance", "date", "", "bogus", "DATE"]), st.text(max_size=5)),
    "source": ODD_TEXT, "category": ODD_TEXT,
    "year": st.one_of(ODD_TEXT, st.integers(-5, 3000)),
    "date_from": DATES, "date_to": DATES,
})


@pytest.fixture(scope="module")
def fuzz_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fuzz")
    records: list[dict[str, Any]] = corpus(60, seed=21)
    for n, odd in enumerate(ODD_IDS):
        records.append({"id": odd, "title": f'标题{n} "引号" (括号) title: OR -减号', "source": f'来源"{n}',
                        "category": "<b>类</b>", "date": "2024-02-30" if n % 2 else "2021-06-01",
                        "text": f"哈尔滨经济合作第{n}篇：特殊字符 * ? ^ ~ 与正文。"})
    build_index([write_jsonl(work / "articles.jsonl", records)], index_dir=work / "index", procs=1)
    return work / "index"


@pytest.fixture(scope="module")
def client(fuzz_index: Path) -> FlaskClient:
    return create_app({"INDEX_DIR": fuzz_index}).test_client()


def check_results(res: SearchResults) -> None:
    event("results with hits" if res.hits else "results, no hits")
    assert isinstance(res, SearchResults)
    assert res.total >= 0 and len(res.hits) <= res.per_page
    assert all(isinstance(h.id, str) and isinstance(h.snippet, str) for h in res.hits)


# ---- the library ----------------------------------------------------------------------------------


@fuzz(500)
@given(q=st.one_of(SYNTAX_QUERIES, QUERIES))
@example(q="齐" * 1_000_000)
@example(q='title:"(OR AND NOT)" source:" -"-"' * 50)
@example(q="\ud800\udfff\x00")
def test_fuzz_any_query_text_never_raises(fuzz_index: Path, q: str) -> None:
    """Whatever a user types, with default options, is a search, never an error."""
    check_results(search.search(q, index_dir=fuzz_index))


@fuzz(500)
@given(q=st.one_of(SYNTAX_QUERIES, QUERIES), options=SEARCH_OPTIONS)
def test_fuzz_search_options_raise_only_search_errors(fuzz_index: Path, q: str, options: dict[str, Any]) -> None:
    try:
        res = search.search(q, index_dir=fuzz_index, **options)
    except SearchError as exc:
        event(f"raised {type(exc).__name__}")
        return
    check_results(res)


@fuzz(400)
@given(prefix=st.one_of(QUERIES, PIECES, st.sampled_from(["哈", "经", "合作", "ha", "jj", "hz", "qi", "齐齐", "JingJi"])),
       limit=st.integers(1, 50))
@example(prefix="ha" * 100_000, limit=8)
def test_fuzz_suggest_never_raises(fuzz_index: Path, prefix: str, limit: int) -> None:
    found = search.suggest(prefix, limit=limit, index_dir=fuzz_index)
    event("completions" if found else "no completions")
    assert isinstance(found, tuple) and len(found) <= limit and all(isinstance(s, str) for s in found)


@fuzz(200)
@given(prefix=st.one_of(QUERIES, st.integers(), st.none()),
       limit=st.one_of(st.integers(-10, 100), st.sampled_from(["8", "x", None, 2.5])))
def test_fuzz_suggest_bad_arguments_raise_only_search_errors(fuzz_index: Path, prefix: Any, limit: Any) -> None:
    try:
        found = search.suggest(prefix, limit=limit, index_dir=fuzz_index)
    except SearchError as exc:
        event(f"raised {type(exc).__name__}")
        return
    assert isinstance(found, tuple) and all(isinstance(s, str) for s in found)


# ---- the web --------------------------------------------------------------------------------------

PARAM_NAMES = ["q", "page", "per_page", "sort", "source", "category", "year", "date_from", "date_to", "format"]
WEB_TEXT = st.one_of(st.text(max_size=40), SYNTAX_QUERIES, SYNTAX_QUERIES, HUGE,
                     st.sampled_from(["opensearch", "date", "2", "-1", "0"]))
RAW_TAILS = st.sampled_from(["", "&q=%", "&q=%zz", "&q=%ff%fe", "&q=%ed%a0%80", "&page=%00", "&q", "&&&", "&q=a&q=b",
                             "&per_page=%EF%BC%92", "&sort=", "&year=%E5%B9%B4"])


def assert_not_500(response: Any, url: str) -> None:
    event(f"status {response.status_code}")
    if response.status_code == 302 and "/api/" not in url.split("?")[0]:
        # The page sends a page past the last to the last page (or 在结果中搜索 to its query): same route.
        assert response.headers["Location"].startswith(url.split("?")[0].rstrip("/") + "/"), (url, response.headers["Location"])
        return
    assert response.status_code in (200, 400, 404), (url, response.status_code, response.get_data(as_text=True)[:300])
    if "/api/" in url.split("?")[0]:
        data = response.get_json()
        assert data is not None, url
        if response.status_code != 200:
            assert data == {"ok": False, "error": data["error"], "status": response.status_code}, url


@fuzz(400)
@given(route=st.sampled_from(["/", "/api/search", "/api/suggest"]),
       params=st.dictionaries(st.sampled_from(PARAM_NAMES), WEB_TEXT, max_size=5), tail=RAW_TAILS)
@example(route="/api/search", params={"q": '"((( title: OR', "page": "1001"}, tail="")
@example(route="/", params={"q": "齐" * 200, "sort": "date", "year": "0"}, tail="")
def test_fuzz_search_routes_never_answer_500(client: FlaskClient, route: str, params: dict[str, str],
                                             tail: str) -> None:
    url = f"{route}?{urlencode(params)}{tail}"
    with client.get(url) as response:
        assert_not_500(response, url)


@fuzz(400)
@given(route=st.sampled_from(["/article/", "/api/article/"]),
       article_id=st.one_of(st.sampled_from(ODD_IDS + ["a0001", "a0059"]), st.text(min_size=1, max_size=60)),
       q=st.one_of(st.none(), WEB_TEXT), safe=st.sampled_from(["", "/", "/:#?"]))
@example(route="/article/", article_id="..", q=None, safe="/")
@example(route="/api/article/", article_id="a0001", q='"(title:', safe="")
def test_fuzz_article_routes_never_answer_500(client: FlaskClient, route: str, article_id: str, q: str | None,
                                              safe: str) -> None:
    url = route + quote(article_id, safe=safe) + ("?" + urlencode({"q": q}) if q is not None else "")
    with client.get(url) as response:
        assert_not_500(response, url)
        if article_id in ODD_IDS[:4] and safe == "" and response.status_code != 200:
            pytest.fail(f"{url}: an indexed article answered {response.status_code}")
