"""Build, update and delete: the library behind ``python -m indexer``."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.util.times import long_to_datetime
from whoosh.writing import OPTIMIZE, IndexWriter

from indexer import _store, analysis, settings
from indexer._merge import small_merge
from indexer._writer import ParallelWriter, PooledSegmentWriter
from indexer.normalize import normalize
from indexer._items import Item, Note, Skipped
from indexer._sources import read_sources
from indexer.vocab import write_vocab
from indexer.colcodes import write_codes
from indexer.matchtext import match_text
from indexer.textrules import SENTENCE_END
from indexer.article import Article
from indexer.errors import IndexerError, IndexWriteError
from indexer import schema as F

Progress = Callable[[int], None]
_NON_WORD = re.compile(r"[\W_]+")
WRITER_MEMORY_MB = 256
GC_THRESHOLD = 100_000  # allocations between young-generation collections (Python's default: 700)


@dataclass
class BuildReport:
    """What a rebuild, update or delete did; the CLI prints it."""

    action: str
    index_dir: str
    indexed: int = 0
    replaced: int = 0
    deleted: int = 0
    not_found: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)  # indexed, with a change: bytes replaced, a field cut
    cleaned: list[str] = field(default_factory=list)
    seconds: float = 0.0
    segments: int = 0  # in the index written
    merged: int = 0  # segments merged (or, all deleted, dropped) into it

    @property
    def articles_per_second(self) -> float:
        return (self.indexed + self.replaced) / self.seconds if self.seconds else 0.0


def reprint_key(article: Article) -> str:
    """Key shared by reprints of one story: its longest sentence, normalised.

    Reprints change lead-ins, credits and punctuation, but keep the story's
    sentences; two different stories almost never share their longest one.
    """
    sentences = [_NON_WORD.sub("", s) for s in SENTENCE_END.split(normalize(article.body))]
    longest = max(sentences, key=lambda s: (len(s), s), default="")
    basis = longest if len(longest) >= 20 else _NON_WORD.sub("", normalize(article.title + article.body))
    return hashlib.blake2b(basis.encode("utf-8"), digest_size=8).hexdigest()


def to_document(article: Article) -> dict[str, object]:
    doc: dict[str, object] = {
        F.ID_FIELD: article.id,
        F.BODY: article.body,
        F.BODY_CHARS: article.body,
        F.HEADLINE: article.title,
        F.TITLE_DERIVED: article.title_derived,
        F.CONTENT_HASH: article.content_hash,
        F.DUP_KEY: reprint_key(article),
    }
    title = None
    if not article.title_derived:
        title = article.title if not article.original_title else f"{article.title}\n{article.original_title}"
        doc[F.TITLE] = doc[F.TITLE_CHARS] = title
    doc[F.MATCH_TEXT] = match_text(title, article.body)
    if article.published:
        doc[F.PUBLISHED] = article.published
        doc[F.YEAR] = str(article.published.year)
    for name, value in (
        (F.SOURCE, article.source), (F.CATEGORY, article.category), (F.URL, article.url),
        (F.AUTHOR, article.author), (F.EDITOR, article.editor),
        (F.ORIGINAL_TITLE, article.original_title), (F.ORIGIN, article.origin),
    ):
        if value:
            doc[name] = value
    return doc


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Run Python's cycle collector rarely while millions of postings are pooled
    (the forked workers inherit it): each full collection walks them all, and
    there are no cycles to find. About 3 % of a whole-corpus build."""
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextlib.contextmanager
def _new_generation(root: Path, previous: Path | None = None) -> Iterator[Path]:
    """A folder for the next generation, published when the block ends well.

    On any failure (an exception, Ctrl-C) the folder is removed and the served
    generation is untouched; write errors become ``IndexWriteError``.
    """
    building: Path | None = None
    try:
        building = _store.new_building_dir(root)
        yield building
        _store.publish(root, building, previous=previous)
    except OSError as exc:
        raise IndexWriteError(f"cannot write the index in {root}: {exc.strerror or exc}; the previous index is intact") from exc
    finally:
        if building is not None and building.exists():
            shutil.rmtree(building, ignore_errors=True)


def _finish_generation(ix: whoosh_index.Index, building: Path, articles: int, *, previous: Path | None = None) -> None:
    write_vocab(ix, building, previous=previous)
    with ix.reader() as reader:
        write_codes(building, reader)
    _store.write_meta(building, articles=articles, built=time.strftime("%Y-%m-%dT%H:%M:%S"))


def _articles(items: Iterable[Item], report: BuildReport, progress: Progress | None) -> Iterable[Article]:
    for item in items:
        if isinstance(item, Skipped):
            report.skipped.append(item)
        else:
            yield item
        if progress:
            progress(1)


