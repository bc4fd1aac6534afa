"""``python -m indexer check``: is the served index sound?

First every file against the checksum written with it (``_integrity``), then
what the index itself promises: the article count of its metadata, one stored
record with an id per document, unique ids, per-document columns as long as
their segment, term statistics within the segment, a readable vocabulary.
Each problem is one line naming the file or the rule; none is fixed here
(``rebuild`` writes a sound index beside the damaged one).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as whoosh_index

from indexer import _integrity, _store, settings
from indexer import schema as F
from indexer.vocab import VOCAB_FILE, read_vocab
from indexer.errors import IndexDamagedError, IndexNotFoundError

# What reading a damaged Whoosh file raises, besides OSError.
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, struct.error, pickle.UnpicklingError,
                IndexError, KeyError, AssertionError, UnicodeDecodeError, TypeError)


@dataclass
class CheckReport:
    index_dir: str
    generation: str
    files: int = 0
    bytes: int = 0
    articles: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    recorded: bool = False  # ``--record`` wrote the checksums of a generation Whoosh's writer changed

    @property
    def ok(self) -> bool:
        return not self.problems


def check_index(index_dir: str | os.PathLike[str] | None = None, *, record: bool = False) -> CheckReport:
    """Verify the served generation; raise only when there is no index to check.

    ``record``: when Whoosh's own writer committed to the generation after its
    checksums were written, check everything else and, if sound, record the
    files (and the article count) as they now are. Holds the writer lock.
    """
    root = settings.index_dir(index_dir)
    with _store.writer_lock(root) if record else contextlib.nullcontext():
        started = time.perf_counter()
        gen = _store.served_generation(root)
        report = CheckReport(str(root), gen.name)
        vouching = record and _integrity.changed_since(gen) is not None
        problems = list(_integrity.checksum_problems(gen))
        report.problems.extend(problems[1:] if vouching else problems)  # the first says what is to be vouched for
        try:
            listed = _integrity.read_manifest(gen)
            report.files = len(listed)
            report.bytes = sum(entry["size"] for entry in listed.values())
        except IndexDamagedError:
            pass
        if not report.problems:
            try:
                _store.check_meta(gen)
            except IndexNotFoundError as exc:  # a version mismatch too: this code cannot vouch for that index
                report.problems.append(str(exc))
        if not report.problems:  # reading damaged bytes proves nothing more
            report.problems.extend(_invariant_problems(gen, report, count_in_meta=not vouching))
        if vouching and not report.problems:
            meta = json.loads((gen / _store.META).read_text("utf-8"))
            _store.write_meta(gen, **{**meta, "articles": report.articles})
            listed = _integrity.write_manifest(gen)
            report.files, report.bytes = len(listed), sum(entry["size"] for entry in listed.values())
            report.recorded = True
        report.seconds = time.perf_counter() - started
    return report


def _invariant_problems(gen: Path, report: CheckReport, *, count_in_meta: bool = True) -> Iterator[str]:
    try:
        ix = whoosh_index.open_dir(str(gen))
        reader = ix.reader()
    except (*_READ_ERRORS, whoosh_index.EmptyIndexError) as exc:
        yield f"{gen}: Whoosh cannot open it ({type(exc).__name__}: {exc})"
        return
    try:
        yield from _segments(reader, report)
        meta = json.loads((gen / _store.META).read_text("utf-8"))
        if count_in_meta and meta.get("articles") != reader.doc_count():
            yield f"{gen / _store.META}: says {meta.get('articles')} articles, the index holds {reader.doc_count()}"
    except _READ_ERRORS as exc:
        yield f"{gen}: unreadable ({type(exc).__name__}: {str(exc)[:200]})"
    finally:
        reader.close()
    yield from _vocab_problems(gen / VOCAB_FILE)


def _segments(reader: object, report: CheckReport) -> Iterator[str]:
    seen: dict[str, str] = {}
    schema = reader.schema  # type: ignore[attr-defined]
    columns = [name for name, fld in schema.items() if fld.column_type is not None]
    indexed = [name for name, fld in schema.items() if fld.indexed]
    for leaf, _base in reader.leaf_readers():  # type: ignore[attr-defined]
        segment = leaf.segment()
        where = f"segment {segment.segment_id()}"
        total = leaf.doc_count_all()
        for docnum in range(total):
            if leaf.is_deleted(docnum):
                continue
            stored = leaf.stored_fields(docnum)
            article_id = stored.get(F.ID_FIELD)
            if not isinstance(article_id, str) or not article_id:
                yield f"{where}: document {docnum} has no id"
                continue
            if article_id in seen:
                yield f"{where}: id {article_id!r} is indexed twice (also in {seen[article_id]})"
            seen[article_id] = where
            report.articles += 1
        for name in columns:
            if leaf.has_column(name):
                length = len(leaf.column_reader(name, translate=False))
                if length != total:
                    yield f"{where}: column {name!r} holds {length} values for {total} documents"
        bad_terms = 0
        for (name, btext), info in leaf:  # every term of every field: reads the whole term file
            df = info.doc_frequency()
            if not 0 < df <= total or name not in indexed:
                bad_terms += 1
                if bad_terms == 1:
                    yield f"{where}: term {name}:{btext[:40]!r} is in {df} of {total} documents"
        if bad_terms > 1:
            yield f"{where}: {bad_terms - 1} more terms like it"


def _vocab_problems(path: Path) -> Iterator[str]:
    try:
        for _entry in read_vocab(path, strict=True):
            pass
    except ValueError as exc:  # a malformed line, or not UTF-8
        yield str(exc) if str(exc).startswith(str(path)) else f"{path}: not UTF-8"
    except OSError as exc:
        yield f"{path}: {exc.strerror or 'cannot be read'}"
