"""Walk SOURCE files and folders and turn what they hold into articles.

Formats, recognised by extension and then by content: raw page text
(``.txt``), HTML pages, JSON lines, and Sogou ``<doc>`` record files; in
UTF-8, GB18030 or Big5. Whatever cannot become an article is reported as a
``Skipped`` item with a one-line reason; nothing here raises at the caller:
one bad file, line or record never stops the others. What reading changed in
an article that was still indexed is in its ``notes``.

A file symlink under a SOURCE folder is read only when it points inside that
folder (``follow_symlinks=True`` reads them all); symlinked folders are never
followed. A SOURCE that is itself a symlink is followed: it was named.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from indexer._decode import Decoded, UndecodableError, decode_text
from indexer._items import MAX_FILE_BYTES, Item, Skipped, failure, finish, replaced_note
from indexer._records import read_doc_records, read_jsonl
from indexer._text import clean_lines, parse_page_text
from indexer.article import Article
from indexer.errors import ArticleParseError
from indexer.textrules import parse_date

OUTSIDE_LINK = "symbolic link to a file outside SOURCE"
HTML_SUFFIXES = {".html", ".htm", ".shtml", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
TEXT_SUFFIXES = {".txt", ".text", ""}
RECORD_SUFFIXES = {".dat", ".xml", ".trec", ".sgml"}
# A line that stands in this share of a folder's text files (and in at least
# three of them) is site boilerplate, not article text.
BOILERPLATE_SHARE = 0.3
BOILERPLATE_MIN_FILES = 3


def shown_name(name: str) -> str:
    """A file name as an id or report item: the bytes of a name that is not UTF-8 (which
    ``os`` hands over as surrogate escapes, and which cannot be written to the index) as ``\\xNN``."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def iter_files(source: Path, *, follow_symlinks: bool = False) -> Iterator[Path]:
    """The files under ``source`` that are read, in a stable order (see ``_walk``)."""
    for entry in _walk(source, root=source, follow_symlinks=follow_symlinks):
        if isinstance(entry, Path):
            yield entry


def _walk(source: Path, *, root: Path, follow_symlinks: bool) -> Iterator[Path | Skipped]:
    """Files under ``source`` in a stable order, hidden ones left out; file symlinks pointing
    outside ``source`` are ``Skipped`` unless ``follow_symlinks``; symlinked folders are not followed."""
    if source.is_file():
        yield source
        return
    inside = os.path.realpath(source)
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            if not follow_symlinks and path.is_symlink() and not _within(os.path.realpath(path), inside):
                yield Skipped(_rel(path, root), OUTSIDE_LINK)
            else:
                yield path


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _rel(path: Path, root: Path, *, shown: bool = True) -> str:
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    return shown_name(rel) if shown else rel


def read_sources(sources: Iterable[str | os.PathLike[str]], *, follow_symlinks: bool = False) -> Iterator[Item]:
    """Every article (or skip report) found under ``sources``."""
    for raw in sources:
        source = Path(raw)
        if not source.exists():
            yield Skipped(shown_name(str(source)), "no such file or folder")
            continue
        if not (source.is_file() or source.is_dir()):
            yield Skipped(shown_name(str(source)), "not a regular file or folder")
            continue
        root = source.parent if source.is_file() else source
        boilerplate = _folder_boilerplate(source, follow_symlinks=follow_symlinks) if source.is_dir() else {}
        for entry in _walk(source, root=root, follow_symlinks=follow_symlinks):
            if isinstance(entry, Skipped):
                yield entry
            else:
                yield from read_file(entry, root=root, boilerplate=boilerplate.get(entry.parent, frozenset()))


def read_file(path: Path, *, root: Path, boilerplate: frozenset[str] = frozenset()) -> Iterator[Item]:
    rel = _rel(path, root)
    if rel != _rel(path, root, shown=False):
        note = "file name is not UTF-8: its undecodable bytes are written as \\xNN in the id"
        for item in _read_file(path, rel, boilerplate):
            yield replace(item, notes=(note, *item.notes)) if isinstance(item, Article) else item
        return
    yield from _read_file(path, rel, boilerplate)


