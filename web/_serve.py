"""The waitress server of ``python -m web``, accepting request targets typed with raw UTF-8.

``curl 'http://127.0.0.1:5000/api/search?q=中国'`` sends the query's UTF-8 bytes
unescaped. RFC 3986 allows only ASCII there, and waitress's parser answers any other
byte with its own plain-text "400 Bad URI" before the application runs (``urlsplit``
of bytes decodes them as ASCII). No waitress setting relaxes that, and no WSGI
middleware ever sees such a request, so the parser here escapes those bytes as
``%XX`` first, as a browser does before sending: Flask then reads the same UTF-8
text from the raw and the escaped URL.
"""

from __future__ import annotations

import re
from typing import Any

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.server import create_server as _waitress_server

_NON_ASCII = re.compile(rb"[\x80-\xff]")


def escape_target(line: bytes) -> bytes:
    """A request line with every non-ASCII byte written as ``%XX``."""
    return _NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], line)


class Utf8RequestParser(HTTPRequestParser):
    def parse_header(self, header_plus: bytes) -> None:
        line, sep, rest = header_plus.partition(b"\r\n")
        super().parse_header(escape_target(line) + sep + rest)


class Utf8Channel(HTTPChannel):
    parser_class = Utf8RequestParser


def create_server(app: Any, **options: Any) -> Any:
    """``waitress.server.create_server(app, **options)`` with raw UTF-8 request targets accepted."""
    server = _waitress_server(app, **options)
    listeners = ([s for s in server.map.values() if isinstance(s, BaseWSGIServer)]
                 if isinstance(server, MultiSocketServer) else [server])
    for listener in listeners:
        listener.channel_class = Utf8Channel  # each accepted connection's channel, hence its parser
    return server


def serve(app: Any, *, workers: int = 1, **options: Any) -> None:
    """Serve until interrupted: this waitress server in this process, or with ``workers`` > 1
    gunicorn's worker processes (``web._workers``)."""
    if workers > 1:
        from web._workers import serve_workers

        serve_workers(app, host=options["host"], port=options["port"], threads=options["threads"], workers=workers)
        return
    create_server(app, **options).run()
