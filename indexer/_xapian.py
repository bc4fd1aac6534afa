"""Building, updating and describing an index of Xapian shards (``indexer.xapianformat``).

The articles are read, checked and analysed as for the Whoosh index (the same
``to_document``, analyzers and match text); worker processes turn them into
plain term lists, and this process writes each to its shard. Like a Whoosh
build, a new generation is written beside the served one and swapped in
atomically (``CURRENT``), then each shard's stub is pointed at it.
"""

from __future__ import annotations

import collections
import errno
import functools
import itertools
import json
import multiprocessing
import os
import queue
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
from indexer.errors import IndexNotFoundError, IndexVersionError, IndexWriteError
from indexer.matchtext import SEPARATOR, gram_spans
from indexer.vocab import SMALL_INDEX_DOCS, TITLE_WEIGHT, write_vocab_weights

_words = ChineseAnalyzer()
# id term, (term, wdf), (term, position), boolean terms, values, data
Terms = tuple[str, list[tuple[str, int]], list[tuple[str, int]], list[str], dict[int, bytes], bytes]
Lengths = dict[str, float]  # ranked prefix -> field length (of one document, or the average)


def _ranked_fields(doc: dict[str, Any]) -> dict[str, tuple[dict[str | None, int], list[tuple[str, int]]]]:
    """For each ranked prefix: the count of each term (None for tokens too long to be a term,
    which still count in the field's length, as in the local index) and the positions kept."""
    out: dict[str, tuple[dict[str | None, int], list[tuple[str, int]]]] = {p: ({}, []) for p in X.RANKED}
    for field in (F.TITLE, F.BODY):
        text = doc.get(field)
        if not text:
            continue
        counts, positions = out[X.FIELD_PREFIX[field]]
        for token in _words(str(text), positions=True, mode="index"):
            t = X.term(field, token.text)
            counts[t] = counts.get(t, 0) + 1
            if field == F.BODY and t is not None:
                positions.append((t, token.pos + 1))
    title, _, body = bytes(doc[F.MATCH_TEXT]).decode("utf-8").partition(SEPARATOR)  # type: ignore[arg-type]
    for field, norm in ((F.TITLE_CHARS, title), (F.BODY_CHARS, body)):
        counts, positions = out[X.FIELD_PREFIX[field]]
        for gram, start in gram_spans(norm):
            t = X.term(field, gram)
            counts[t] = counts.get(t, 0) + 1
            if len(gram) == 2 and t is not None:
                positions.append((t, start + 1))
    return out


def _field_lengths(doc: dict[str, Any]) -> Lengths:
    return {prefix: float(sum(counts.values())) for prefix, (counts, _p) in _ranked_fields(doc).items()}


def _averages(lengths: Iterable[Lengths]) -> Lengths:
    """The average of each field's length over the documents (absent fields count as 0, as locally)."""
    total = dict.fromkeys(X.RANKED, 0.0)
    n = 0
    for one in lengths:
        n += 1
        for prefix, length in one.items():
            total[prefix] += length
    return {prefix: (t / n if n and t else 1.0) for prefix, t in total.items()}


def _analyse(doc: dict[str, Any], averages: Lengths) -> Terms:
    """One document as plain data, its ranked terms' wdfs normalised by their field's length."""
    weighted: list[tuple[str, int]] = []
    postings: list[tuple[str, int]] = []
    for prefix, (counts, positions) in _ranked_fields(doc).items():
        length = sum(counts.values())
        weighted += [(t, X.ranked_wdf(n, length, averages[prefix])) for t, n in counts.items() if t is not None]
        postings += positions
    boolean = [X.FILTER_PREFIX[f] + str(doc[f]) for f in X.FILTER_PREFIX if doc.get(f)]
    boolean = [b for b in boolean if len(b.encode("utf-8")) <= X.MAX_TERM_BYTES]
    values: dict[int, bytes] = {X.DUP: str(doc[F.DUP_KEY]).encode("utf-8")}
    if doc.get(F.PUBLISHED):
        values[X.DATE] = xapian.sortable_serialise(X.date_key(doc[F.PUBLISHED]))  # type: ignore[arg-type]
    for field, slot in X.FACET_SLOT.items():
        if doc.get(field):
            values[slot] = str(doc[field]).encode("utf-8")
    return X.ID + str(doc[F.ID_FIELD]), weighted, postings, boolean, values, X.encode_stored(doc)


