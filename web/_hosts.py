"""The ``Host`` header, checked before Flask sees it.

A malformed host (``a..b``, a label of 64 characters) made Flask's URL adapter
fail and every page, the 400 page included, a 500; an untrusted one was copied
into redirects and the OpenSearch description. This WSGI wrapper answers both
with a fixed 400 that cannot fail, in the API's JSON envelope under ``/api/``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")
LOOPBACK = ("localhost", "127.0.0.1", "::1")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def split_host(value: str) -> tuple[str, str | None] | None:
    """``(host, port)`` of a well-formed Host header value, else None."""
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        host, rest = value[1:end], value[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
        if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
            return None
        return host, rest[1:] or None
    host, sep, port = value.partition(":")
    if sep and not _PORT.fullmatch(port):
        return None
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return None
    return host.lower(), port or None


def is_trusted(host: str, trusted: Sequence[str]) -> bool:
    """Exact names, or ``.example.org`` for it and its subdomains (Flask's TRUSTED_HOSTS rules)."""
    host = host.rstrip(".")
    for pattern in trusted:
        pattern = pattern.lower().strip("[]")
        if pattern.startswith("."):
            if host == pattern[1:] or host.endswith(pattern):
                return True
        elif host == pattern:
            return True
    return False


class HostGuard:
    def __init__(self, app: WSGIApp, trusted: Sequence[str] | None) -> None:
        self.app = app
        self.trusted = list(trusted) if trusted else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raw = environ.get("HTTP_HOST")
        if raw is not None:
            parsed = split_host(raw)
            if parsed is None:
                return _bad_host(environ, start_response, "malformed Host header")
            if self.trusted is not None and not is_trusted(parsed[0], self.trusted):
                return _bad_host(environ, start_response, "host not allowed")
        return self.app(environ, start_response)


def _bad_host(environ: dict[str, Any], start_response: StartResponse, message: str) -> list[bytes]:
    if str(environ.get("PATH_INFO", "")).startswith("/api/"):
        body = json.dumps({"ok": False, "error": message, "status": 400}).encode()
        kind = "application/json"
    else:
        body = f"<!doctype html><title>400</title><p>400 Bad Request: {message}</p>".encode()
        kind = "text/html; charset=utf-8"
    start_response("400 Bad Request", [("Content-Type", kind), ("Content-Length", str(len(body))),
                                       ("X-Content-Type-Options", "nosniff")])
    return [body]
