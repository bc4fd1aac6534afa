"""Whoosh's segment writers with a cheaper posting pool.

Whoosh collects every posting of a segment in a pool, sorts it, and spills
sorted runs to temporary files when the pool passes its memory limit. Its pool
estimates each posting's size with a dozen Python operations and writes and
reads spilled runs one posting per ``marshal`` call, so a build that outgrows
the limit (a whole corpus on each worker) slows down by a third or more.
This pool counts postings against a fixed per-posting estimate and moves runs
in chunks of a bounded number of terms and postings per call; the merged order
is the same.

Segments are written as separate files, not Whoosh's compound file: a reader
of a compound segment copies each of its term and postings files into memory
(about the index's size for every open searcher, so for every server thread),
while separate files are read through the operating system's page cache.

``ParallelWriter`` is Whoosh's ``MpWriter`` (documents handed to worker
processes through job files, one segment per worker, no final merge) with
workers that write through this pool and the codec of ``indexer._codec``.
"""

from __future__ import annotations

import errno
import heapq
import marshal
import queue
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import FieldType
from whoosh.reading import SegmentReader
from whoosh.writing import PostingPool, SegmentWriter

from indexer import postings
from indexer._codec import Codec

# Memory per pooled posting: a document number and a weight in arrays, a
# list slot and a short position string; plus, per term, its three containers.
POSTING_BYTES = 64
TERM_BYTES = 320
# A spilled run is written in chunks of at most CHUNK terms or CHUNK_POSTINGS postings (one term
# may pass it alone), one marshal call each. The final merge holds one chunk of every run at once:
# a million articles spill about 80 runs per worker, and 5,000-term chunks (200k-450k postings,
# 13-25 MB of Python objects each) made that merge take 2.3 GB; 16k postings keep it near 200 MB.
CHUNK = 5_000
CHUNK_POSTINGS = 16_384

Group = tuple[str, bytes, "array[int]", "array[float]", list[bytes]]


class _Pool(PostingPool):
    """Postings grouped by term as they arrive, in document order.

    Sorting then concerns the distinct terms, not every posting, and the field
    writer takes each term's postings whole. Documents reach the pool in
    increasing number (added documents and merged segments alike), so each
    term's lists stay sorted; a spilled run is a sorted list of terms, and
    runs are merged term by term, concatenated in the order they were written.
    """

    def __init__(self, tempstore, segment, limitmb: int = 128, **kwargs: object) -> None:
        super().__init__(tempstore, segment, limitmb=limitmb, **kwargs)
        self._fields: dict[str, dict[bytes, tuple[array[int], array[float], list[bytes]]]] = {}
        self._size = 0

    def _entry(self, fieldname: str, btext: bytes) -> tuple[array[int], array[float], list[bytes]]:
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        entry = terms.get(btext)
        if entry is None:
            entry = terms[btext] = (array("I"), array("f"), [])
            self._size += TERM_BYTES
        return entry

    def add(self, item: tuple) -> None:  # type: ignore[type-arg]
        fieldname, btext, docnum, weight, value = item
        if docnum < 0:  # Whoosh's marker for spelling-only words; no spelling fields here
            return
        entry = self._entry(fieldname, btext)
        entry[0].append(docnum)
        entry[1].append(weight)
        entry[2].append(value or b"")
        self._size += POSTING_BYTES
        if self._size > self.limit:
            self.save()

    def add_field(self, fieldname: str, docnum: int, items: Iterable[tuple[bytes, int, float, bytes]], boost: float) -> int:
        """One document's postings of one field (Whoosh's ``FieldType.index`` items); the sum of their frequencies."""
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        length = count = new = 0
        for btext, freq, weight, value in items:
            entry = terms.get(btext)
            if entry is None:
                entry = terms[btext] = (array("I"), array("f"), [])
                new += 1
            entry[0].append(docnum)
            entry[1].append(weight * boost)
            entry[2].append(value or b"")
            length += freq
            count += 1
        self._size += POSTING_BYTES * count + TERM_BYTES * new
        if self._size > self.limit:
            self.save()
        return length

    def add_group(self, fieldname: str, btext: bytes, ids: list[int], weights: list[float], values: list[bytes]) -> None:
        """One term's postings at once (document numbers above any this term already has)."""
        entry = self._entry(fieldname, btext)
        entry[0].extend(ids)
        entry[1].extend(weights)
        entry[2].extend(values)
        self._size += POSTING_BYTES * len(ids)
        if self._size > self.limit:
            self.save()

    def _sorted_groups(self) -> Iterator[Group]:
        for fieldname in sorted(self._fields):
            terms = self._fields[fieldname]
            for btext in sorted(terms):
                ids, weights, values = terms[btext]
                yield fieldname, btext, ids, weights, values

    def save(self) -> None:
        path, f = self._new_run()
        with f:
            chunk: list[tuple[str, bytes, bytes, bytes, list[bytes]]] = []
            held = 0
            for fieldname, btext, ids, weights, values in self._sorted_groups():
                chunk.append((fieldname, btext, ids.tobytes(), weights.tobytes(), values))
                held += len(ids)
                if len(chunk) >= CHUNK or held >= CHUNK_POSTINGS:
                    marshal.dump(chunk, f)
                    chunk = []
                    held = 0
            if chunk:
                marshal.dump(chunk, f)
        self._add_run(path)
        self._fields = {}
        self._size = 0

    def _read_groups(self, path: str, order: int) -> Iterator[tuple[str, bytes, int, bytes, bytes, list[bytes]]]:
        f = self._open_run(path)
        try:
            while True:
                try:
                    chunk = marshal.load(f)
                except EOFError:
                    return
                for fieldname, btext, ids, weights, values in chunk:
                    yield fieldname, btext, order, ids, weights, values
        finally:
            f.close()
            self._remove_run(path)

    def groups(self) -> Iterator[Group]:
        """Every term's postings, terms in (field, term) order."""
        if not self.runs:
            yield from self._sorted_groups()
            return
        if self._fields:
            self.save()
        runs, self.runs = self.runs, []
        merged = heapq.merge(*(self._read_groups(path, i) for i, path in enumerate(runs)), key=lambda g: g[:3])
        current: Group | None = None
        for fieldname, btext, _order, id_bytes, weight_bytes, values in merged:
            if current is not None and current[0] == fieldname and current[1] == btext:
                current[2].frombytes(id_bytes)
                current[3].frombytes(weight_bytes)
                current[4].extend(values)
                continue
            if current is not None:
                yield current
            ids, weights = array("I"), array("f")
            ids.frombytes(id_bytes)
            weights.frombytes(weight_bytes)
            current = (fieldname, btext, ids, weights, list(values))
        if current is not None:
            yield current

    def iter_postings(self) -> Iterator[tuple]:  # type: ignore[type-arg]
        """Whoosh's flat (field, term, docnum, weight, value) stream, for any caller that wants it."""
        for fieldname, btext, ids, weights, values in self.groups():
            for docnum, weight, value in zip(ids, weights, values):
                yield fieldname, btext, docnum, weight, value

    def cleanup(self) -> None:
        self._fields = {}
        super().cleanup()


