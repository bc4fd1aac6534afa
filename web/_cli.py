"""``python -m web``: serve the search page with waitress (``web._serve``), or gunicorn's worker processes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import search as engine
from indexer import settings
from web._app import MISSING_INDEX, OUTDATED_INDEX, create_app
from web._hosts import LOOPBACK
from web._malloc import limit_arenas
from web._serve import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m web", description="Serve the Chinese news search page.")
    parser.add_argument("--index-dir", default=None,
                        help=f"index folder, or xapian://host:port,... for shard servers (default: ${settings.ENV_PREFIX}INDEX_DIR or 'index')")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default: 5000)")
    parser.add_argument("--threads", type=int, default=8, help="threads per process (default: 8)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="processes, one per core, served by gunicorn when more than 1 "
                             f"(default: CPUs, at most 4; here {default_workers()})")
    return parser


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    index_dir = settings.index_location(args.index_dir)  # a folder, or xapian://host:port,...
    trusted = settings.trusted_hosts()
    if trusted is None and args.host in ("0.0.0.0", "::", ""):
        print(f"warning: listening on every address; set {settings.ENV_PREFIX}TRUSTED_HOSTS to the names "
              "people use to reach this server (any well-formed Host is answered until then)", file=sys.stderr)
    elif trusted is None:
        trusted = [*LOOPBACK, args.host]
    app = create_app({"INDEX_DIR": index_dir, "ALLOWED_HOSTS": trusted})
    try:
        engine.index_info(index_dir=index_dir)
    except engine.IndexVersionError:
        print(f"warning: {OUTDATED_INDEX} (in {index_dir}); serving anyway", file=sys.stderr)
    except engine.IndexNotFoundError:
        print(f"warning: {MISSING_INDEX} (looked in {index_dir}); serving anyway", file=sys.stderr)
    except (engine.IndexDamagedError, engine.IndexUnavailableError) as exc:
        print(f"warning: {exc}; serving anyway", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    # The probe opened the index in this process: close it before any fork, so that worker
    # processes never share its file offsets; each opens its own on its first request.
    engine.close_indexes()
    limit_arenas()  # before the server starts its threads (forked workers inherit the setting)
    workers = max(1, args.workers)
    print(f"Serving {index_dir} on http://{host}:{args.port}/ with {workers} process(es) of {args.threads} threads"
          "  (Ctrl+C to stop)", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, workers=workers)
