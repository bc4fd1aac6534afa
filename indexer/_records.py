"""Many articles in one file: JSON lines (one record a line) and Sogou ``<doc>`` record files.

Each bad line or record is a ``Skipped`` item with its ``file:line``; the others are read on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from indexer._decode import decode_lenient, encoding_name, lines_encoding, valid_utf8
from indexer._items import MAX_FILE_BYTES, Item, Skipped, failure, finish, replaced_note
from indexer._text import clean_lines
from indexer.article import Article
from indexer.errors import ArticleParseError
from indexer.textrules import parse_date

MAX_RECORD_BYTES = MAX_FILE_BYTES  # one JSON line; a longer one is skipped, as a larger file is
JSONL_SAMPLE_BYTES = 1024 * 1024  # what a JSON lines file's encoding is judged on
_SOGOU_DOC = re.compile(r"<doc>(.*?)</doc>", re.S)
_SOGOU_FIELD = re.compile(r"<(url|docno|contenttitle|content)>(.*?)</\1>", re.S)
_URL_DATE = re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/")


def read_jsonl(path: Path, rel: str) -> Iterator[Item]:
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
                yield Skipped(where, failure(exc))


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
        notes = (replaced_note(bad, encoding),)
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
    return finish(
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


def read_doc_records(text: str, rel: str) -> Iterator[Item]:
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
            yield finish(
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