class PooledSegmentWriter(SegmentWriter):
    """Whoosh's ``SegmentWriter`` with the pool above, this package's codec and separate segment files."""

    def __init__(self, ix, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("codec", Codec())
        kwargs.setdefault("compound", False)
        try:
            super().__init__(ix, **kwargs)
        except BaseException:
            self._close_partial()
            raise
        self.pool = _Pool(self._tempstorage, self.newsegment, limitmb=kwargs.get("limitmb", 128))

    def _close_partial(self) -> None:
        """Close the files a constructor that failed half-way had opened (Whoosh leaves them open)."""
        for name in ("perdocwriter", "fieldwriter"):
            part = self.__dict__.get(name)
            temp = getattr(getattr(part, "_cols", None), "_temp", None)
            for f in (temp, getattr(part, "_postfile", None)):
                if f is not None:
                    f.close()
        if self.writelock is not None:
            self.writelock.release()

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``SegmentWriter.add_document``, with each field's postings handed to the pool
        at once (Whoosh makes a tuple and a call for every posting): the same postings, lengths,
        stored values and columns. Schemas with spelling or term-vector fields take Whoosh's own."""
        plain = self.__dict__.get("_plain")
        if plain is None:
            plain = self._plain = not any(f.vector or f.separate_spelling() for _n, f in self.schema.items())
        if not plain:
            super().add_document(**fields)
            return
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    counted = self.pool.add_field(fieldname, docnum, _index(field, value),
                                                  self._field_boost(fields, fieldname, docboost))
                    if field.scorable:
                        length = counted
                customval = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, customval if field.stored else None, length)
                column = field.column_type
                if column and customval is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(customval))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def add_reader(self, reader):  # type: ignore[no-untyped-def]
        """Whoosh's merge of a segment, keeping its exact field-length totals.

        Whoosh keeps each document's field lengths in one byte and, merging, adds up
        those rounded lengths into the new segment's totals, which set the average
        lengths that ranking divides by: a merged index would score a little unlike
        the same documents unmerged. The totals are the segment's own, less the
        (rounded) lengths of its deleted documents.
        """
        totals = getattr(self.perdocwriter, "_fieldlengths", None)
        if not _w3_segment(reader) or totals is None:
            super().add_reader(reader)
            return
        before = dict(totals)
        super().add_reader(reader)
        deleted = sorted(reader.deleted_docs_set) if reader.has_deletions() else []
        for fieldname in list(totals):
            if fieldname in self.schema and self.schema[fieldname].scorable:
                exact = reader.field_length(fieldname) - sum(reader.doc_field_length(d, fieldname) for d in deleted)
                totals[fieldname] = before.get(fieldname, 0) + exact

    def add_postings_to_pool(self, reader, startdoc, docmap):  # type: ignore[no-untyped-def]
        """Whoosh's step of a merge, a term at a time: the terms are read in order from the term
        file and each term's decoded postings handed over whole (Whoosh hands over one posting
        per call)."""
        if not _w3_segment(reader):
            super().add_postings_to_pool(reader, startdoc, docmap)
            return
        deleted = reader.deleted_docs_set if reader.has_deletions() else frozenset()
        add_group = self.pool.add_group
        schema = self.schema
        for (fieldname, btext), info in reader:  # every term of every field, in order
            if fieldname not in schema:
                continue
            ids, weights, values = _postings_of(reader, fieldname, btext, info)
            if deleted:
                keep = [k for k, docnum in enumerate(ids) if docnum not in deleted]
                ids, weights, values = [ids[k] for k in keep], [weights[k] for k in keep], [values[k] for k in keep]
            if not ids:
                continue
            new_ids = [docmap[d] for d in ids] if docmap is not None else [startdoc + d for d in ids]
            add_group(fieldname, btext, new_ids, weights, values)

    def _flush_segment(self) -> None:
        # Whoosh's own steps, with each term's postings handed over whole
        # (or as Whoosh's flat stream to another codec's field writer).
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        if hasattr(self.fieldwriter, "add_groups"):
            self.fieldwriter.add_groups(self.schema, lengths, self.pool.groups())
        else:
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if lengths:
            lengths.close()