def _document(article: Article, report: BuildReport) -> dict[str, object] | None:
    """The fields to write, checked here: a document the writer (or a worker process) fails on
    half-way would abort the build. None, and the article reported as skipped, if it cannot be written."""
    try:
        doc = to_document(article)
        for value in doc.values():
            if isinstance(value, str):
                value.encode("utf-8")
    except Exception as exc:  # noqa: BLE001 - this article's failure, reported as its skip
        report.skipped.append(Skipped(article.origin or article.id, f"cannot index ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"))
        return None
    report.notes.extend(Note(article.origin or article.id, note) for note in article.notes)
    return doc


def rebuild_documents(sources: Iterable[str | os.PathLike[str]], report: BuildReport, progress: Progress | None, *,
                      follow_symlinks: bool) -> Iterator[dict[str, object]]:
    """The documents a rebuild writes: each article of ``sources`` once (a later one with the same
    id is skipped, naming the first), and every skip and note in ``report``."""
    seen: dict[str, str] = {}
    for article in _articles(read_sources(sources, follow_symlinks=follow_symlinks), report, progress):
        first = seen.get(article.id)
        if first is not None:
            report.skipped.append(Skipped(article.origin or article.id, f"duplicate id {article.id!r} (first in {first})"))
            continue
        doc = _document(article, report)
        if doc is not None:
            seen[article.id] = article.origin or article.id
            yield doc


def build_index(
    sources: Iterable[str | os.PathLike[str]],
    *,
    index_dir: str | os.PathLike[str] | None = None,
    procs: int | None = None,
    progress: Progress | None = None,
    follow_symlinks: bool = False,
) -> BuildReport:
    """Index ``sources`` into a new generation and swap it in atomically.

    File symlinks under a SOURCE folder that point outside it are skipped unless ``follow_symlinks``.
    """
    root = settings.index_dir(index_dir)
    report = BuildReport("rebuild", str(root))
    started = time.perf_counter()
    with _store.writer_lock(root), _few_collections():
        report.cleaned = _store.remove_stale(root)
        with _new_generation(root) as building:
            ix = whoosh_index.create_in(str(building), F.build_schema())
            workers = procs or settings.procs()
            writer = (ParallelWriter(ix, workers, limitmb=WRITER_MEMORY_MB) if workers > 1
                      else PooledSegmentWriter(ix, limitmb=WRITER_MEMORY_MB))
            try:
                for doc in rebuild_documents(sources, report, progress, follow_symlinks=follow_symlinks):
                    writer.add_document(**doc)
                    report.indexed += 1
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            _finish_generation(ix, building, report.indexed)
            report.segments = len(ix._segments())
        _store.remove_stale(root)
    report.seconds = time.perf_counter() - started
    return report


MergePolicy = Callable[[IndexWriter, list], list]


def _modify(index_dir: str | os.PathLike[str] | None, action: str, apply: Callable[[IndexWriter, object, BuildReport], None],
            *, merge: MergePolicy = small_merge, needed: Callable[[Path], bool] | None = None) -> BuildReport:
    """Apply a change to a copy of the served generation, merge segments as ``merge`` (a Whoosh
    merge policy, ``indexer._merge``) picks, then swap it in like a rebuild; unless ``needed``
    says of the served generation that there is nothing to do."""
    root = settings.index_dir(index_dir)
    report = BuildReport(action, str(root))
    started = time.perf_counter()
    with _store.writer_lock(root):
        report.cleaned = _store.remove_stale(root)
        gen = _store.current_generation(root)
        if needed is not None and not needed(gen):
            report.segments = len(_store.open_generation(gen)._segments())
            report.seconds = time.perf_counter() - started
            return report
        with _new_generation(root, gen) as building:
            _store.clone_generation(gen, building)
            ix = _store.open_generation(building)
            before = len(ix._segments())
            writer = PooledSegmentWriter(ix, limitmb=WRITER_MEMORY_MB)
            try:
                with ix.searcher() as searcher, analysis.deferred_dictionary():
                    apply(writer, searcher, report)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(mergetype=merge)
            report.segments = len(ix._segments())
            report.merged = before - (report.segments - (1 if writer._added else 0))  # _added: a new segment was written
            _finish_generation(ix, building, ix.doc_count(), previous=gen)
        _store.remove_stale(root)
    report.seconds = time.perf_counter() - started
    return report


def _sharded(index_dir: str | os.PathLike[str] | None) -> Callable[..., BuildReport] | None:
    """For an index of Xapian shards, the function that changes it; None for a Whoosh index."""
    root = settings.index_dir(index_dir)
    if _store.check_meta(_store.served_generation(root)).get("backend") != "xapian":
        return None
    from indexer._xapian import modify_shards

    return lambda action, **kw: modify_shards(root, action, **kw)


