"""Building, updating and describing an index of Xapian shards (``indexer.xapianformat``).

The articles are read, checked and analysed as for the Whoosh index (the same
``to_document``, analyzers and match text); worker processes turn them into
plain term lists, and this process writes each to its shard. Like a Whoosh
build, a new generation is written beside the served one and swapped in
atomically (``CURRENT``), then each shard's stub is pointed at it.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import xapian

from indexer import _store, settings
from indexer import schema as F
from indexer import xapianformat as X
from indexer._build import BuildReport, Progress, _articles, _document, _new_generation, rebuild_documents
from indexer._sources import read_sources
from indexer.analysis import ChineseAnalyzer
from indexer.errors import IndexNotFoundError
from indexer.matchtext import SEPARATOR, gram_spans
from indexer.vocab import SMALL_INDEX_DOCS, TITLE_WEIGHT, write_vocab_weights

_words = ChineseAnalyzer()
Terms = tuple[str, list[tuple[str, int]], list[tuple[str, int, int]], list[str], dict[int, bytes], bytes]


def _analyse(doc: dict[str, Any]) -> Terms:
    """One document as plain data: id term, (term, wdf), (term, position, wdf inc), boolean terms, values, data."""
    counts: dict[str, int] = {}
    postings: list[tuple[str, int, int]] = []

    def add(field: str, text: str, n: int = 1) -> str | None:
        t = X.term(field, text)
        if t is not None:
            counts[t] = counts.get(t, 0) + n
        return t

    for field in (F.TITLE, F.BODY):
        text = doc.get(field)
        if not text:
            continue
        for token in _words(str(text), positions=True, mode="index"):
            t = X.term(field, token.text)
            if t is None:
                continue
            if field == F.BODY:
                postings.append((t, token.pos + 1, 1))
            else:
                counts[t] = counts.get(t, 0) + 1
    title, _, body = bytes(doc[F.MATCH_TEXT]).decode("utf-8").partition(SEPARATOR)  # type: ignore[arg-type]
    for field, norm in ((F.TITLE_CHARS, title), (F.BODY_CHARS, body)):
        for gram, start in gram_spans(norm):
            if len(gram) == 1:
                t = X.term(field, gram)
                if t is not None:
                    postings.append((t, start + 1, 1))
            else:
                add(field, gram)
    boolean = [X.FILTER_PREFIX[f] + str(doc[f]) for f in X.FILTER_PREFIX if doc.get(f)]
    boolean = [b for b in boolean if len(b.encode("utf-8")) <= X.MAX_TERM_BYTES]
    values: dict[int, bytes] = {X.DUP: str(doc[F.DUP_KEY]).encode("utf-8")}
    if doc.get(F.PUBLISHED):
        values[X.DATE] = xapian.sortable_serialise(X.date_key(doc[F.PUBLISHED]))  # type: ignore[arg-type]
    for field, slot in X.FACET_SLOT.items():
        if doc.get(field):
            values[slot] = str(doc[field]).encode("utf-8")
    return X.ID + str(doc[F.ID_FIELD]), list(counts.items()), postings, boolean, values, X.encode_stored(doc)


def _document_of(terms: Terms) -> xapian.Document:
    id_term, counts, postings, boolean, values, data = terms
    d = xapian.Document()
    d.add_boolean_term(id_term)
    for t, wdf in counts:
        d.add_term(t, wdf)
    for t, pos, inc in postings:
        d.add_posting(t, pos, inc)
    for b in boolean:
        d.add_boolean_term(b)
    for slot, value in values.items():
        d.add_value(slot, value)
    d.set_data(data)
    return d


def _open_shards(gen: Path, shards: int, *, create: bool) -> list[xapian.WritableDatabase]:
    flags = xapian.DB_CREATE_OR_OVERWRITE if create else xapian.DB_OPEN
    return [xapian.WritableDatabase(str(gen / X.shard_name(k)), flags) for k in range(shards)]


def _analysed(docs: Iterable[dict[str, Any]], procs: int) -> Iterator[Terms]:
    if procs <= 1:
        yield from map(_analyse, docs)
        return
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(procs) as pool:
        yield from pool.imap(_analyse, docs, chunksize=32)


def _finish(gen: Path, dbs: list[xapian.WritableDatabase], articles: int) -> None:
    """Commit the shards, write the vocabulary (files and shard 0's metadata) and the metadata."""
    weights: dict[str, int] = {}
    min_body_df = 1 if articles < SMALL_INDEX_DOCS else 2
    for db in dbs:
        db.commit()
    for prefix, factor, floor in ((X.TITLE_WORD, TITLE_WEIGHT, 1), (X.BODY_WORD, 1, min_body_df)):
        df: dict[str, int] = {}
        for db in dbs:
            for item in db.allterms(prefix):
                word = item.term.decode("utf-8")[len(prefix):]
                df[word] = df.get(word, 0) + item.termfreq
        for word, n in df.items():
            if n >= floor:
                weights[word] = weights.get(word, 0) + n * factor
    write_vocab_weights(weights, gen)
    for name in ("vocab.tsv", "vocab-chars.tsv"):
        dbs[0].set_metadata(X.VOCAB_KEY + name, (gen / name).read_bytes())
    dbs[0].set_metadata(X.GENERATION_KEY, f"{time.time_ns()}")
    for db in dbs:
        db.commit()
        db.close()
    _store.write_meta(gen, articles=articles, built=time.strftime("%Y-%m-%dT%H:%M:%S"), backend=X.BACKEND,
                      shards=len(dbs), xapian_format=X.FORMAT_VERSION)


def _point_stubs(root: Path) -> None:
    gen = _store.current_generation(root)
    for k in range(int(_store.check_meta(gen)["shards"])):  # type: ignore[call-overload]
        stub = X.stub_path(root, k)
        tmp = stub.with_name(f".{stub.name}.tmp")
        tmp.write_text(f"auto {(gen / X.shard_name(k)).resolve()}\n", encoding="utf-8")
        os.replace(tmp, stub)


def build_shards(sources: Iterable[str | os.PathLike[str]], *, index_dir: str | os.PathLike[str] | None = None,
                 shards: int = 1, procs: int | None = None, progress: Progress | None = None,
                 follow_symlinks: bool = False) -> BuildReport:
    """Index ``sources`` into ``shards`` new Xapian databases and swap them in atomically."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    root = settings.index_dir(index_dir)
    report = BuildReport("rebuild", str(root))
    started = time.perf_counter()
    with _store.writer_lock(root):
        report.cleaned = _store.remove_stale(root)
        with _new_generation(root) as building:
            dbs = _open_shards(building, shards, create=True)
            documents = rebuild_documents(sources, report, progress, follow_symlinks=follow_symlinks)
            for terms in _analysed(documents, procs or settings.procs()):
                article_id = terms[0][len(X.ID):]
                dbs[X.shard_of(article_id, shards)].replace_document(terms[0], _document_of(terms))
                report.indexed += 1
            _finish(building, dbs, report.indexed)
        _point_stubs(root)
        _store.remove_stale(root)
    report.seconds = time.perf_counter() - started
    return report


def modify_shards(root: Path, action: str, *, sources: Iterable[str | os.PathLike[str]] = (),
                  ids: Iterable[str] = (), progress: Progress | None = None, follow_symlinks: bool = False) -> BuildReport:
    """``update`` (articles from ``sources``) or ``delete`` (``ids``) on a copy of the served shards."""
    report = BuildReport(action, str(root))
    started = time.perf_counter()
    with _store.writer_lock(root):
        report.cleaned = _store.remove_stale(root)
        gen = _store.current_generation(root)
        shards = int(_store.check_meta(gen)["shards"])  # type: ignore[call-overload]
        with _new_generation(root) as building:
            for k in range(shards):  # Xapian changes its files in place: a copy, never hard links
                shutil.copytree(gen / X.shard_name(k), building / X.shard_name(k))
            dbs = _open_shards(building, shards, create=False)
            if action == "update":
                touched: set[str] = set()
                for article in _articles(read_sources(sources, follow_symlinks=follow_symlinks), report, progress):
                    doc = _document(article, report)
                    if doc is None:
                        continue
                    db = dbs[X.shard_of(article.id, shards)]
                    id_term = X.ID + article.id
                    if article.id in touched or db.term_exists(id_term):
                        report.replaced += 1
                    else:
                        report.indexed += 1
                    db.replace_document(id_term, _document_of(_analyse(doc)))
                    touched.add(article.id)
            else:
                for article_id in dict.fromkeys(ids):
                    db = dbs[X.shard_of(article_id, shards)]
                    if db.term_exists(X.ID + article_id):
                        db.delete_document(X.ID + article_id)
                        report.deleted += 1
                    else:
                        report.not_found.append(article_id)
            _finish(building, dbs, sum(db.get_doccount() for db in dbs))
        _point_stubs(root)
        _store.remove_stale(root)
    report.seconds = time.perf_counter() - started
    return report


def shard_paths(root: Path) -> dict[str, list[str]]:
    """The stubs an operator serves (stable across rebuilds) and the current generation's databases."""
    gen = _store.current_generation(root)
    meta = _store.check_meta(gen)
    if meta.get("backend") != X.BACKEND:
        raise IndexNotFoundError(f"the index in {root} is not made of Xapian shards")
    n = int(meta["shards"])  # type: ignore[call-overload]
    return {"stubs": [str(X.stub_path(root, k).resolve()) for k in range(n)],
            "databases": [str((gen / X.shard_name(k)).resolve()) for k in range(n)]}


def shard_stats(root: Path, gen: Path, meta: dict[str, object]) -> Any:
    from indexer._build import IndexStats

    paths = shard_paths(root)
    sources: dict[str, int] = {}
    first = last = None
    undated = articles = 0
    for path in paths["databases"]:
        db = xapian.Database(path)
        articles += db.get_doccount()
        for item in db.allterms(X.FILTER_PREFIX[F.SOURCE]):
            name = item.term.decode("utf-8")[1:]
            sources[name] = sources.get(name, 0) + item.termfreq
        undated += db.get_doccount() - db.get_value_freq(X.DATE) if db.get_doccount() else 0
        if db.get_value_freq(X.DATE):
            low, high = xapian.sortable_unserialise(db.get_value_lower_bound(X.DATE)), xapian.sortable_unserialise(db.get_value_upper_bound(X.DATE))
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
        db.close()
    counted = sum(sources.values())
    if articles > counted:
        sources["(none)"] = articles - counted

    def shown(seconds: float | None) -> str | None:
        return None if seconds is None else (datetime(1970, 1, 1) + timedelta(seconds=seconds)).isoformat(sep=" ")

    return IndexStats(
        index_dir=str(root), generation=gen.name, articles=articles,
        sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])), first_published=shown(first),
        last_published=shown(last), undated=undated, bytes_on_disk=_store.disk_usage(gen),
        built=str(meta.get("built")) if meta.get("built") else None, backend=X.BACKEND,
        shards=paths["stubs"], shard_databases=paths["databases"],
    )