def _index(field: FieldType, value: Any) -> Iterable[tuple[bytes, int, float, bytes]]:
    """``field.index(value)``: for a text value of a field that keeps ``FieldType.index``, its
    format's values with each term encoded here (Whoosh wraps every term in a generator step)."""
    if type(field).index is not FieldType.index or not isinstance(value, str) or not field.format:
        return field.index(value)
    return [(term.encode("utf-8"), freq, weight, vbytes)
            for term, freq, weight, vbytes in field.format.word_values(value, field.analyzer, mode="index")]


def _w3_segment(reader: Any) -> bool:
    """A segment of Whoosh's W3 format (this codec's or Whoosh's own), whose term file
    and lengths the merge above reads; other codecs (Whoosh's in-memory one) take Whoosh's path."""
    return isinstance(reader, SegmentReader) and isinstance(reader.codec(), W3Codec)


def _postings_of(reader: SegmentReader, fieldname: str, btext: bytes, info: Any) -> tuple[list[int], list[float], list[bytes]]:
    """A term's (document numbers, weights, values), deleted documents included: a segment of
    this project's codec gives its decoded lists whole, from the term record in hand (no second
    lookup), another one a posting at a time."""
    if postings.in_this_encoding(reader.codec()):
        decoded = postings.decode_term(info, reader._terms._postfile.get)  # W3TermsReader's postings file
        return decoded.ids.tolist(), decoded.weights.tolist(), decoded.values()
    return postings.matcher_lists(reader.postings(fieldname, btext))


class _Task(SubWriterTask):
    def run(self) -> None:
        # Every worker answers exactly once: its segment, or the error that stopped it
        # (instead of a traceback on the terminal and a segment silently missing).
        try:
            ix = self.storage.open_index(self.indexname)
            writer = self.writer = PooledSegmentWriter(ix, _lk=False, **self.kwargs)
            while self.running:
                job = self.jobqueue.get()
                if job is None:
                    break
                self._process_file(*job)
            if not self.running:
                writer.cancel()
                return
            self.resultqueue.put(("segment", writer._finalize_segment()))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
            self.resultqueue.put(("error", (getattr(exc, "errno", None) or errno.EIO, f"{type(exc).__name__}: {exc}")))


class ParallelWriter(MpWriter):
    """``procs`` worker processes, each writing one segment; the parent only distributes documents.

    Whoosh's ``MpWriter`` with two changes: workers write through ``PooledSegmentWriter``,
    and a worker that fails or dies fails the commit (``OSError``) instead of
    leaving its documents out of an index that looks complete.
    """

    def __init__(self, ix, procs: int, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("codec", Codec())
        kwargs.setdefault("compound", False)
        super().__init__(ix, procs=procs, multisegment=True, **kwargs)

    def _new_task(self) -> _Task:
        task = _Task(self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs, True)
        self.tasks.append(task)
        task.start()
        return task

    def _results(self) -> list[tuple[str, Any]]:
        results: list[tuple[str, Any]] = []
        while len(results) < len(self.tasks):
            try:
                results.append(self.resultqueue.get(timeout=0.5))
            except queue.Empty:
                if not any(task.is_alive() for task in self.tasks) and self.resultqueue.empty():
                    codes = ", ".join(str(task.exitcode) for task in self.tasks)
                    results.append(("error", (errno.EIO, f"a worker process stopped without finishing (exit codes {codes})")))
        for task in self.tasks:
            task.join()
        return results

    def _commit(self, mergetype, optimize, merge):  # type: ignore[no-untyped-def]
        if self.docbuffer:
            self._enqueue()
        for _task in self.tasks:
            self.jobqueue.put(None)
        segments = self._merge_segments(mergetype, optimize, merge)
        results = self._results()
        errors = [detail for kind, detail in results if kind == "error"]
        if errors:
            self._close_segment()
            code, message = errors[0]
            raise OSError(code, f"indexing worker failed: {message}")
        segments += [segment for _kind, segment in results]
        if self._added:
            segments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(segments)
        self._finish()
