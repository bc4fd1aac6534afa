"""Connections to the shards of a Xapian index: ``xapian://SHARD,SHARD,...``, each shard
``host:port`` (a ``xapian-tcpsrv``) or a database path, with replicas after ``|``.

Every remote connection has a timeout (``timeout_ms()``, ``ZHSEARCH_SHARD_TIMEOUT_MS``); a replica that does not
answer is passed over for the next; a shard with none left is left out, and
counted, so the results can say what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import xapian

from indexer import settings
from search.errors import IndexNotFoundError, IndexUnavailableError, QuerySyntaxError

SCHEME = "xapian://"
CONNECT_TIMEOUT_MS = 300  # at most; never more than the timeout


def timeout_ms() -> int:
    """How long a shard may take to answer before it is given up on (a request then takes at most
    about twice this): read at each connection, so a changed setting holds from the next one."""
    return settings.shard_timeout_ms()


@dataclass(frozen=True)
class Shard:
    replicas: tuple[str, ...]  # "host:port" or a database path, in the order tried


def parse_location(location: str) -> tuple[Shard, ...]:
    if not location.startswith(SCHEME):
        raise QuerySyntaxError(f"not a Xapian location: {location!r}")
    shards = []
    for part in location[len(SCHEME):].split(","):
        replicas = tuple(r.strip() for r in part.split("|") if r.strip())
        if replicas:
            shards.append(Shard(replicas))
    if not shards:
        raise IndexNotFoundError(f"no shard in {location!r}")
    return tuple(shards)


def _open_replica(spec: str) -> xapian.Database:
    if spec.startswith("/") or spec.startswith(".") or ":" not in spec:
        return xapian.Database(spec)
    host, _, port = spec.rpartition(":")
    if not port.isdigit():
        raise IndexNotFoundError(f"bad shard address {spec!r}: expected host:port")
    timeout = timeout_ms()
    return xapian.remote_open(host.strip("[]"), int(port), timeout, min(timeout, CONNECT_TIMEOUT_MS))


def _open_shard(shard: Shard) -> xapian.Database | None:
    for spec in shard.replicas:
        try:
            db = _open_replica(spec)
            db.get_doccount()  # answers, or raises
            return db
        except (xapian.NetworkError, xapian.DatabaseOpeningError, xapian.DatabaseError):
            continue
    return None


def combined(shards: Sequence[Shard]) -> tuple[xapian.Database, int]:
    """The shards that answer, combined, and how many did not."""
    combined = xapian.Database()
    missing = 0
    for shard in shards:
        db = _open_shard(shard)
        if db is None:
            missing += 1
        else:
            combined.add_database(db)
    if missing == len(shards):
        raise IndexUnavailableError(f"no shard of the index answers ({len(shards)} tried)")
    return combined, missing
