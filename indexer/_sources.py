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

import json
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from indexer._decode import (
    Decoded,
    UndecodableError,
    decode_lenient,
    decode_text,
    encoding_name,
    lines_encoding,
    valid_utf8,
)
from indexer._text import clean_lines, parse_page_text
from indexer.article import MAX_ID_CHARS, Article, cap_fields, derive_title
from indexer.errors import ArticleParseError
from indexer.textrules import parse_date

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_RECORD_BYTES = MAX_FILE_BYTES  # one JSON line; a longer one is skipped, as a larger file is
JSONL_SAMPLE_BYTES = 1024 * 1024  # what a JSON lines file's encoding is judged on
OUTSIDE_LINK = "symbolic link to a file outside SOURCE"
HTML_SUFFIXES = {".html", ".htm", ".shtml", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
TEXT_SUFFIXES = {".txt", ".text", ""}
RECORD_SUFFIXES = {".dat", ".xml", ".trec", ".sgml"}
_SOGOU_DOC = re.compile(r"<doc>(.*?)</doc>", re.S)
_SOGOU_FIELD = re.compile(r"<(url|docno|contenttitle|content)>(.*?)</\1>", re.S)
_URL_DATE = re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/")
# A line that stands in this share of a folder's text files (and in at least
# three of them) is site boilerplate, not article text.
BOILERPLATE_SHARE = 0.3
BOILERPLATE_MIN_FILES = 3


@dataclass(frozen=True)
class Skipped:
    """An input item that did not become an article, and why."""

    item: str
    reason: str


@dataclass(frozen=True)
class Note:
    """An input item that was indexed with a change (bytes replaced, a field cut), and which."""

    item: str
    note: str


Item = Article | Skipped


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
            yield from _read_jsonl(path, rel)
            return
        if suffix not in HTML_SUFFIXES | TEXT_SUFFIXES | RECORD_SUFFIXES:
            raise ArticleParseError(rel, f"unsupported file type {suffix!r}")
        if size > MAX_FILE_BYTES:
            raise ArticleParseError(rel, f"file too large ({size / 2**20:.1f} MB > {MAX_FILE_BYTES // 2**20} MB)")
        decoded = _decode(path.read_bytes(), rel)
        text = decoded.text
        head = text[:2048].lstrip().lower()
        notes = (_replaced_note(decoded.replaced, decoded.encoding),) if decoded.replaced else ()
        if suffix in RECORD_SUFFIXES or head.startswith(("<doc>", "<docs>", "<doclist>")):
            if "<doc>" in text[:4096]:
                for item in _read_doc_records(text, rel):
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
        yield Skipped(rel, _failure(exc))


def _replaced_note(bad: int, encoding: str) -> str:
    return f"{bad} invalid {encoding_name(encoding)} byte sequence{'s' if bad > 1 else ''} replaced with U+FFFD"


def _failure(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"cannot read ({type(exc).__name__}: {message[:200]})" if message else f"cannot read ({type(exc).__name__})"


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


def _finish(
    rel: str, *, title: str | None, body: str, published: datetime | None = None, article_id: str | None = None,
    notes: tuple[str, ...] = (), **fields: str | None,
) -> Article:
    """The article of ``rel``, its fields stripped and capped (``article.cap_fields``)."""
    article_id = article_id or rel
    if len(article_id) > MAX_ID_CHARS:
        raise ArticleParseError(rel, f"id too long ({len(article_id):,} characters > {MAX_ID_CHARS:,})")
    body = body.strip()
    if not body and not (title or "").strip():
        raise ArticleParseError(rel, "no text")
    if not body:
        body = title or ""
    title = (title or "").strip()
    derived = not title
    return cap_fields(Article(
        id=article_id,
        title=title or derive_title(body),
        body=body,
        published=published,
        title_derived=derived,
        origin=fields.pop("origin", None) or rel,
        notes=notes,
        **{k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in fields.items()},
    ))


def _from_page_text(text: str, rel: str, boilerplate: frozenset[str]) -> Article:
    page = parse_page_text(text, boilerplate=boilerplate)
    return _finish(
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
    return _finish(
        rel, title=page.title, body=page.body, published=page.published,
        source=page.source, author=page.author, url=page.url,
    )


def _read_jsonl(path: Path, rel: str) -> Iterator[Item]:
    """One record per line. The file's encoding is judged once, on its first
    ``JSONL_SAMPLE_BYTES``: a line that is not valid in it is read with a few
    bad bytes replaced, or skipped, never guessed to be in another encoding."""
    with path.open("rb") as fh:
        sample = fh.read(JSONL_SAMPLE_BYTES)
        encoding = lines_encoding(sample, complete=len(sample) < JSONL_SAMPLE_BYTES)
        fh.seek(0)
        for lineno, raw in enumerate(_lines(fh), 1):
            where = f"{rel}:{lineno}"
            if isinstance(raw, int):
                yield Skipped(where, f"record too large ({raw / 2**20:.1f} MB > {MAX_RECORD_BYTES // 2**20} MB)")
                continue
            if not raw.strip():
                continue
            try:
                yield _from_line(raw, where, encoding=encoding, first=lineno == 1)
            except ArticleParseError as exc:
                yield Skipped(exc.path, exc.reason)
            except Exception as exc:  # one line's surprise is that line's skip
                yield Skipped(where, _failure(exc))


def _lines(fh: BinaryIO) -> Iterator[bytes | int]:
    """The lines of ``fh``; for one longer than ``MAX_RECORD_BYTES``, which is not held in memory, its length."""
    while raw := fh.readline(MAX_RECORD_BYTES + 1):
        if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            while (rest := fh.readline(JSONL_SAMPLE_BYTES)) and not rest.endswith(b"\n"):
                size += len(rest)
            yield size + len(rest)
        else:
            yield raw


def _from_line(raw: bytes, where: str, *, encoding: str, first: bool) -> Article:
    notes: tuple[str, ...] = ()
    try:
        if encoding != "utf-8" and not raw.isascii() and valid_utf8(raw):
            # Chinese in GB18030 or Big5 is almost never valid UTF-8: this line is UTF-8 in a mixed file.
            line = raw.decode("utf-8")
            notes = (f"read as UTF-8 (the file is {encoding_name(encoding)})",)
        else:
            line = raw.decode("utf-8-sig" if first and encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        lenient = decode_lenient(raw, encoding)
        name = encoding_name(encoding)
        if lenient is None:
            raise ArticleParseError(where, f"invalid {name} at byte {exc.start + 1}, too damaged to repair (the file is read as {name})") from exc
        line, bad = lenient
        notes = (_replaced_note(bad, encoding),)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ArticleParseError(where, f"invalid JSON ({exc.msg.removesuffix(' at')}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise ArticleParseError(where, "invalid JSON (nested too deeply)") from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ArticleParseError(where, f"invalid JSON ({str(exc).split(';')[0]})") from exc
    if not isinstance(record, dict):
        raise ArticleParseError(where, "not a JSON object")
    if _SURROGATE_ESCAPE.search(line):
        cleaned = {k: _without_surrogates(v) for k, v in record.items()}
        if cleaned != record:
            record = cleaned
            notes += ("lone surrogate escapes (half characters) replaced with U+FFFD",)
    return _from_record(record, where, notes=notes)


# JSON may escape half of a UTF-16 surrogate pair alone ("\ud83d"): Python reads it as a
# lone surrogate, which no UTF-8 file can hold (the index writer fails on it).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: object) -> object:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    return value


def _text_field(record: dict[str, object], *names: str) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "\n".join(value)  # type: ignore[arg-type]
    return None


def _from_record(record: dict[str, object], where: str, *, notes: tuple[str, ...] = ()) -> Article:
    raw_id = record.get("id")
    valid_id = isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id).strip()
    body = _text_field(record, "text", "body", "content") or ""
    body = "\n".join(clean_lines(body))
    return _finish(
        where,
        article_id=str(raw_id) if valid_id else where,
        title=_text_field(record, "title"),
        body=body,
        published=parse_date(_text_field(record, "date", "published", "publish_time", "time")),
        source=_text_field(record, "source"),
        category=_text_field(record, "category"),
        url=_text_field(record, "url"),
        author=_text_field(record, "author"),
        origin=where,
        notes=notes,
    )


def _read_doc_records(text: str, rel: str) -> Iterator[Item]:
    for n, match in enumerate(_SOGOU_DOC.finditer(text), 1):
        fields = {m.group(1): m.group(2) for m in _SOGOU_FIELD.finditer(match.group(1))}
        where = f"{rel}#{n}"
        url = (fields.get("url") or "").strip() or None
        body = "\n".join(clean_lines(fields.get("content", "").replace("\ue40c", "\n")))
        published = None
        if url and (d := _URL_DATE.search(url)):
            published = parse_date("-".join(d.groups()))
        host = urlsplit(url).hostname if url else None
        docno = (fields.get("docno") or "").strip()
        try:
            yield _finish(
                where,
                article_id=docno or where,
                title=fields.get("contenttitle"),
                body=body,
                published=published,
                source=host,
                category=host.split(".")[0] if host else None,
                url=url,
                origin=where,
            )
        except ArticleParseError as exc:
            yield Skipped(exc.path, exc.reason)


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
