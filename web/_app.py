"""The application factory: configuration, security headers and error pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

import search as engine
from indexer import settings
from web._hosts import HostGuard
from web._views import bp

DEFAULTS: dict[str, Any] = {
    "MAX_QUERY_CHARS": 200,
    "PER_PAGE": 10,
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
MISSING_INDEX = "no index yet: run `python -m indexer rebuild`"
OUTDATED_INDEX = "the index was built by another version of this program: run `python -m indexer rebuild`"
log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A configured app. ``INDEX_DIR`` defaults to ``ZHSEARCH_INDEX_DIR`` or ``index``;
    ``ALLOWED_HOSTS`` (names, or ``.example.org`` for a domain and its subdomains) to
    ``ZHSEARCH_TRUSTED_HOSTS`` (comma-separated), else any well-formed host. The check is
    ``web._hosts.HostGuard``'s, in front of Flask (whose own ``TRUSTED_HOSTS`` check fails
    on ``[::1]:port`` and leaves its error pages without a URL adapter). ``CORS_ORIGINS``
    (default ``ZHSEARCH_CORS_ORIGINS``; ``["*"]`` for any) may read the API and feeds."""
    app = Flask(__name__)
    app.config.update(DEFAULTS, INDEX_DIR=settings.index_location(), ALLOWED_HOSTS=settings.trusted_hosts(),
                      CORS_ORIGINS=settings.cors_origins())
    if config:
        app.config.update(config)
    app.wsgi_app = HostGuard(app.wsgi_app, app.config["ALLOWED_HOSTS"])  # type: ignore[method-assign]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.filters["day"] = _day
    app.register_blueprint(bp)
    app.after_request(_secure)
    app.after_request(_cors)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(engine.SearchError, _search_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


CORS_PATHS = ("/api/", "/feed.")


def _cors(response: Response) -> Response:
    """``Access-Control-Allow-Origin`` on the API and feeds for the configured origins only."""
    origins = current_app.config.get("CORS_ORIGINS") or ()
    if not origins or not request.path.startswith(CORS_PATHS):
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin.rstrip("/") in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
    else:
        return response
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "86400"
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            response.headers["Access-Control-Allow-Headers"] = asked
    return response


def has_url_adapter() -> bool:
    from flask.globals import request_ctx

    return request_ctx.url_adapter is not None


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str) -> tuple[Response | str, int]:
    """One error envelope for the API, one error page for people."""
    if wants_json():
        return jsonify(ok=False, error=message, status=status), status
    if not has_url_adapter():  # a request Flask could not route: no template can build its links
        return Response(f"{status} {message}", status=status, mimetype="text/plain"), status
    page = render_template("error.html", status=status, message=message, autofocus=status == 400)
    return page, status


def _http_error(exc: HTTPException) -> Any:
    if isinstance(exc, InternalServerError):
        return _unexpected(exc)
    if exc.code is None or exc.code < 400:
        return exc
    messages = {404: "not found", 405: "method not allowed"}
    body, status = error_response(exc.code, messages.get(exc.code, exc.name.lower()))
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        return body, status, {"Allow": ", ".join(exc.valid_methods)}
    return body, status


def _search_error(exc: engine.SearchError) -> Any:
    if isinstance(exc, engine.QuerySyntaxError):
        return error_response(400, str(exc))
    if isinstance(exc, engine.IndexVersionError):
        return error_response(503, OUTDATED_INDEX)
    if isinstance(exc, engine.IndexNotFoundError):
        return error_response(503, MISSING_INDEX)
    if isinstance(exc, engine.IndexUnavailableError):
        log.error("%s", exc)
        return error_response(503, "the index's servers do not answer; please try again shortly")
    if isinstance(exc, engine.IndexDamagedError):
        log.error("%s", exc)
        return error_response(503, str(exc))
    if isinstance(exc, engine.ArticleNotFoundError):
        return error_response(404, "no article with that id")
    log.error("search failed: %s", exc, exc_info=exc)
    return error_response(500, "the search failed; please try again later")


def _unexpected(exc: BaseException) -> Any:
    original = getattr(exc, "original_exception", None) or exc
    log.error("unexpected error on %s", request.path, exc_info=original)
    return error_response(500, "internal server error")
