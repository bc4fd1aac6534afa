"""Checksums of a generation's files, and the checks that read them back.

Every file of a generation is listed in ``zhsearch-files.json`` with its size
and CRC-32, written when the generation is published (as Lucene's per-file
footers and SQLite's ``PRAGMA integrity_check`` do, a copy damaged later on
disk, by a bad sync or a full disk outside the build, can then be told from a
sound one). Opening a generation runs the cheap check (every listed file is
there with its size: one ``stat`` each); ``python -m indexer check`` runs the
full one (every byte against its checksum, then the index's own invariants).
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

from indexer.errors import IndexDamagedError

MANIFEST = "zhsearch-files.json"
MANIFEST_VERSION = 1
# Whoosh's lock file: empty, created and removed by writers, not part of the index.
_NOT_LISTED = frozenset({MANIFEST, "MAIN_WRITELOCK"})
_CHUNK = 1 << 20
_TOC = re.compile(r"^_MAIN_(\d+)\.toc$")  # Whoosh's table of contents, one per commit


def latest_toc(gen: Path) -> str | None:
    """The newest Whoosh commit's TOC file in ``gen`` (the one Whoosh opens)."""
    tocs = [(int(m.group(1)), p.name) for p in gen.iterdir() if (m := _TOC.match(p.name))]
    return max(tocs)[1] if tocs else None


def changed_since(gen: Path) -> str | None:
    """The newer TOC when Whoosh's own writer committed to ``gen`` after its checksums were written."""
    try:
        recorded = json.loads((gen / MANIFEST).read_text("utf-8")).get("toc")
    except (OSError, ValueError, AttributeError):
        return None
    latest = latest_toc(gen)
    return latest if recorded and latest and latest != recorded else None


def crc32_of(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _listed(gen: Path) -> list[Path]:
    return sorted(p for p in gen.iterdir() if p.is_file() and p.name not in _NOT_LISTED and not p.name.startswith("."))


def write_manifest(gen: Path, *, previous: Path | None = None) -> dict[str, dict[str, int]]:
    """Checksum every file of ``gen`` into its manifest and fsync it.

    A file hard-linked from ``previous`` (the clone an update starts from) is the
    very same inode, so its recorded checksum is reused rather than recomputed.
    """
    known: dict[str, dict[str, int]] = {}
    if previous is not None:
        try:
            known = read_manifest(previous)
        except IndexDamagedError:
            known = {}
    files: dict[str, dict[str, int]] = {}
    for path in _listed(gen):
        st = path.stat()
        old = known.get(path.name)
        if old is not None and old["size"] == st.st_size and _same_inode(path, previous / path.name if previous else None):
            files[path.name] = dict(old)
        else:
            files[path.name] = {"size": st.st_size, "crc32": crc32_of(path)}
    text = json.dumps({"version": MANIFEST_VERSION, "toc": latest_toc(gen), "files": files}, indent=0, sort_keys=True)
    tmp = gen / f".{MANIFEST}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:  # a new inode: never the clone's hard link to the old manifest
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, gen / MANIFEST)
    return files


def _same_inode(path: Path, other: Path | None) -> bool:
    if other is None:
        return False
    try:
        a, b = path.stat(), other.stat()
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def read_manifest(gen: Path) -> dict[str, dict[str, int]]:
    try:
        data = json.loads((gen / MANIFEST).read_text("utf-8"))
        files = data["files"]
        if data.get("version") != MANIFEST_VERSION or not isinstance(files, dict):
            raise ValueError("unknown manifest version")
        for entry in files.values():
            if not (isinstance(entry.get("size"), int) and isinstance(entry.get("crc32"), int)):
                raise ValueError("malformed entry")
        return files
    except FileNotFoundError:
        raise IndexDamagedError(f"{gen / MANIFEST}: missing (the index is incomplete); "
                                "rebuild it with `python -m indexer rebuild`") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexDamagedError(f"{gen / MANIFEST}: unreadable ({exc}); rebuild it with `python -m indexer rebuild`") from exc


def quick_problems(gen: Path) -> Iterator[str]:
    """Missing files and wrong sizes: a ``stat`` per file, cheap enough for every open.

    After a commit by Whoosh's own writer (a newer TOC than the one recorded), the
    files it merged away are no longer needed and the ones it wrote are not listed:
    only the listed files still there are held to their sizes.
    """
    try:
        files = read_manifest(gen)
    except IndexDamagedError as exc:
        yield str(exc)
        return
    rewritten = changed_since(gen) is not None
    for name, entry in files.items():
        path = gen / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            if not rewritten:
                yield f"{path}: missing"
            continue
        except OSError as exc:
            yield f"{path}: {exc.strerror or 'cannot be read'}"
            continue
        if size != entry["size"]:
            yield f"{path}: {size} bytes, {entry['size']} when it was written"


def quick_check(gen: Path) -> None:
    """Raise ``IndexDamagedError`` naming the first missing or resized file of ``gen``."""
    for problem in quick_problems(gen):
        raise IndexDamagedError(f"the index is damaged: {problem}; rebuild it with `python -m indexer rebuild`")


def checksum_problems(gen: Path) -> Iterator[str]:
    """Every byte of every listed file against its checksum, and files nobody listed."""
    try:
        files = read_manifest(gen)
    except IndexDamagedError as exc:
        yield str(exc)
        return
    newer = changed_since(gen)
    if newer is not None:
        yield (f"{gen / newer}: Whoosh's own writer committed after the checksums were written; its files are "
               "unverified (after checking the index, `python -m indexer check --record` vouches for them)")
    for name, entry in sorted(files.items()):
        path = gen / name
        if newer is not None and not path.exists():
            continue  # merged away by that commit
        try:
            size = path.stat().st_size
            if size != entry["size"]:
                yield f"{path}: {size} bytes, {entry['size']} when it was written"
            elif crc32_of(path) != entry["crc32"]:
                yield f"{path}: checksum mismatch (the file changed on disk after it was written)"
        except OSError as exc:
            yield f"{path}: {exc.strerror or 'cannot be read'}"
    if newer is None:
        for path in _listed(gen):
            if path.name not in files:
                yield f"{path}: not part of the index (added after it was written)"
