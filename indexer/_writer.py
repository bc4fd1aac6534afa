"""Whoosh's segment writers with a cheaper posting pool.

Whoosh collects every posting of a segment in a pool, sorts it, and spills
sorted runs to temporary files when the pool passes its memory limit. Its pool
estimates each posting's size with a dozen Python operations and writes and
reads spilled runs one posting per ``marshal`` call, so a build that outgrows
the limit (a whole corpus on each worker) slows down by a third or more.
This pool counts postings against a fixed per-posting estimate and moves runs
in chunks of ``CHUNK`` postings per call; the merged order is the same.

``ParallelWriter`` is Whoosh's ``MpWriter`` (documents handed to worker
processes through job files, one segment per worker, no final merge) with
workers that write through this pool and the codec of ``indexer._codec``.
"""

from __future__ import annotations

import heapq
import marshal
from collections.abc import Iterator

from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.writing import PostingPool, SegmentWriter

from indexer._codec import Codec

# Measured average size of one pooled posting tuple (field name and term
# shared, small ints, a short position string), in bytes.
POSTING_BYTES = 190
CHUNK = 20_000


class _Pool(PostingPool):
    def __init__(self, tempstore, segment, limitmb: int = 128, **kwargs: object) -> None:
        super().__init__(tempstore, segment, limitmb=limitmb, **kwargs)
        self._max_items = max(CHUNK, self.limit // POSTING_BYTES)

    def add(self, item: tuple) -> None:  # type: ignore[type-arg]
        current = self.current
        current.append(item)
        if len(current) >= self._max_items:
            self.save()

    def save(self) -> None:
        self.current.sort()
        path, f = self._new_run()
        current = self.current
        with f:
            for start in range(0, len(current), CHUNK):
                marshal.dump(current[start : start + CHUNK], f)
        self._add_run(path)
        self.current = []
        self.currentsize = 0

    def _read_run(self, path: str) -> Iterator[tuple]:  # type: ignore[type-arg]
        f = self._open_run(path)
        try:
            while True:
                try:
                    chunk = marshal.load(f)
                except EOFError:
                    return
                yield from chunk
        finally:
            f.close()
            self._remove_run(path)

    def items(self, maxfiles: int = 128) -> Iterator[tuple]:  # type: ignore[override, type-arg]
        if not self.runs:
            self.current.sort()
            return iter(self.current)
        if self.current:
            self.save()
        runs, self.runs = self.runs, []
        return heapq.merge(*(self._read_run(path) for path in runs))

    def iter_postings(self) -> Iterator[tuple]:  # type: ignore[type-arg]
        return self.items()


class PooledSegmentWriter(SegmentWriter):
    """Whoosh's ``SegmentWriter`` with the pool above and this package's codec."""

    def __init__(self, ix, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("codec", Codec())
        super().__init__(ix, **kwargs)
        self.pool = _Pool(self._tempstorage, self.newsegment, limitmb=kwargs.get("limitmb", 128))


class _Task(SubWriterTask):
    def run(self) -> None:
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
        segment = writer._finalize_segment()
        self.resultqueue.put((None, writer.pool.fieldnames, segment), timeout=5)


class ParallelWriter(MpWriter):
    """``procs`` worker processes, each writing one segment; the parent only distributes documents."""

    def __init__(self, ix, procs: int, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("codec", Codec())
        super().__init__(ix, procs=procs, multisegment=True, **kwargs)

    def _new_task(self) -> _Task:
        task = _Task(self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs, True)
        self.tasks.append(task)
        task.start()
        return task
