"""``python -m web --workers N`` (N > 1): gunicorn's pre-forking server, one process per core.

Searches hold the GIL for most of their time, so one process serves about one
core's worth of requests whatever its threads. gunicorn forks N worker processes
that share nothing but the listening socket and the index on disk, each with
``gthread`` threads; each opens the index itself on its first request and
picks up a rebuilt or updated index as a single process does. The master
restarts a worker that dies and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app


def serve_workers(app: Any, *, host: str, port: int, threads: int, workers: int) -> None:
    """Serve ``app`` from ``workers`` processes of ``threads`` threads each, until stopped."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    _Server(app, {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,  # a worker silent this long is replaced (no query runs for seconds)
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "warning",
    }).run()