def _document_of(terms: Terms) -> xapian.Document:
    id_term, weighted, postings, boolean, values, data = terms
    d = xapian.Document()
    d.add_boolean_term(id_term)
    for t, wdf in weighted:
        d.add_term(t, wdf)
    for t, pos in postings:
        d.add_posting(t, pos, 0)  # positions only: the wdf is the normalised one above
    for b in boolean:
        d.add_boolean_term(b)
    for slot, value in values.items():
        d.add_value(slot, value)
    d.set_data(data)
    return d


def _open_shards(gen: Path, shards: int, *, create: bool) -> list[xapian.WritableDatabase]:
    flags = xapian.DB_CREATE_OR_OVERWRITE if create else xapian.DB_OPEN
    return [xapian.WritableDatabase(str(gen / X.shard_name(k)), flags) for k in range(shards)]


def _context() -> Any:
    """Worker processes forked where the system can (they inherit the loaded analyzers and
    dictionaries), spawned elsewhere."""
    return multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")


BATCH = 64  # documents a worker analyses per task
IN_FLIGHT = 4  # tasks per worker queued or done but not yet written: memory stays bounded


def _analyse_batch(docs: list[dict[str, Any]], averages: Lengths) -> list[Terms]:
    return [_analyse(doc, averages) for doc in docs]


def _sampled(docs: Iterator[dict[str, Any]]) -> tuple[Lengths, Iterator[dict[str, Any]]]:
    """The field averages the wdfs are normalised by (those of the first ``AVERAGE_SAMPLE``
    documents, analysed once more later), and every document again."""
    sample = list(itertools.islice(docs, X.AVERAGE_SAMPLE))
    return _averages(map(_field_lengths, sample)), itertools.chain(sample, docs)


def _analysed(docs: Iterator[dict[str, Any]], procs: int, averages: Lengths) -> Iterator[Terms]:
    """Each document analysed, in order. Workers analyse at most ``IN_FLIGHT`` batches ahead of
    the writer (a pool's ``imap`` reads its whole input at once and queues every result the
    writer has not taken yet)."""
    if procs <= 1:
        for doc in docs:
            yield _analyse(doc, averages)
        return
    ctx = _context()
    with ctx.Pool(procs) as pool:
        analyse = functools.partial(_analyse_batch, averages=averages)
        pending: collections.deque[Any] = collections.deque()
        while batch := list(itertools.islice(docs, BATCH)):
            pending.append(pool.apply_async(analyse, (batch,)))
            while len(pending) >= IN_FLIGHT * procs or (pending and pending[0].ready()):
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def _write_shards(gen: Path, owned: list[int], shards: int, averages: Lengths, jobs: Any, results: Any) -> None:
    """A writer process: analyses the batches of documents of its own shards and writes them;
    answers once, with how many it wrote or the error that stopped it."""
    try:
        dbs = {k: xapian.WritableDatabase(str(gen / X.shard_name(k)), xapian.DB_CREATE_OR_OVERWRITE) for k in owned}
        written = 0
        while (batch := jobs.get()) is not None:
            for doc in batch:
                terms = _analyse(doc, averages)
                dbs[X.shard_of(terms[0][len(X.ID):], shards)].replace_document(terms[0], _document_of(terms))
                written += 1
        for db in dbs.values():
            db.commit()
            db.close()
        results.put(("written", written))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _write_in_parallel(gen: Path, docs: Iterator[dict[str, Any]], shards: int, writers: int, averages: Lengths,
                       report: BuildReport) -> None:
    """``writers`` processes, each analysing and writing the documents of the shards k with
    k mod writers = its number (one writer process and one Xapian inverter would hold the
    build to a single core); this process reads the sources and hands out batches, at most
    ``IN_FLIGHT`` queued per writer."""
    ctx = _context()
    jobs = [ctx.Queue(IN_FLIGHT) for _ in range(writers)]
    results = ctx.Queue()
    procs = [ctx.Process(target=_write_shards, daemon=True,
                         args=(gen, [k for k in range(shards) if k % writers == w], shards, averages, jobs[w], results))
             for w in range(writers)]
    for proc in procs:
        proc.start()

    def stopped() -> str | None:
        dead = [proc.exitcode for proc in procs if not proc.is_alive() and proc.exitcode != 0]
        return f"a writer process stopped (exit codes {dead})" if dead else None

    def put(w: int, item: list[dict[str, Any]] | None) -> None:
        while True:
            try:
                jobs[w].put(item, timeout=0.5)
                return
            except queue.Full:
                if (why := stopped()) is not None or not procs[w].is_alive():
                    raise IndexWriteError(errno.EIO, f"indexing the shards failed: {why or 'a writer process ended early'}") from None

    try:
        batches: list[list[dict[str, Any]]] = [[] for _ in range(writers)]
        for doc in docs:
            w = X.shard_of(str(doc[F.ID_FIELD]), shards) % writers
            batches[w].append(doc)
            report.indexed += 1
            if len(batches[w]) >= BATCH:
                put(w, batches[w])
                batches[w] = []
        for w in range(writers):
            if batches[w]:
                put(w, batches[w])
            put(w, None)
        answers = []
        while len(answers) < writers:
            try:
                answers.append(results.get(timeout=0.5))
            except queue.Empty:
                if (why := stopped()) is not None and results.empty():
                    answers.append(("error", why))
        errors = [detail for kind, detail in answers if kind == "error"]
        if not errors and sum(n for _kind, n in answers) != report.indexed:
            errors = [f"the writers wrote {sum(n for _kind, n in answers)} of {report.indexed} articles"]
        if errors:
            raise IndexWriteError(errno.EIO, f"indexing the shards failed: {errors[0]}")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()


