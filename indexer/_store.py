"""Where the index lives on disk, and how it is swapped and locked.

``index_dir/CURRENT`` names the generation folder being served
(``gen-<time>-<random>``). A rebuild writes a new generation in a
``.building-*`` folder beside it, renames it into place and then replaces
``CURRENT`` with ``os.replace``: readers see the old index or the new one,
never a mix, whatever moment the writer dies. One writer at a time holds an
``fcntl`` lock on ``index_dir/.writer.lock``, which the kernel releases if the
process is killed, so a lock is never stale.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from whoosh import index as whoosh_index

from indexer import _integrity
from indexer.analysis import ANALYZER_VERSION
from indexer.errors import IndexLockedError, IndexNotFoundError, IndexVersionError, IndexWriteError
from indexer.schema import SCHEMA_VERSION

CURRENT = "CURRENT"
META = "zhsearch.json"
LOCK = ".writer.lock"
BUILDING_PREFIX = ".building-"
GEN_PREFIX = "gen-"


def current_generation(index_dir: Path) -> Path:
    """The generation folder being served; raise if there is none or it is incompatible."""
    gen = served_generation(index_dir)
    check_meta(gen)
    return gen


def served_generation(index_dir: Path) -> Path:
    """The generation folder ``CURRENT`` names, unchecked; raise if there is none."""
    try:
        name = (index_dir / CURRENT).read_text("utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"no index in {index_dir}: build one with `python -m indexer rebuild`"
        ) from None
    except OSError as exc:
        raise IndexNotFoundError(f"cannot read the index in {index_dir}: {exc.strerror}") from exc
    return index_dir / name


def check_meta(gen: Path) -> dict[str, object]:
    try:
        meta = json.loads((gen / META).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexNotFoundError(f"the index in {gen.parent} is damaged or incomplete ({exc})") from exc
    if meta.get("analyzer_version") != ANALYZER_VERSION or meta.get("schema_version") != SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index in {gen.parent} was built by another version "
            f"(analyzer {meta.get('analyzer_version')}, schema {meta.get('schema_version')}; "
            f"this one is analyzer {ANALYZER_VERSION}, schema {SCHEMA_VERSION}): "
            "rebuild needed, run `python -m indexer rebuild`"
        )
    return meta


def open_generation(gen: Path) -> whoosh_index.Index:
    """Open a generation after the cheap integrity check (every file there, at its size);
    raise ``IndexDamagedError`` naming a missing or resized file."""
    _integrity.quick_check(gen)
    try:
        return whoosh_index.open_dir(str(gen))
    except (AttributeError, ImportError, ModuleNotFoundError) as exc:
        raise IndexVersionError(f"the index in {gen.parent} uses analyzers this version lacks: rebuild needed") from exc
    except (whoosh_index.EmptyIndexError, OSError, EOFError, ValueError) as exc:
        raise IndexNotFoundError(f"the index in {gen.parent} cannot be opened: {exc}") from exc


def write_meta(gen: Path, **extra: object) -> None:
    meta = {"analyzer_version": ANALYZER_VERSION, "schema_version": SCHEMA_VERSION, **extra}
    _atomic_write(gen / META, json.dumps(meta, ensure_ascii=False, indent=1))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def new_building_dir(index_dir: Path) -> Path:
    path = index_dir / f"{BUILDING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir(parents=True)
    return path


def publish(index_dir: Path, building: Path, *, previous: Path | None = None) -> Path:
    """Checksum a finished build, move it into place and make it the served generation.

    ``previous`` is the generation an update was cloned from: the files it shares
    (hard links) keep their recorded checksums.
    """
    _integrity.write_manifest(building, previous=previous)
    for path in building.iterdir():
        if path.is_dir():  # a Xapian shard: its own commit has synced it
            continue
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    gen = index_dir / f"{GEN_PREFIX}{time.time_ns():020d}-{secrets.token_hex(3)}"  # sorts by age
    os.rename(building, gen)
    _fsync_dir(index_dir)
    _atomic_write(index_dir / CURRENT, gen.name + "\n")
    return gen


def remove_stale(index_dir: Path, *, keep: int = 2) -> list[str]:
    """Delete leftover build folders and all but the newest ``keep`` generations.

    Called with the writer lock held, so any ``.building-*`` folder is from a
    writer that died. The previous generation is kept for readers that still
    have it open.
    """
    removed: list[str] = []
    current = (index_dir / CURRENT).read_text("utf-8").strip() if (index_dir / CURRENT).exists() else None
    for path in index_dir.glob(f"{BUILDING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    for path in index_dir.glob(f".{CURRENT}.*.tmp"):
        path.unlink(missing_ok=True)
    gens = sorted((p for p in index_dir.glob(f"{GEN_PREFIX}*") if p.name != current), key=lambda p: p.name)
    for path in gens[: max(0, len(gens) - (keep - 1))]:
        shutil.rmtree(path, ignore_errors=True)
    return removed


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the one-writer lock, or raise ``IndexLockedError`` at once."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IndexWriteError(f"cannot write to {index_dir}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise IndexLockedError(
                f"another rebuild/update/delete (pid {holder}) is writing to {index_dir}; try again when it ends"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        # flock belongs to the open file, which forked worker processes share:
        # close it in every child so that only this process holds the lock and
        # a killed writer's orphans cannot keep it.
        _lock_fds.add(fd)
        yield
    finally:
        _lock_fds.discard(fd)
        os.close(fd)


_lock_fds: set[int] = set()


def _close_lock_fds_in_child() -> None:
    for fd in list(_lock_fds):
        try:
            os.close(fd)
        except OSError:
            pass
    _lock_fds.clear()


os.register_at_fork(after_in_child=_close_lock_fds_in_child)


def clone_generation(gen: Path, building: Path) -> None:
    """Hard-link a generation's files into ``building``: Whoosh never rewrites a
    segment file, so the clone can take an update while ``gen`` keeps serving."""
    for path in gen.iterdir():
        if path.is_file() and not path.name.endswith("WRITELOCK"):
            try:
                os.link(path, building / path.name)
            except OSError:
                shutil.copy2(path, building / path.name)


def disk_usage(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
