"""The search page and API as readers and developers use them: paging, parameters, CORS, raw UTF-8 URLs,
dates and refining, feeds, reprints. Browser-side behaviour is in ``test_browser.py``.

What depends on the results runs on both backends (``client``, ``tiny_location``: the Whoosh folder,
or the same articles in two Xapian shards served on loopback); argument errors, methods, CORS and
the server's request lines on the local one (``local_client``, ``tiny_index``)."""

from __future__ import annotations

import http.client
import json
import re
from datetime import date, timedelta
from pathlib import Path
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import feedparser
import pytest
from flask.testing import FlaskClient

import search as engine
from indexer import build_index
from search._search import MAX_PAGE
from tests import conftest
from tests.conftest import BACKENDS, OwnCorpus, on_backend
from tests.test_web import ARTICLES, write_jsonl
from web import _serve, create_app


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("page-src") / "articles.jsonl", ARTICLES)


@pytest.fixture(scope="module")
def tiny_index(tiny_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("page-index")
    build_index([tiny_source], index_dir=target, procs=1)
    return target


@pytest.fixture(scope="module")
def tiny_shards(tiny_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with on_backend("xapian", [tiny_source], tmp_path_factory.mktemp("page-shards")) as location:
        yield str(location)


@pytest.fixture(params=BACKENDS)
def tiny_location(request: pytest.FixtureRequest) -> Path | str:
    return request.getfixturevalue("tiny_index" if request.param == "whoosh" else "tiny_shards")


@pytest.fixture()
def client(tiny_location: Path | str) -> FlaskClient:
    return create_app({"INDEX_DIR": tiny_location}).test_client()


@pytest.fixture()
def local_client(tiny_index: Path) -> FlaskClient:
    return create_app({"INDEX_DIR": tiny_index}).test_client()


def api(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


# ---- paging --------------------------------------------------------------------------------------


def test_api_pages_never_exceed_the_last_page_it_serves(own_corpus: OwnCorpus, own_location: Path | str) -> None:
    res = engine.search("的", index_dir=own_location, per_page=1)
    assert res.query_info is not None
    listed = len(own_corpus.truth.holding("的")) - res.query_info.folded
    assert res.total == len(own_corpus.truth.holding("的")) and listed > MAX_PAGE
    assert res.pages == MAX_PAGE  # more articles than that hold 的: pages stops where page= does
    client = create_app({"INDEX_DIR": own_location}).test_client()
    data = api(client, f"/api/search?q=的&per_page=1&page={res.pages}")
    assert data["pages"] == res.pages and len(data["hits"]) == 1
    assert api(client, f"/api/search?q=的&per_page=1&page={res.pages + 1}", 400)["ok"] is False


# ---- the API as people call it -------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["DATE", "Date", " date "])
def test_sort_is_case_insensitive(client: FlaskClient, sort: str) -> None:
    assert api(client, f"/api/search?q=合作&sort={sort}")["sort"] == "date"
    html = client.get(f"/?q=合作&sort={sort}").get_data(as_text=True)
    assert '<span class="sort-option active" aria-current="true">按时间</span>' in html


@pytest.mark.parametrize("year", ["abc", "20x4", "１９９９", "202", "20245", "-2024"])
def test_error_invalid_year_is_a_400(local_client: FlaskClient, year: str) -> None:
    data = api(local_client, f"/api/search?q=合作&year={year}", 400)
    assert data["ok"] is False and "year" in data["error"]
    assert local_client.get(f"/?q=合作&year={year}").status_code == 400


def test_a_valid_year_filters(client: FlaskClient) -> None:
    data = api(client, "/api/search?q=合作&year=2023")
    assert data["hits"] and all(h["published"].startswith("2023") for h in data["hits"])


@pytest.mark.parametrize("url", ["/api/search?q=合作", "/"])
def test_error_405_says_which_methods_are_allowed(local_client: FlaskClient, url: str) -> None:
    response = local_client.post(url)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_cors_is_off_by_default(local_client: FlaskClient) -> None:
    response = local_client.get("/api/search?q=合作", headers={"Origin": "https://app.example.org"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_for_configured_origins(tiny_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHSEARCH_CORS_ORIGINS", "https://app.example.org, https://b.example.org/")
    client = create_app({"INDEX_DIR": tiny_index}).test_client()
    for origin in ("https://app.example.org", "https://b.example.org"):
        response = client.get("/api/search?q=合作", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "Origin" in response.headers["Vary"]
    other = client.get("/api/search?q=合作", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    feed = client.get("/feed.json?q=合作", headers={"Origin": "https://app.example.org"})
    assert feed.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    page = client.get("/?q=合作", headers={"Origin": "https://app.example.org"})
    assert "Access-Control-Allow-Origin" not in page.headers  # pages are not for other origins
    preflight = client.options("/api/search?q=合作", headers={
        "Origin": "https://app.example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "accept"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_cors_any_origin(tiny_index: Path) -> None:
    client = create_app({"INDEX_DIR": tiny_index, "CORS_ORIGINS": ["*"]}).test_client()
    response = client.get("/api/suggest?q=he", headers={"Origin": "https://x.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def _raw_get(base_url: str, target: bytes) -> tuple[int, str, bytes]:
    """GET with ``target`` sent byte for byte (http.client would refuse non-ASCII)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        response = http.client.HTTPResponse(conn.sock)
        response.begin()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def test_raw_utf8_urls_through_the_real_server(tiny_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Plain waitress answers these with its own text/plain "400 Bad URI" before the app runs.
    monkeypatch.setattr(conftest, "create_server", _serve.create_server)
    with conftest.serving(tiny_index) as url:
        status, kind, body = _raw_get(url, "/api/search?q=合作&source=央视网".encode())
        assert status == 200 and kind == "application/json"
        data = json.loads(body)
        assert data["query"] == "合作" and data["total"] >= 1
        assert all(h["source"] == "央视网" for h in data["hits"])
        escaped = json.loads(_raw_get(url, b"/api/search?q=%E5%90%88%E4%BD%9C&source=%E5%A4%AE%E8%A7%86%E7%BD%91")[2])
        assert escaped["total"] == data["total"]
        status, kind, body = _raw_get(url, "/?q=合作".encode())
        assert status == 200 and kind.startswith("text/html") and 'value="合作"' in body.decode()
        status, _, body = _raw_get(url, "/api/article/中文:%23编号".encode())
        assert status == 200 and json.loads(body)["article"]["id"] == "中文:#编号"
        status, kind, body = _raw_get(url, "/api/search?q=合作&sort=奇怪".encode())
        assert status == 400 and json.loads(body)["status"] == 400  # the JSON envelope, not waitress's text


def test_escape_target_leaves_ascii_alone() -> None:
    assert _serve.escape_target(b"GET /a?q=%20b HTTP/1.1") == b"GET /a?q=%20b HTTP/1.1"
    assert _serve.escape_target("GET /?q=中 HTTP/1.1".encode()) == b"GET /?q=%E4%B8%AD HTTP/1.1"


# ---- dates and refining --------------------------------------------------------------------------


def _html(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_date_control_offers_quick_ranges_and_a_plain_custom_form(client: FlaskClient) -> None:
    html = _html(client, "/?q=合作")
    for label in ("不限", "一天内", "一周内", "一月内", "一年内", "自定义"):
        assert f">{label}</" in html
    week = (date.today() - timedelta(days=7)).isoformat()
    assert f'href="/?q=%E5%90%88%E4%BD%9C&amp;date_from={week}">一周内</a>' in html
    form = re.search(r'<details class="custom-range">.*?</details>', html, re.S).group()  # type: ignore[union-attr]
    assert '<input type="date" name="date_from" value="">' in form and '<input type="date" name="date_to" value="">' in form
    assert '<input type="hidden" name="q" value="合作">' in form and "<script" not in form


def test_custom_range_filters_and_is_one_chinese_chip(client: FlaskClient) -> None:
    html = _html(client, "/?q=合作&date_from=2022-01-01&date_to=2023-12-31")
    assert "时间：2022-01-01 至 2023-12-31" in html and "date_from：" not in html
    assert '<details class="custom-range" open>' in html and 'value="2022-01-01"' in html
    data = api(client, "/api/search?q=合作&date_from=2022-01-01&date_to=2023-12-31")
    assert data["hits"] and all("2022" <= h["published"][:4] <= "2023" for h in data["hits"])
    assert "时间：2022-01-01 起" in _html(client, "/?q=合作&date_from=2022-01-01")
    assert "时间：2022-01-01 及以前" in _html(client, "/?q=合作&date_to=2022-01-01")


def test_quick_range_chip_names_the_range(client: FlaskClient) -> None:
    week = (date.today() - timedelta(days=7)).isoformat()
    html = _html(client, f"/?q=合作&date_from={week}")
    assert "时间：一周内" in html
    assert re.search(r'class="facet-link active" aria-current="true" href="[^"]*">一周内<', html)


@pytest.mark.parametrize("name, value, label", [("source", "央视网", "来源"), ("category", "经济", "栏目"), ("year", "2023", "年份")])
def test_every_chip_is_labelled_in_chinese(client: FlaskClient, name: str, value: str, label: str) -> None:
    html = _html(client, f"/?q=合作&{name}={value}")
    assert f'title="去掉这个筛选条件">{label}：{value} ' in html


def test_year_facet_is_in_year_order(client: FlaskClient) -> None:
    html = _html(client, "/?q=合作")
    section = re.search(r'<section class="facet facet-year">.*?</section>', html, re.S).group()  # type: ignore[union-attr]
    years = re.findall(r'<span class="facet-value">(\d{4})</span>', section)
    assert len(years) >= 3 and years == sorted(years, reverse=True)


def test_a_new_query_keeps_the_filters_and_they_can_be_cleared(client: FlaskClient) -> None:
    html = _html(client, "/?q=合作&source=央视网&date_from=2022-01-01&sort=date")
    form = re.search(r'<form class="search-form".*?</form>', html, re.S).group()  # type: ignore[union-attr]
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    assert hidden == {"source": "央视网", "date_from": "2022-01-01", "sort": "date"}
    assert "新的检索会保留这些筛选条件" in html
    clear = re.search(r'<a class="chip-clear" href="([^"]+)">清除筛选</a>', html).group(1)  # type: ignore[union-attr]
    assert clear == "/?q=%E5%90%88%E4%BD%9C&amp;sort=date"
    assert 'type="hidden"' not in re.search(r'<form class="search-form".*?</form>', _html(client, "/"), re.S).group()  # type: ignore[union-attr]


def test_search_within_results_adds_words_to_the_query(client: FlaskClient) -> None:
    html = _html(client, "/?q=合作&source=央视网")
    form = re.search(r'<form class="facet within".*?</form>', html, re.S).group()  # type: ignore[union-attr]
    assert '<input type="hidden" name="q" value="合作">' in form and 'name="within"' in form
    assert '<input type="hidden" name="source" value="央视网">' in form
    response = client.get("/?q=合作&source=央视网&within=经济")
    assert response.status_code == 302
    assert response.headers["Location"] == "/?q=%E5%90%88%E4%BD%9C+%E7%BB%8F%E6%B5%8E&source=%E5%A4%AE%E8%A7%86%E7%BD%91"
    assert api(client, "/api/search?q=合作 经济&source=央视网")["total"] >= 1


def test_only_exclusions_are_explained(client: FlaskClient) -> None:
    html = _html(client, "/?q=-合作")
    assert "只输入了排除词" in html and '<span class="term excluded">合作</span>' in html


# ---- feeds ---------------------------------------------------------------------------------------

ODD_TEXT = "控制\x01字符\x0b与\x1f&<b>标记</b>]]>\ufffe合作"


@pytest.fixture(scope="module", params=BACKENDS)
def odd_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    records = [{"id": f"odd-{n}", "title": f"标题{ODD_TEXT}{n}", "date": f"2024-0{n}-01", "source": f"源\x02{n}",
                "text": f"正文{ODD_TEXT}。" * 3} for n in range(1, 4)]
    records.append({"id": "odd-undated", "title": "没有日期的合作", "text": f"正文{ODD_TEXT}"})
    src = write_jsonl(tmp_path_factory.mktemp("odd-src") / "odd.jsonl", records)
    with on_backend(request.param, [src], tmp_path_factory.mktemp("odd-index")) as index:
        yield create_app({"INDEX_DIR": index}).test_client()


def test_atom_feed_is_valid_atom_with_dates_snippets_and_stable_ids(client: FlaskClient) -> None:
    response = client.get("/feed.atom?q=合作&source=央视网")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and b'<summary type="html">' in response.data
    assert b"&lt;mark&gt;\xe5\x90\x88\xe4\xbd\x9c&lt;/mark&gt;" in response.data
    assert feed.feed.title == "闻搜：合作（来源：央视网）"
    data = api(client, "/api/search?q=合作&source=央视网&sort=date")
    exact = [h for h in data["hits"] if h["match"] != "partial"]
    assert [e.title for e in feed.entries] == [h["title"] for h in exact]
    for entry, hit in zip(feed.entries, exact):
        assert entry.id == "http://localhost/article/" + quote(hit["id"], safe="/:")
        assert entry.published.startswith(hit["published"][:10])
        assert "合作" in entry.summary  # feedparser's sanitiser drops <mark>; the feed holds it escaped
        assert entry.link.startswith(entry.id) and "q=" in entry.link
    again = feedparser.parse(client.get("/feed.atom?q=合作&source=央视网").data)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]
    other = feedparser.parse(client.get("/feed.atom?q=广州").data)
    shared = {e.id for e in other.entries} & {e.id for e in feed.entries}
    assert shared  # one article, one id, whichever query's feed it is in


def test_json_feed_is_the_atom_feeds_twin(client: FlaskClient) -> None:
    response = client.get("/feed.json?q=合作")
    assert response.mimetype == "application/feed+json"
    data = response.get_json()
    assert data["version"] == "https://jsonfeed.org/version/1.1" and data["title"] == "闻搜：合作"
    assert data["feed_url"] == "http://localhost/feed.json?q=%E5%90%88%E4%BD%9C"
    atom = feedparser.parse(client.get("/feed.atom?q=合作").data)
    assert [i["id"] for i in data["items"]] == [e.id for e in atom.entries]
    assert all(i["content_html"] and "<mark>" not in i["summary"] and i["date_published"] for i in data["items"])


def test_feed_is_well_formed_for_any_article_text(odd_client: FlaskClient) -> None:
    body = odd_client.get("/feed.atom?q=合作").data
    ElementTree.fromstring(body)  # raises on anything XML 1.0 forbids
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 4 and feed.entries[-1].title == "没有日期的合作"
    assert feed.entries[0].title == "标题控制字符与&<b>标记</b>]]>合作3"
    assert "published" not in feed.entries[-1] and feed.entries[-1].updated
    assert odd_client.get("/feed.json?q=合作").get_json()["items"][0]["authors"] == [{"name": "源\x023"}]


def test_results_page_links_its_feeds(client: FlaskClient) -> None:
    html = _html(client, "/?q=合作&year=2023")
    assert ('<link rel="alternate" type="application/atom+xml" title="“合作”的最新文章（Atom）" '
            'href="/feed.atom?q=%E5%90%88%E4%BD%9C&amp;year=2023">') in html
    assert 'type="application/feed+json"' in html and 'class="feed-link" href="/feed.atom?q=' in html
    assert "application/atom+xml" not in _html(client, "/")


def test_blank_feed_is_empty_and_bad_parameters_are_400(client: FlaskClient) -> None:
    assert feedparser.parse(client.get("/feed.atom").data).entries == []
    assert client.get("/feed.atom?q=合作&year=abc").status_code == 400


# ---- reprints ------------------------------------------------------------------------------------


def test_search_reprints_of_lists_one_group_unfolded(tiny_location: Path | str) -> None:
    folded = engine.search("经济", index_dir=tiny_location)
    [shown] = [h for h in folded.hits if h.duplicates]
    assert shown.duplicates == 1 and folded.query_info is not None and folded.query_info.folded == 1
    group = engine.search("经济", index_dir=tiny_location, reprints_of=shown.id)
    assert sorted(h.id for h in group.hits) == ["reprint-1", "中文:#编号"]
    assert group.total == 2 and all(h.duplicates == 0 for h in group.hits)
    assert group.query_info is not None and group.query_info.folded == 0
    assert ("reprints_of", shown.id) in group.query_info.filters
    other = "reprint-1" if shown.id != "reprint-1" else "中文:#编号"
    assert {h.id for h in engine.search("", index_dir=tiny_location, reprints_of=other).hits} == {"reprint-1", "中文:#编号"}
    alone = engine.search("", index_dir=tiny_location, reprints_of="xwlb-20220101-00")
    assert [h.id for h in alone.hits] == ["xwlb-20220101-00"]
    with pytest.raises(engine.ArticleNotFoundError):
        engine.search("经济", index_dir=tiny_location, reprints_of="no-such-article")


def test_reprint_count_links_to_the_reprints(client: FlaskClient) -> None:
    html = _html(client, "/?q=经济")
    href = re.search(r'<p class="duplicates"><a href="([^"]+)">另有 1 篇相似转载</a></p>', html).group(1)  # type: ignore[union-attr]
    assert href.startswith("/?q=%E7%BB%8F%E6%B5%8E&amp;reprints_of=")
    reprints = _html(client, href.replace("&amp;", "&"))
    assert reprints.count('<li class="hit">') == 2 and "相似转载</a>" not in reprints
    assert 'title="去掉这个筛选条件">只看一篇文章的相似转载 ' in reprints
    assert api(client, "/api/search?q=经济&reprints_of=no-such-article", 404)["status"] == 404
