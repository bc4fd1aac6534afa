"""The Flask layer: every route, the JSON envelope, escaping, headers, errors and the CLI.

Most tests run on a tiny index built here from a JSONL file whose articles carry
awkward ids and script payloads; a few on the sample and on the session's ``own_corpus``.
Those about search results and articles run on both backends (``client``: the Whoosh
folder, or the same articles in two Xapian shards served on loopback); those about what
comes before or beside a search (forms, headers, static files, argument errors, the CLI)
on the local one (``local_client``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

import search as engine
import web
from indexer import build_index
from tests.conftest import BACKENDS, OwnCorpus, on_backend
from web import _cli, create_app

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
SVG = "x\"><svg onload=alert(1)>"
REPRINT_BODY = "经济合作持续推进，两地企业签约项目总数已经超过一百个，覆盖装备制造和农产品加工等领域。"
ARTICLES: list[dict[str, Any]] = [
    {"id": "news/2024/a b.txt", "title": f"齐齐哈尔 {SCRIPT} 对口合作", "date": "2024-05-01",
     "text": f"齐齐哈尔与广州开展对口合作。\n{ATTRIBUTE}第二段落也谈合作。", "source": "<b>源</b>",
     "category": SVG, "url": "javascript:alert(1)"},
    {"id": "xwlb-20220101-00", "title": "广州5G基站建设加快", "date": "2022-01-01", "source": "央视网",
     "category": "科技", "url": "https://tv.cctv.com/2022/01/01/x.shtml", "text": "广州5G基站建设加快，合作共赢。"},
    {"id": "中文:#编号", "title": "两地经济合作新闻", "date": "2023-03-01", "source": "央视网", "category": "经济",
     "text": REPRINT_BODY},
    {"id": "reprint-1", "title": "转载：两地经济合作", "date": "2023-03-02", "source": "转载网", "category": "经济",
     "text": REPRINT_BODY},
    {"id": "../../etc/passwd", "title": "点点斜杠编号的合作文章", "date": "2021-06-01", "source": "测试源",
     "text": "这是一篇编号里有点点斜杠的合作文章。"},
    {"id": "/lead/slash", "title": "斜杠开头编号的合作文章", "date": "2021-07-01", "source": "测试源",
     "text": "这是一篇编号以斜杠开头的合作文章。"},
]
ODD_IDS = ["news/2024/a b.txt", "xwlb-20220101-00", "中文:#编号", "../../etc/passwd", "/lead/slash"]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("web-src") / "articles.jsonl", ARTICLES)


@pytest.fixture(scope="module")
def tiny_index(tiny_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("web-index")
    build_index([tiny_source], index_dir=target, procs=1)
    return target


@pytest.fixture(scope="module")
def tiny_shards(tiny_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with on_backend("xapian", [tiny_source], tmp_path_factory.mktemp("web-shards")) as location:
        yield str(location)


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest) -> Flask:
    return create_app({"INDEX_DIR": request.getfixturevalue("tiny_index" if request.param == "whoosh" else "tiny_shards")})


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def local_client(tiny_index: Path) -> FlaskClient:
    return create_app({"INDEX_DIR": tiny_index}).test_client()


@pytest.fixture()
def missing_client(tmp_path: Path) -> FlaskClient:
    return create_app({"INDEX_DIR": tmp_path / "no-index-here"}).test_client()


def html_of(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def api(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    return response.get_json()


def article_links(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="(/article/[^"]+)"', html)]


# ---- the package ----------------------------------------------------------------------------------


def test_package_exports_create_app() -> None:
    assert web.__all__ == ["create_app"]
    assert isinstance(create_app(), Flask)


def test_web_never_imports_whoosh() -> None:
    for path in Path(web.__file__).parent.glob("*.py"):
        source = path.read_text("utf-8")
        assert not re.search(r"^\s*(from|import)\s+whoosh", source, re.M), path
        assert not re.search(r"^\s*from\s+indexer(\.\w+)?\s+import\s+(?!settings\b)", source, re.M), path


def test_config_defaults_and_overrides(tiny_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHSEARCH_INDEX_DIR", str(tiny_index))
    app = create_app()
    assert Path(app.config["INDEX_DIR"]) == tiny_index
    assert app.config["MAX_QUERY_CHARS"] == 200
    assert app.config["PER_PAGE"] == 10
    assert create_app({"PER_PAGE": 3}).config["PER_PAGE"] == 3


# ---- the search page -----------------------------------------------------------------------------


def test_home_page_has_a_plain_get_form(local_client: FlaskClient) -> None:
    html = html_of(local_client, "/")
    form = re.search(r"<form[^>]*>", html).group(0)  # type: ignore[union-attr]
    assert 'method="get"' in form and 'action="/"' in form
    box = re.search(r"<input id=\"q\"[^>]*>", html, re.S).group(0)  # type: ignore[union-attr]
    assert 'name="q"' in box and "autofocus" in box and 'role="combobox"' in box
    assert 'aria-controls="q-suggestions"' in box and 'aria-expanded="false"' in box
    assert '<label class="visually-hidden" for="q">' in html
    assert 'role="listbox"' in html
    assert '<link rel="alternate" type="application/json" href="/api/search">' in html
    assert 'rel="search" type="application/opensearchdescription+xml"' in html


def test_results_are_highlighted_with_count_time_source_and_date(client: FlaskClient) -> None:
    html = html_of(client, "/?q=合作")
    assert 'value="合作"' in html
    assert "<mark>合作</mark>" in html
    assert re.search(r"<strong>\d+</strong> 篇包含全部检索词", html)
    assert re.search(r"（\d+\.\d\d 秒）", html)
    assert "央视网" in html and '<time datetime="2022-01-01">2022-01-01</time>' in html
    assert 'class="understood"' in html and '<span class="term">合作</span>' in html


def test_results_link_their_json_twin(local_client: FlaskClient) -> None:
    html = html_of(local_client, "/?q=合作&sort=date")
    twin = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">', html).group(1)  # type: ignore[union-attr]
    assert twin.startswith("/api/search?") and "sort=date" in twin
    assert f'class="json-link" href="{twin}"' in html
    assert api(local_client, twin.replace("&amp;", "&"))["ok"] is True


def test_reprints_are_counted_once(client: FlaskClient) -> None:
    data = api(client, "/api/search?q=两地经济合作")
    ids = [hit["id"] for hit in data["hits"]]
    assert len({"中文:#编号", "reprint-1"} & set(ids)) == 1
    assert "另有 1 篇相似转载" in html_of(client, "/?q=两地经济合作")


def test_pagination_links_pages(client: FlaskClient) -> None:
    first = html_of(client, "/?q=合作&per_page=2")
    assert 'aria-label="分页"' in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert 'href="/?q=%E5%90%88%E4%BD%9C&amp;per_page=2&amp;page=2"' in first
    second = html_of(client, "/?q=合作&per_page=2&page=2")
    assert 'rel="prev"' in second and '<span class="pager-page current" aria-current="page">2</span>' in second
    assert set(article_links(first)).isdisjoint(article_links(second))


def test_page_past_the_end_goes_to_the_last_page(client: FlaskClient) -> None:
    pages = api(client, "/api/search?q=合作&per_page=2")["pages"]
    assert pages > 1
    response = client.get("/?q=合作&per_page=2&page=50")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/?q=%E5%90%88%E4%BD%9C&per_page=2&page={pages}"
    html = html_of(client, response.headers["Location"])
    assert f"第 {pages}/{pages} 页" in html and 'rel="next"' not in html
    assert client.get("/?q=合作&page=50").headers["Location"] == "/?q=%E5%90%88%E4%BD%9C"
    assert client.get("/?category=没有的栏目&page=3").headers["Location"] == "/?category=%E6%B2%A1%E6%9C%89%E7%9A%84%E6%A0%8F%E7%9B%AE"


def test_facets_are_filter_links(client: FlaskClient) -> None:
    html = html_of(client, "/?q=合作")
    for name in ("source", "year", "category"):
        assert re.search(rf'class="facet-link" href="/\?q=[^"]*&amp;{name}=', html), name
    filtered = html_of(client, "/?q=合作&year=2022")
    assert article_links(filtered) == ["/article/xwlb-20220101-00?q=%E5%90%88%E4%BD%9C"]
    assert 'class="facet-link active" aria-current="true" href="/?q=%E5%90%88%E4%BD%9C"' in filtered
    assert 'class="chip" href="/?q=%E5%90%88%E4%BD%9C"' in filtered


def test_filters_without_query_browse_by_date(client: FlaskClient) -> None:
    data = api(client, "/api/search?source=央视网")
    assert data["total"] == 2 and data["sort"] == "date"
    assert "class=\"hits\"" in html_of(client, "/?source=央视网")


def test_sort_by_date(client: FlaskClient) -> None:
    data = api(client, "/api/search?q=合作&sort=date")
    dates = [hit["published"] for hit in data["hits"]]
    assert dates == sorted(dates, reverse=True)
    html = html_of(client, "/?q=合作&sort=date")
    assert '<span class="sort-option active" aria-current="true">按时间</span>' in html
    assert '<input type="hidden" name="sort" value="date">' in html


def test_a_query_matching_nothing_shows_its_correction_with_a_way_back(client: FlaskClient) -> None:
    html = html_of(client, "/?q=qiqihaer")
    assert 'class="did-you-mean corrected"' in html and "以下为您显示“" in html
    assert '<a href="/?q=%E9%BD%90%E9%BD%90%E5%93%88%E5%B0%94">齐齐哈尔</a>' in html
    back = re.search(r'仍然搜索：<a href="([^"]+)">qiqihaer</a>', html)
    assert back and "nofix=1" in back.group(1)
    html = html_of(client, back.group(1).replace("&amp;", "&"))
    assert "以下为您显示" not in html and 'value="qiqihaer"' in html


def test_relaxed_query_is_explained(client: FlaskClient) -> None:
    html = html_of(client, "/?q=齐齐哈尔 5G")
    assert 'class="notice relaxed"' in html and "没有文章同时包含全部检索词" in html


def test_excluded_words_are_shown(client: FlaskClient) -> None:
    html = html_of(client, "/?q=齐齐哈尔 -广州")
    assert '<span class="term excluded">广州</span>' in html


def test_empty_result_is_helpful(client: FlaskClient) -> None:
    html = html_of(client, "/?q=完全不存在的词语组合&year=2022")
    assert "没有找到包含“完全不存在的词语组合”的文章" in html
    assert "去掉全部筛选条件" in html


# ---- the article page ----------------------------------------------------------------------------


@pytest.mark.parametrize("article_id", ODD_IDS)
def test_article_ids_of_any_shape_round_trip(client: FlaskClient, app: Flask, article_id: str) -> None:
    with app.test_request_context():
        from flask import url_for

        url = url_for("web.article", article_id=article_id)
    assert "/./" not in url and "/../" not in url
    html = html_of(client, url)
    assert "article-title" in html
    assert api(client, "/api" + url)["article"]["id"] == article_id


def test_every_result_link_opens_its_article(client: FlaskClient) -> None:
    links = article_links(html_of(client, "/?q=合作&per_page=20"))
    assert len(links) >= 5
    for link in links:
        assert client.get(link).status_code == 200, link


def test_article_page_highlights_and_shows_metadata(client: FlaskClient) -> None:
    html = html_of(client, "/article/xwlb-20220101-00?q=5G")
    assert '<h1 class="article-title">广州<mark>5G</mark>基站建设加快</h1>' in html
    assert "<p>广州<mark>5G</mark>基站建设加快，合作共赢。</p>" in html
    assert "<dt>来源</dt><dd>央视网</dd>" in html and "<dt>栏目</dt><dd>科技</dd>" in html
    assert 'href="https://tv.cctv.com/2022/01/01/x.shtml" rel="noopener noreferrer nofollow"' in html
    assert 'class="back"' in html and 'href="/?q=5G"' in html
    assert '<link rel="alternate" type="application/json" href="/api/article/xwlb-20220101-00?q=5G">' in html


def test_article_page_without_query_has_no_marks(client: FlaskClient) -> None:
    html = html_of(client, "/article/xwlb-20220101-00")
    assert "<mark>" not in html and 'class="back"' not in html


def test_article_page_lists_related_articles(client: FlaskClient) -> None:
    html = html_of(client, "/article/" + quote("中文:#编号"))
    related = re.search(r'<ol class="related-list">(.*?)</ol>', html, re.S)
    assert related and "/article/" in related.group(1)
    data = api(client, "/api/article/" + quote("中文:#编号"))
    assert data["ok"] is True and data["related"]
    assert "reprint-1" not in [hit["id"] for hit in data["related"]]


# ---- the JSON API --------------------------------------------------------------------------------


def test_api_search_envelope(client: FlaskClient) -> None:
    data = api(client, "/api/search?q=合作&per_page=2")
    assert list(data)[:1] == ["ok"] and data["ok"] is True
    assert {"query", "total", "page", "pages", "hits", "facets", "suggestion", "query_info", "took_ms"} <= set(data)
    assert data["query"] == "合作" and data["page"] == 1 and data["pages"] == -(-data["total"] // 2)
    assert len(data["hits"]) == 2
    assert {"id", "title", "title_html", "snippet", "source", "published", "duplicates"} <= set(data["hits"][0])
    assert {f["value"] for f in data["facets"]["year"]} >= {"2022", "2024"}
    assert data["query_info"]["words"] == ["合作"]
    assert isinstance(data["took_ms"], float)


def test_api_search_blank_query(client: FlaskClient) -> None:
    data = api(client, "/api/search")
    assert data["ok"] is True and data["total"] == 0 and data["hits"] == []


@pytest.mark.parametrize("prefix", ["合", "hezuo", "hz"])
def test_api_suggest_completes_chinese_and_pinyin(client: FlaskClient, prefix: str) -> None:
    data = api(client, "/api/suggest?q=" + quote(prefix))
    assert data == {"ok": True, "query": prefix, "suggestions": data["suggestions"]}
    assert "合作" in data["suggestions"] and len(data["suggestions"]) <= 8


def test_api_suggest_blank_and_opensearch_shape(client: FlaskClient) -> None:
    assert api(client, "/api/suggest")["suggestions"] == []
    assert api(client, "/api/suggest?q=hezuo&format=opensearch")[0] == "hezuo"


def test_opensearch_description(local_client: FlaskClient) -> None:
    response = local_client.get("/opensearch.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/opensearchdescription+xml"
    body = response.get_data(as_text=True)
    assert 'template="http://localhost/?q={searchTerms}"' in body
    assert 'type="application/x-suggestions+json"' in body
    assert "/api/suggest?format=opensearch&amp;q={searchTerms}" in body


def test_static_files_are_local(local_client: FlaskClient) -> None:
    html = html_of(local_client, "/?q=合作")
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    for name in ("app.css", "app.js", "favicon.svg"):
        with local_client.get(f"/static/{name}") as response:
            assert response.status_code == 200
    with local_client.get("/static/app.css") as response:
        css = response.get_data(as_text=True)
    assert '"PingFang SC","Hiragino Sans GB","Noto Sans CJK SC"'.replace(",", ", ") in css
    assert "mark {" in css and "@import" not in css and "url(http" not in css


# ---- safety --------------------------------------------------------------------------------------

PAYLOADS = [SCRIPT, ATTRIBUTE, "<img src=x", "<svg onload", "<b>源</b>", "onerror=alert(1)>"]


def assert_no_payload(html: str) -> None:
    for payload in PAYLOADS:
        assert payload not in html, payload
    assert "javascript:" not in html


@pytest.mark.parametrize("query", [SCRIPT, ATTRIBUTE, "合作 " + SCRIPT, '"' + ATTRIBUTE])
def test_query_payloads_are_escaped(client: FlaskClient, query: str) -> None:
    for url in ("/?q=", "/article/xwlb-20220101-00?q="):
        html = html_of(client, url + quote(query))
        assert_no_payload(html)
        assert "&lt;" in html


def test_indexed_payloads_are_escaped(client: FlaskClient) -> None:
    results = html_of(client, "/?q=齐齐哈尔")
    assert_no_payload(results)
    assert "齐齐哈尔 &lt;script&gt;alert(1)&lt;/script&gt; 对口<mark>合作</mark>" not in results  # query was 齐齐哈尔
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in results
    assert "&lt;b&gt;源&lt;/b&gt;" in results and "x&#34;&gt;&lt;svg onload=alert(1)&gt;" in results
    article = html_of(client, "/article/news/2024/a%20b.txt?q=合作")
    assert_no_payload(article)
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in article
    assert "<dt>原文</dt>" not in article  # a javascript: url is never linked


def test_facet_payload_round_trips_as_a_filter(client: FlaskClient) -> None:
    html = html_of(client, "/?q=合作&category=" + quote(SVG))
    assert_no_payload(html)
    assert article_links(html) == ["/article/news/2024/a%20b.txt?q=%E5%90%88%E4%BD%9C"]


def test_no_inline_scripts_or_styles(local_client: FlaskClient) -> None:
    for url in ("/", "/?q=合作", "/article/xwlb-20220101-00?q=5G", "/nope"):
        html = html_of(local_client, url, 404 if url == "/nope" else 200)
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
        assert "<style" not in html and " style=" not in html and " on" + "click=" not in html


@pytest.mark.parametrize("url", ["/", "/?q=合作", "/api/search?q=合作", "/api/suggest?q=he", "/static/app.css",
                                 "/nope", "/api/nope", "/article/none", "/opensearch.xml"])
def test_security_headers_on_every_response(local_client: FlaskClient, url: str) -> None:
    with local_client.get(url) as response:
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


# ---- errors --------------------------------------------------------------------------------------

BAD_PARAMS = ["page=abc", "page=0", "page=-1", "page=1.5", "per_page=1000", "per_page=x", "per_page=0",
              "sort=bogus", "date_from=notadate", "date_to=2024-13-45", "page=%EF%BC%92"]


@pytest.mark.parametrize("params", BAD_PARAMS)
def test_error_bad_params_give_400_json(local_client: FlaskClient, params: str) -> None:
    data = api(local_client, f"/api/search?q=合作&{params}", 400)
    assert data["ok"] is False and data["status"] == 400 and data["error"]
    assert list(data) == ["ok", "error", "status"]


@pytest.mark.parametrize("params", ["page=abc", "sort=bogus", "date_from=notadate"])
def test_error_bad_params_give_400_page(local_client: FlaskClient, params: str) -> None:
    html = html_of(local_client, f"/?q=合作&{params}", 400)
    assert "请求有误" in html and 'value="合作"' in html


def test_error_long_query_is_refused(local_client: FlaskClient) -> None:
    long = "合作" * 101
    data = api(local_client, "/api/search?q=" + quote(long), 400)
    assert "at most 200" in data["error"]
    assert api(local_client, "/api/suggest?q=" + quote(long), 400)["ok"] is False
    html = html_of(local_client, "/?q=" + quote(long), 400)
    assert "too long" in html and "at most 200" in html
    assert f'value="{long[:200]}"' in html and 'maxlength="200"' in html


def test_error_max_query_chars_is_configurable(tiny_index: Path) -> None:
    # Local only, as the other argument errors: refused before any backend is asked.
    client = create_app({"INDEX_DIR": tiny_index, "MAX_QUERY_CHARS": 5}).test_client()
    assert api(client, "/api/search?q=123456", 400)["status"] == 400
    assert api(client, "/api/search?q=12345")["ok"] is True


def test_error_missing_index_gives_503(missing_client: FlaskClient) -> None:
    # A missing folder; shards that do not answer give their 503 in test_xapian.
    for url in ("/api/search?q=合作", "/api/suggest?q=he", "/api/article/x"):
        data = api(missing_client, url, 503)
        assert data == {"ok": False, "error": "no index yet: run `python -m indexer rebuild`", "status": 503}
    for url in ("/", "/?q=合作", "/article/x"):
        html = html_of(missing_client, url, 503)
        assert "<code>python -m indexer rebuild</code>" in html and "还没有索引" in html
        assert "no-index-here" not in html


def test_error_unknown_article_gives_404(client: FlaskClient) -> None:
    html = html_of(client, "/article/no/such/article", 404)
    assert "找不到这个页面" in html
    data = api(client, "/api/article/no/such/article", 404)
    assert data == {"ok": False, "error": "no article with that id", "status": 404}


def test_error_unknown_routes(local_client: FlaskClient) -> None:
    assert api(local_client, "/api/nope", 404) == {"ok": False, "error": "not found", "status": 404}
    assert api(local_client, "/api/", 404)["status"] == 404
    assert "找不到这个页面" in html_of(local_client, "/nope", 404)


def test_error_wrong_method(local_client: FlaskClient) -> None:
    response = local_client.post("/api/search?q=合作")
    assert response.status_code == 405 and response.get_json()["status"] == 405
    response = local_client.post("/")
    assert response.status_code == 405 and response.mimetype == "text/html"


def test_error_crash_shows_no_traceback(local_client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail /srv/private")

    monkeypatch.setattr(engine, "search", explode)
    data = api(local_client, "/api/search?q=合作", 500)
    assert data == {"ok": False, "error": "internal server error", "status": 500}
    html = html_of(local_client, "/?q=合作", 500)
    assert "secret" not in html and "Traceback" not in html and "服务器出错了" in html


def test_error_search_error_is_generic(local_client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise engine.SearchError("the index could not be searched: /srv/private/segment")

    monkeypatch.setattr(engine, "search", broken)
    data = api(local_client, "/api/search?q=合作", 500)
    assert data["ok"] is False and "/srv/private" not in data["error"]
    assert "/srv/private" not in html_of(local_client, "/?q=合作", 500)


# ---- a rebuilt index without a restart -----------------------------------------------------------


def test_rebuilt_index_is_picked_up_without_restart(tmp_path: Path) -> None:
    # Local only: a Whoosh folder rebuilt; served shards pick up an update in test_xapian.
    index = tmp_path / "index"
    first = write_jsonl(tmp_path / "one.jsonl", [{"id": "a", "title": "苹果丰收", "text": "今年苹果丰收。"}])
    build_index([first], index_dir=index, procs=1)
    client = create_app({"INDEX_DIR": index}).test_client()
    assert api(client, "/api/search?q=苹果")["total"] == 1
    assert api(client, "/api/search?q=香蕉")["total"] == 0
    second = write_jsonl(tmp_path / "two.jsonl", [{"id": "b", "title": "香蕉上市", "text": "海南香蕉上市。"}])
    build_index([second], index_dir=index, procs=1)
    deadline = time.monotonic() + 5
    while api(client, "/api/search?q=香蕉")["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api(client, "/api/search?q=香蕉")["total"] == 1
    assert api(client, "/api/search?q=苹果")["total"] == 0


def test_index_built_after_start_is_picked_up(tmp_path: Path) -> None:
    index = tmp_path / "later"
    client = create_app({"INDEX_DIR": index}).test_client()
    assert api(client, "/api/search?q=苹果", 503)["status"] == 503
    build_index([write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "title": "苹果", "text": "苹果。"}])], index_dir=index, procs=1)
    assert api(client, "/api/search?q=苹果")["total"] == 1


# ---- the real indexes ----------------------------------------------------------------------------


def test_sample_articles_are_searchable(sample_location: Path | str) -> None:
    client = create_app({"INDEX_DIR": sample_location}).test_client()
    data = api(client, "/api/search?q=广州")
    assert data["total"] > 0
    assert html_of(client, article_links(html_of(client, "/?q=广州"))[0])


def test_own_corpus_paginates_and_facets(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    client = create_app({"INDEX_DIR": own_location}).test_client()
    data = api(client, "/api/search?q=经济 合作")
    holding = own_corpus.truth.holding_all("经济", "合作")
    assert data["total"] == len(holding) > 20 and data["pages"] > 2
    assert {f["value"]: f["count"] for f in data["facets"]["year"]} == own_corpus.truth.years(holding)
    page3 = api(client, "/api/search?q=经济 合作&page=3")
    assert page3["page"] == 3 and {h["id"] for h in page3["hits"]}.isdisjoint(h["id"] for h in data["hits"])
    assert {h["id"] for h in page3["hits"]} <= holding
    html = html_of(client, "/?q=齐齐哈尔 对口合作")
    assert "<mark>齐齐哈尔</mark>" in html
    assert "光伏" in api(client, "/api/suggest?q=guangf")["suggestions"]


# ---- the command line ----------------------------------------------------------------------------


def test_cli_serves_with_waitress(tiny_index: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(_cli, "serve", lambda app, **kw: calls.append({"app": app, **kw}))
    _cli.main(["--index-dir", str(tiny_index), "--port", "5077", "--threads", "3", "--workers", "1"])
    [call] = calls
    assert call["host"] == "127.0.0.1" and call["port"] == 5077 and call["threads"] == 3 and call["workers"] == 1
    assert Path(call["app"].config["INDEX_DIR"]) == tiny_index
    out = capsys.readouterr()
    assert "http://127.0.0.1:5077/" in out.out and out.err == ""


def test_cli_defaults_and_missing_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(_cli, "serve", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.setenv("ZHSEARCH_INDEX_DIR", str(tmp_path / "none"))
    _cli.main([])
    [call] = calls
    assert (call["host"], call["port"], call["threads"]) == ("127.0.0.1", 5000, 8)
    assert call["workers"] == max(1, min(4, os.cpu_count() or 1))
    assert Path(call["app"].config["INDEX_DIR"]) == tmp_path / "none"
    assert "python -m indexer rebuild" in capsys.readouterr().err


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--index-dir", "--host", "--port", "--threads", "--workers", "ZHSEARCH_INDEX_DIR"):
        assert option in out


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_id_with_a_newline_has_its_article_page(tmp_path: Path, backend: str) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": "line\nbreak", "title": "换行编号", "text": "这篇文章的编号里有换行。"}])
    with on_backend(backend, [src], tmp_path / "ix") as index:
        client = create_app({"INDEX_DIR": index}).test_client()
        href = re.search(r'href="(/article/[^"]+)"', html_of(client, "/?q=换行")).group(1)  # type: ignore[union-attr]
        assert href.startswith("/article/line%0Abreak")
        page = html_of(client, href.replace("&amp;", "&"))
        assert "换行编号" in page
        assert client.get("/api/article/line%0Abreak").get_json()["article"]["id"] == "line\nbreak"