def _stored_averages(meta: dict[str, object]) -> Lengths:
    """The field averages a generation's wdfs were normalised by (``update`` keeps to them)."""
    if meta.get("xapian_format") != X.FORMAT_VERSION or not isinstance(meta.get("lengths"), dict):
        raise IndexVersionError(f"the Xapian shards are of format {meta.get('xapian_format')}, this version "
                                f"writes {X.FORMAT_VERSION}: rebuild needed, run `python -m indexer rebuild --backend xapian`")
    lengths: dict[str, float] = meta["lengths"]  # type: ignore[assignment]
    return {prefix: float(lengths[prefix]) for prefix in X.RANKED}


RECHECK_ALL_KEYS = 256  # an update with more reprint keys than this checks every article's key


def _keyed(keys: Iterable[bytes]) -> xapian.Query:
    return xapian.Query(xapian.Query.OP_OR, [xapian.Query(xapian.Query.OP_VALUE_RANGE, X.DUP, k, k) for k in keys])


def _mark_reprints(dbs: list[xapian.WritableDatabase], keys: set[bytes] | None = None) -> int:
    """Set ``REPRINT`` on the articles whose reprint key another article shares, across the
    shards (reprints go to shards by their own ids): of every article, or of those with one of
    ``keys`` (an update's). Returns how many were changed."""
    combined = xapian.Database()
    for db in dbs:
        combined.add_database(db)
    if keys is not None and len(keys) > RECHECK_ALL_KEYS:
        keys = None
    if not combined.get_doccount() or keys == set():
        return 0
    enquire = xapian.Enquire(combined)
    enquire.set_weighting_scheme(xapian.BoolWeight())
    enquire.set_query(xapian.Query.MatchAll if keys is None else _keyed(keys))
    spy = xapian.ValueCountMatchSpy(X.DUP)
    enquire.add_matchspy(spy)
    enquire.get_mset(0, 0, combined.get_doccount())
    shared = X.shared_values(spy)
    changed = 0
    for db in dbs:
        if not shared:
            break
        if keys is None:
            found = [item.docid for item in db.valuestream(X.DUP) if item.value in shared]
        else:
            one = xapian.Enquire(db)
            one.set_weighting_scheme(xapian.BoolWeight())
            one.set_query(_keyed(shared))
            found = [item.docid for item in one.get_mset(0, db.get_doccount())]
        for docid in found:
            doc = db.get_document(docid)
            key = doc.get_value(X.DUP)
            if doc.get_value(X.REPRINT) != key:
                doc.add_value(X.REPRINT, key)
                db.replace_document(docid, doc)
                changed += 1
    return changed