def update_index(
    sources: Iterable[str | os.PathLike[str]],
    *,
    index_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    follow_symlinks: bool = False,
) -> BuildReport:
    """Add the articles in ``sources``, replacing those whose id is already indexed."""
    sharded = _sharded(index_dir)
    if sharded is not None:
        return sharded("update", sources=sources, progress=progress, follow_symlinks=follow_symlinks)

    def apply(writer: IndexWriter, searcher: object, report: BuildReport) -> None:
        seen: set[str] = set()
        for article in _articles(read_sources(sources, follow_symlinks=follow_symlinks), report, progress):
            doc = _document(article, report)
            if doc is None:
                continue
            exists = article.id in seen or searcher.document_number(**{F.ID_FIELD: article.id}) is not None  # type: ignore[attr-defined]
            writer.update_document(**doc)
            seen.add(article.id)
            if exists:
                report.replaced += 1
            else:
                report.indexed += 1

    return _modify(index_dir, "update", apply)


def delete_articles(ids: Iterable[str], *, index_dir: str | os.PathLike[str] | None = None) -> BuildReport:
    """Remove the articles with these ids; unknown ids are listed in ``not_found``."""
    sharded = _sharded(index_dir)
    if sharded is not None:
        return sharded("delete", ids=ids)

    def apply(writer: IndexWriter, searcher: object, report: BuildReport) -> None:
        for article_id in dict.fromkeys(ids):
            if searcher.document_number(**{F.ID_FIELD: article_id}) is None:  # type: ignore[attr-defined]
                report.not_found.append(article_id)
            else:
                writer.delete_by_term(F.ID_FIELD, article_id)
                report.deleted += 1

    return _modify(index_dir, "delete", apply)


def optimize_index(*, index_dir: str | os.PathLike[str] | None = None) -> BuildReport:
    """Merge every segment into one, without the deleted documents, in a new generation swapped in
    atomically; an index of one segment without deletions is left as it is."""
    if _sharded(index_dir) is not None:
        raise IndexerError("optimize merges the segments of a Whoosh index; an index of Xapian shards has none")

    def needed(gen: Path) -> bool:
        segments = _store.open_generation(gen)._segments()
        return len(segments) > 1 or any(seg.has_deletions() for seg in segments)

    def apply(writer: IndexWriter, searcher: object, report: BuildReport) -> None:
        return None

    return _modify(index_dir, "optimize", apply, merge=OPTIMIZE, needed=needed)


@dataclass(frozen=True)
class IndexStats:
    index_dir: str
    generation: str
    articles: int
    sources: dict[str, int]
    first_published: str | None
    last_published: str | None
    undated: int
    bytes_on_disk: int
    built: str | None
    backend: str = "whoosh"
    shards: list[str] = field(default_factory=list)  # Xapian: the stub of each shard, to serve with xapian-tcpsrv
    shard_databases: list[str] = field(default_factory=list)  # Xapian: the current generation's databases


def index_stats(*, index_dir: str | os.PathLike[str] | None = None) -> IndexStats:
    root = settings.index_dir(index_dir)
    gen = _store.current_generation(root)
    meta = _store.check_meta(gen)
    if meta.get("backend") == "xapian":
        from indexer._xapian import shard_stats

        return shard_stats(root, gen, meta)
    ix = _store.open_generation(gen)
    with ix.searcher() as searcher:
        sources: dict[str, int] = {}
        reader = searcher.reader()
        source_col = reader.column_reader(F.SOURCE) if reader.has_column(F.SOURCE) else None
        date_col = reader.column_reader(F.PUBLISHED, translate=False) if reader.has_column(F.PUBLISHED) else None
        dates = []
        undated = 0
        for docnum in reader.all_doc_ids():
            name = (source_col[docnum] if source_col is not None else None) or "(none)"
            sources[name] = sources.get(name, 0) + 1
            value = date_col[docnum] if date_col is not None else F.NO_DATE
            if value != F.NO_DATE:
                dates.append(value)
            else:
                undated += 1
        count = searcher.doc_count()
    return IndexStats(
        index_dir=str(root),
        generation=gen.name,
        articles=count,
        sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])),
        first_published=long_to_datetime(min(dates)).isoformat(sep=" ") if dates else None,
        last_published=long_to_datetime(max(dates)).isoformat(sep=" ") if dates else None,
        undated=undated,
        bytes_on_disk=_store.disk_usage(gen),
        built=str(meta.get("built")) if meta.get("built") else None,
    )
