"""The blueprint: the search page, the article page, their JSON twins, suggestions, OpenSearch."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for

import search as engine
from web._params import FILTERS, ArticleIdConverter, SearchArgs, check_length, page_window, parse_search_args
from web._feeds import FEED_SIZE, Entry, Feed, atom, json_feed
from web._refine import KEPT, chips, date_control, facet_values

bp = Blueprint("web", __name__)


@bp.record_once
def _converters(state: Any) -> None:
    state.app.url_map.converters["article_id"] = ArticleIdConverter
SUGGEST_LIMIT = 8
RELATED_LIMIT = 5
_URL_KEYS = ("q", *FILTERS, "sort", "per_page", "page", "nofix")


def _index_dir() -> Any:
    return current_app.config["INDEX_DIR"]


def _max_chars() -> int:
    return int(current_app.config["MAX_QUERY_CHARS"])


def _search(args: SearchArgs) -> tuple[engine.SearchResults, float]:
    started = time.perf_counter()
    res = engine.search(args.q, index_dir=_index_dir(), page=args.page, per_page=args.per_page, sort=args.sort,
                        correct=args.correct, **args.filters)
    return res, (time.perf_counter() - started) * 1000


def _args() -> SearchArgs:
    return parse_search_args(request.args, max_chars=_max_chars(), per_page=int(current_app.config["PER_PAGE"]))


@bp.app_template_global()
def search_url(endpoint: str = "web.index", **changes: Any) -> str:
    """The current search with ``changes`` applied (``None`` drops a key); the page resets unless given."""
    params = {k: request.args[k] for k in _URL_KEYS if request.args.get(k, "").strip()}
    params.pop("page", None)
    params.update(changes)
    params = {k: v for k, v in params.items() if v not in (None, "")}
    if params.get("sort") == "relevance":
        del params["sort"]
    return url_for(endpoint, **params)


@bp.app_template_global()
def kept_params(*skip: str) -> list[tuple[str, str]]:
    """The current filters, sort and page size, as hidden fields of a form that starts a new query."""
    return [(k, request.args[k]) for k in KEPT if k not in skip and request.args.get(k, "").strip()]


@bp.get("/")
def index() -> Any:
    within = request.args.get("within", "").strip()
    if within:  # 在结果中搜索: the words are added to the current query
        return redirect(search_url(q=f"{request.args.get('q', '').strip()} {within}".strip()))
    args = _args()
    if args.blank:
        engine.index_info(index_dir=_index_dir())  # a missing index shows now, not at the first query
        return render_template("index.html", args=args, res=None, autofocus=True,
                               json_url=search_url("web.api_search"))
    res, took_ms = _search(args)
    last = max(1, res.pages)
    if res.page > last:  # page=99 of 37 pages: the last page, never "第 99/37 页"
        return redirect(search_url(page=last if last > 1 else None))
    dates = date_control(args.filters)
    feed = {k: request.args[k] for k in ("q", *FILTERS) if request.args.get(k, "").strip()}
    return render_template(
        "index.html", args=args, res=res, took_ms=took_ms, pages=page_window(res.page, res.pages),
        dates=dates, chips=chips(args.filters, dates, search_url), facet_values=facet_values,
        feed_url=url_for("web.feed_atom", **feed), feed_title=f"“{args.q.strip()}”的最新文章" if args.q.strip() else "最新文章", json_feed_url=url_for("web.feed_json", **feed),
        json_url=search_url("web.api_search", page=res.page if res.page > 1 else None),
    )


@bp.get("/article/<article_id:article_id>", merge_slashes=False)
def article(article_id: str) -> str:
    q = request.args.get("q", "")[: _max_chars()].strip()
    view = engine.get_article(article_id, highlight_query=q or None, index_dir=_index_dir())
    related = engine.related(article_id, limit=RELATED_LIMIT, index_dir=_index_dir())
    return render_template("article.html", article=view, related=related, q=q,
                           json_url=url_for("web.api_article", article_id=article_id, q=q or None))


@bp.get("/api/search")
def api_search() -> Response:
    res, took_ms = _search(_args())
    data = res.to_dict()
    return jsonify(
        ok=True, query=res.query, total=res.total, page=res.page, per_page=res.per_page, pages=res.pages,
        sort=res.sort, hits=data["hits"], facets=data["facets"], suggestion=res.suggestion,
        query_info=data["query_info"], took_ms=round(took_ms, 2), unavailable_shards=res.unavailable_shards,
    )


@bp.get("/api/suggest")
def api_suggest() -> Response:
    q = check_length("the query", request.args.get("q", ""), _max_chars())
    suggestions = engine.suggest(q, limit=SUGGEST_LIMIT, index_dir=_index_dir())
    if request.args.get("format") == "opensearch":  # the OpenSearch suggestions extension's shape
        return jsonify([q, suggestions])
    return jsonify(ok=True, query=q, suggestions=suggestions)


@bp.get("/api/article/<article_id:article_id>", merge_slashes=False)
def api_article(article_id: str) -> Response:
    q = request.args.get("q", "")[: _max_chars()].strip()
    view = engine.get_article(article_id, highlight_query=q or None, index_dir=_index_dir())
    related = engine.related(article_id, limit=RELATED_LIMIT, index_dir=_index_dir())
    return jsonify(ok=True, article=view.to_dict(), related=[hit.to_dict() for hit in related])


def _feed() -> Feed:
    """The newest articles holding every word (partial matches left out), as typed (no correction)."""
    args = _args()
    params = {k: request.args[k] for k in ("q", *FILTERS) if request.args.get(k, "").strip()}
    hits: tuple[engine.Hit, ...] = ()
    if not args.blank:
        res = engine.search(args.q, index_dir=_index_dir(), per_page=FEED_SIZE, sort="date", correct=False,
                            **args.filters)
        hits = tuple(h for h in res.hits if h.match != "partial")
    dates = date_control(args.filters)
    labels = [c.label for c in chips(args.filters, dates, search_url)]
    title = "闻搜" + (f"：{args.q.strip()}" if args.q.strip() else "") + (f"（{'，'.join(labels)}）" if labels else "")
    entries = [Entry(id=url_for("web.article", article_id=h.id, _external=True),
                     url=url_for("web.article", article_id=h.id, q=args.q.strip() or None, _external=True),
                     title=h.title, snippet_html=h.snippet, published=h.published, source=h.source) for h in hits]
    return Feed(title=title, self_url=url_for(request.endpoint or "web.feed_atom", **params, _external=True),
                page_url=url_for("web.index", **params, sort="date", _external=True), entries=entries)


@bp.get("/feed.atom")
def feed_atom() -> Response:
    return Response(atom(_feed()), mimetype="application/atom+xml")


@bp.get("/feed.json")
def feed_json() -> Response:
    response = jsonify(json_feed(_feed()))
    response.mimetype = "application/feed+json"
    return response


@bp.get("/opensearch.xml")
def opensearch() -> Response:
    body = render_template("opensearch.xml.html")  # *.html: the only templates packaged
    return Response(body, mimetype="application/opensearchdescription+xml")