def _read_file(path: Path, rel: str, boilerplate: frozenset[str]) -> Iterator[Item]:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ArticleParseError(rel, "not a regular file")
        size = info.st_size
        if size == 0:
            raise ArticleParseError(rel, "empty file")
        suffix = path.suffix.lower()
        if suffix in JSONL_SUFFIXES:
            yield from read_jsonl(path, rel)
            return
        if suffix not in HTML_SUFFIXES | TEXT_SUFFIXES | RECORD_SUFFIXES:
            raise ArticleParseError(rel, f"unsupported file type {suffix!r}")
        if size > MAX_FILE_BYTES:
            raise ArticleParseError(rel, f"file too large ({size / 2**20:.1f} MB > {MAX_FILE_BYTES // 2**20} MB)")
        decoded = _decode(path.read_bytes(), rel)
        text = decoded.text
        head = text[:2048].lstrip().lower()
        notes = (replaced_note(decoded.replaced, decoded.encoding),) if decoded.replaced else ()
        if suffix in RECORD_SUFFIXES or head.startswith(("<doc>", "<docs>", "<doclist>")):
            if "<doc>" in text[:4096]:
                for item in read_doc_records(text, rel):
                    yield replace(item, notes=notes + item.notes) if isinstance(item, Article) and notes else item
                return
            if suffix in RECORD_SUFFIXES:
                raise ArticleParseError(rel, "XML without <doc> records (RSS and other XML are not articles)")
        if suffix in HTML_SUFFIXES or head.startswith(("<!doctype html", "<html")):
            article = _from_html(text, rel)
        else:
            article = _from_page_text(text, rel, boilerplate)
        yield replace(article, notes=notes + article.notes) if notes else article
    except ArticleParseError as exc:
        yield Skipped(exc.path, exc.reason)
    except OSError as exc:
        yield Skipped(rel, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a reader's own failure on odd input: this file only, never the build
        yield Skipped(rel, failure(exc))


def parse_article(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> Article:
    """Parse one single-article file (raw page text or HTML); raise ``ArticleParseError``."""
    p = Path(path)
    items = list(read_file(p, root=Path(root) if root else p.parent))
    if len(items) != 1:
        raise ArticleParseError(str(p), f"holds {len(items)} records, not one article")
    item = items[0]
    if isinstance(item, Skipped):
        raise ArticleParseError(item.item, item.reason)
    return item


def _decode(data: bytes, rel: str) -> Decoded:
    try:
        return decode_text(data)
    except UndecodableError as exc:
        raise ArticleParseError(rel, str(exc)) from exc


def _from_page_text(text: str, rel: str, boilerplate: frozenset[str]) -> Article:
    page = parse_page_text(text, boilerplate=boilerplate)
    return finish(
        rel,
        title=page.title,
        body=page.body,
        published=parse_date(page.published_text),
        source=page.source,
        category=page.category,
        author=page.author,
        editor=page.editor,
        original_title=page.original_title,
    )


def _from_html(text: str, rel: str) -> Article:
    from indexer._html import extract_html

    page = extract_html(text, url=rel)
    return finish(
        rel, title=page.title, body=page.body, published=page.published,
        source=page.source, author=page.author, url=page.url,
    )


def _folder_boilerplate(source: Path, *, follow_symlinks: bool) -> dict[Path, frozenset[str]]:
    """Lines repeated across many raw-text files of one folder (cross-document evidence)."""
    by_dir: dict[Path, list[Path]] = {}
    for path in iter_files(source, follow_symlinks=follow_symlinks):
        if path.suffix.lower() in TEXT_SUFFIXES - {""}:
            by_dir.setdefault(path.parent, []).append(path)
    found: dict[Path, frozenset[str]] = {}
    for folder, paths in by_dir.items():
        if len(paths) < BOILERPLATE_MIN_FILES:
            continue
        counts: Counter[str] = Counter()
        for path in paths[:2000]:
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                counts.update(set(clean_lines(decode_text(path.read_bytes()).text)))
            except (OSError, UndecodableError):
                continue
        need = max(BOILERPLATE_MIN_FILES, BOILERPLATE_SHARE * min(len(paths), 2000))
        found[folder] = frozenset(line for line, n in counts.items() if n >= need)
    return found