def _finish(gen: Path, dbs: list[xapian.WritableDatabase], articles: int, averages: Lengths,
            reprint_keys: set[bytes] | None = None) -> None:
    """Commit the shards, mark their reprints (``_mark_reprints``), write the vocabulary (files
    and shard 0's metadata) and the metadata."""
    weights: dict[str, int] = {}
    min_body_df = 1 if articles < SMALL_INDEX_DOCS else 2
    for db in dbs:
        db.commit()
    _mark_reprints(dbs, reprint_keys)
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
        db.set_metadata(X.FORMAT_KEY, str(X.FORMAT_VERSION))
        db.set_metadata(X.LENGTHS_KEY, json.dumps(averages))
        db.commit()
        db.close()
    _store.write_meta(gen, articles=articles, built=time.strftime("%Y-%m-%dT%H:%M:%S"), backend=X.BACKEND,
                      shards=len(dbs), xapian_format=X.FORMAT_VERSION, lengths=averages)


def _compact_one(path: Path) -> None:
    """Rewrite one closed shard database compacted (its B-trees full, as Xapian's own
    ``xapian-compact`` does), in place of the one the writer left."""
    packed = path.with_name(f".{path.name}.compact")  # the generation folder is new: no leftover here
    db = xapian.Database(str(path))
    try:
        db.compact(str(packed))
    finally:
        db.close()
    shutil.rmtree(path)
    os.replace(packed, path)


def _compact_in_worker(path: Path) -> str | None:
    """``_compact_one`` (looked up when called, so a forked worker runs this module's current
    one); Xapian's errors do not pickle, so one comes back as its message."""
    try:
        _compact_one(path)
    except xapian.Error as exc:
        return f"{path.name}: {exc.get_msg()}"
    return None


def _compact_shards(gen: Path, shards: int, procs: int) -> None:
    """Compact a new generation's shards before it is published: a writer flushes its
    batches into B-trees whose blocks are partly filled, so a build as written is 1.7 to 2.2
    times the size it needs to be (1,169 MB as written, 543 MB compacted, at 50,000 generated
    articles; 4,500 MB and 2,654 MB for one of four shards of a million), and a query reads
    that many more blocks. ``procs`` shards at a time."""
    paths = [gen / X.shard_name(k) for k in range(shards)]
    workers = min(procs, shards)
    if workers <= 1:
        errors = [_compact_in_worker(path) for path in paths]
    else:
        ctx = _context()
        with ctx.Pool(workers) as pool:
            errors = pool.map(_compact_in_worker, paths, chunksize=1)
    if failed := [e for e in errors if e is not None]:
        raise IndexWriteError(errno.EIO, f"compacting the shards failed: {failed[0]}")


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
            averages, documents = _sampled(iter(rebuild_documents(sources, report, progress, follow_symlinks=follow_symlinks)))
            writers = min(procs or settings.procs(), shards)
            if writers > 1:
                _write_in_parallel(building, documents, shards, writers, averages, report)
                dbs = _open_shards(building, shards, create=False)
            else:
                dbs = _open_shards(building, shards, create=True)
                for terms in _analysed(documents, procs or settings.procs(), averages):
                    article_id = terms[0][len(X.ID):]
                    dbs[X.shard_of(article_id, shards)].replace_document(terms[0], _document_of(terms))
                    report.indexed += 1
            _finish(building, dbs, report.indexed, averages)
            _compact_shards(building, shards, procs or settings.procs())
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
        meta = _store.check_meta(gen)
        shards = int(meta["shards"])  # type: ignore[call-overload]
        averages = _stored_averages(meta)
        with _new_generation(root) as building:
            for k in range(shards):  # Xapian changes its files in place: a copy, never hard links
                shutil.copytree(gen / X.shard_name(k), building / X.shard_name(k))
            dbs = _open_shards(building, shards, create=False)
            keys: set[bytes] = set()
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
                    db.replace_document(id_term, _document_of(_analyse(doc, averages)))
                    touched.add(article.id)
                    keys.add(str(doc[F.DUP_KEY]).encode("utf-8"))
            else:
                for article_id in dict.fromkeys(ids):
                    db = dbs[X.shard_of(article_id, shards)]
                    if db.term_exists(X.ID + article_id):
                        db.delete_document(X.ID + article_id)
                        report.deleted += 1
                    else:
                        report.not_found.append(article_id)
            _finish(building, dbs, sum(db.get_doccount() for db in dbs), averages, keys)
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
