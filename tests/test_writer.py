"""The faster writing path (indexer._codec, indexer._writer) writes what Whoosh's own writer writes.

The same documents go through Whoosh's stock ``SegmentWriter`` and through
``PooledSegmentWriter`` with a pool small enough to spill many sorted runs;
every term of every field must have the same postings (documents, weights,
position bytes) and the same term statistics, read back with Whoosh's readers.
Whoosh's own writer merges what this codec wrote, and term vectors are written
(tests/test_whoosh_compat.py runs Whoosh's own test suite against the codec).
"""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema
from whoosh.matching import ListMatcher
from whoosh.query import Phrase
from whoosh.writing import SegmentWriter

from indexer import _writer
from indexer._build import to_document
from indexer._sources import Skipped, read_sources
from indexer.schema import CATEGORY, CHAR_FIELDS, DUP_KEY, ID_FIELD, SOURCE, WORD_FIELDS, YEAR, build_schema
from tests.conftest import SAMPLE_ARTICLES

COPIES = 25
VALUELESS = (ID_FIELD, CATEGORY, SOURCE, YEAR, DUP_KEY)


def _documents(copies: int = COPIES) -> list[dict[str, object]]:
    articles = [a for a in read_sources([SAMPLE_ARTICLES]) if not isinstance(a, Skipped)]
    docs = []
    for copy in range(copies):
        for article in articles:
            doc = to_document(article)
            doc[ID_FIELD] = f"{article.id}-{copy}"
            docs.append(doc)
    return docs


def _postings(path: Path) -> tuple[dict[tuple[str, bytes], tuple[object, ...]], int]:
    ix = whoosh_index.open_dir(str(path))
    inlined = 0
    out: dict[tuple[str, bytes], tuple[object, ...]] = {}
    with ix.reader() as reader:
        ids = {d: reader.stored_fields(d)[ID_FIELD] for d in reader.all_doc_ids()}
        for field in (*WORD_FIELDS, *CHAR_FIELDS):
            for btext, info in reader.iter_field(field):
                inlined += bool(getattr(info, "is_inlined", lambda: False)())
                m = reader.postings(field, btext)
                rows = []
                while m.is_active():
                    rows.append((ids[m.id()], m.weight(), m.value()))
                    m.next()
                stats = (info.doc_frequency(), info.weight(), info.min_length(), info.max_length(), info.max_weight())
                out[(field, btext)] = (stats, tuple(rows))
    return out, inlined


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    docs = _documents()
    stock, ours = tmp_path_factory.mktemp("stock"), tmp_path_factory.mktemp("ours")
    for path in (stock, ours):
        ix = whoosh_index.create_in(str(path), build_schema())
        writer = ix.writer(compound=False) if path == stock else _writer.PooledSegmentWriter(ix, limitmb=1)
        runs_seen = 0
        for doc in docs:
            writer.add_document(**doc)
            runs_seen = max(runs_seen, len(getattr(writer.pool, "runs", [])))
        writer.commit()
    return stock, ours, runs_seen


def test_same_postings_as_whoosh_writer_after_spilled_runs(both: tuple[Path, Path, int]) -> None:
    stock, ours, runs = both
    assert runs >= 3, "the pool should have spilled several sorted runs"
    expected, stock_inlined = _postings(stock)
    actual, inlined = _postings(ours)
    assert len(expected) > 5000
    assert actual.keys() == expected.keys()
    mismatched = [key for key in expected if actual[key] != expected[key]]
    assert mismatched == []
    assert stock_inlined == 0 and inlined > 0  # Whoosh never inlines; this codec inlines short encodings


def test_spilled_runs_are_read_back_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The final merge holds one chunk of every run at once: a chunk passes the posting bound only
    by its last term, and the index is the same as with chunks of whole runs."""
    docs = _documents(10)
    built = {}
    for bound in (200, 1 << 40):
        monkeypatch.setattr(_writer, "CHUNK_POSTINGS", bound)
        path = tmp_path / str(bound)
        path.mkdir()
        writer = _writer.PooledSegmentWriter(whoosh_index.create_in(str(path), build_schema()), limitmb=1)
        for doc in docs:
            writer.add_document(**doc)
        writer.pool.save()
        chunks = []
        for run in writer.pool.runs:
            with writer.pool._open_run(run) as f:
                while True:
                    try:
                        chunks.append([len(ids) // 4 for _field, _text, ids, _weights, _values in marshal.load(f)])
                    except EOFError:
                        break
        writer.commit()
        built[bound] = _postings(path)[0], chunks
    (small, small_chunks), (whole, whole_chunks) = built[200], built[1 << 40]
    assert len(small_chunks) > 5 * len(whole_chunks)
    assert all(sum(c) - c[-1] < 200 for c in small_chunks)
    assert max(sum(c) for c in whole_chunks) > 1000
    assert small == whole


def test_postings_take_less_room_than_whoosh_blocks(both: tuple[Path, Path, int]) -> None:
    """The same postings, in term dictionary plus postings file, take under 70 % of Whoosh's W3 blocks
    (59 % here, where the term records, the same in both, are most of the bytes)."""
    stock, ours, _runs = both

    def size(path: Path) -> int:
        return sum(p.stat().st_size for p in path.iterdir() if p.suffix in (".trm", ".pst"))

    assert size(ours) < 0.7 * size(stock)


def test_short_posting_lists_are_inlined_and_read_back(tmp_path: Path) -> None:
    docs = _documents(copies=1)
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    writer = _writer.PooledSegmentWriter(ix)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    postings, inlined = _postings(tmp_path)
    assert inlined > len(postings) // 2, "short posting lists are kept in their term record"
    with whoosh_index.open_dir(str(tmp_path)).searcher() as searcher:
        found = searcher.search(Phrase("body", ["齐齐哈尔", "装备"], slop=3), limit=None)
        assert len(found) >= 1


def test_parallel_writer_indexes_every_document(tmp_path: Path) -> None:
    docs = _documents()
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    writer = _writer.ParallelWriter(ix, 2, limitmb=1)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    ix = whoosh_index.open_dir(str(tmp_path))
    with ix.searcher() as searcher:
        assert searcher.doc_count() == len(docs)
        assert len(searcher.reader().leaf_readers()) == 2
        assert sorted(f[ID_FIELD] for f in searcher.all_stored_fields()) == sorted(str(d[ID_FIELD]) for d in docs)


def test_whoosh_writer_merges_inlined_postings_without_values(tmp_path: Path) -> None:
    """Fields whose postings carry no value (ids, facets: Whoosh's ``Existence`` format) keep
    short posting lists inlined; Whoosh's own writer reads them back as bytes when it merges
    (it asserted on ``vbytes=''`` before)."""
    docs = _documents(copies=1)
    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    for half in (docs[: len(docs) // 2], docs[len(docs) // 2 :]):
        writer = _writer.PooledSegmentWriter(ix)
        for doc in half:
            writer.add_document(**doc)
        writer.commit()
    with ix.reader() as reader:
        leaf = reader.leaf_readers()[0][0]
        btext = next(t for t, info in leaf.iter_field(ID_FIELD) if info.is_inlined())
        m = leaf.postings(ID_FIELD, btext)
        assert isinstance(m, ListMatcher) and m.value() == b""  # search._engine reads ListMatcher's arrays
        assert m.copy().block_min_length() == m.block_min_length()
        before = {(f, t): reader.doc_frequency(f, t) for f in (*CHAR_FIELDS, *VALUELESS) for t, _info in reader.iter_field(f)}
    writer = ix.writer()
    assert type(writer) is SegmentWriter
    writer.commit(optimize=True)
    with whoosh_index.open_dir(str(tmp_path)).reader() as reader:
        assert len(reader.leaf_readers()) == 1
        after = {(f, t): reader.doc_frequency(f, t) for f in (*CHAR_FIELDS, *VALUELESS) for t, _info in reader.iter_field(f)}
    assert after == before


def test_vector_fields_are_written_merged_and_read_back(tmp_path: Path) -> None:
    schema = Schema(id=ID(stored=True), text=TEXT(vector=True))
    ix = whoosh_index.create_in(str(tmp_path), schema)
    texts = {"a": "alfa bravo alfa", "b": "bravo charlie", "c": "delta"}
    for ident, text in texts.items():  # one segment each, then merged by this writer
        writer = _writer.PooledSegmentWriter(ix)
        writer.add_document(id=ident, text=text)
        writer.commit(optimize=ident == "c")
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) == 1
        for ident, text in texts.items():
            docnum = searcher.document_number(id=ident)
            words = dict(searcher.vector_as("frequency", docnum, "text"))
            assert words == {w: text.split().count(w) for w in text.split()}


def test_another_codec_gets_whoosh_flat_postings_stream(tmp_path: Path) -> None:
    """With a codec whose field writer only takes Whoosh's flat stream (Whoosh's own W3Codec),
    the pooled writer hands it ``iter_postings``: the postings are the same as Whoosh's writer's."""
    from whoosh.codec.whoosh3 import W3Codec

    docs = _documents(copies=2)
    stock, flat = tmp_path / "stock", tmp_path / "flat"
    for path in (stock, flat):
        path.mkdir()
        ix = whoosh_index.create_in(str(path), build_schema())
        writer = ix.writer() if path == stock else _writer.PooledSegmentWriter(ix, codec=W3Codec(), limitmb=1)
        assert path == stock or not hasattr(writer.fieldwriter, "add_groups")
        for doc in docs:
            writer.add_document(**doc)
        writer.commit()
    expected, _ = _postings(stock)
    actual, _ = _postings(flat)
    assert len(expected) > 1000
    assert actual == expected


def test_term_records_packed_directly_equal_whoosh_s_own_path() -> None:
    """``add_groups`` packs each term's W3 record itself; Whoosh's ``start_term`` / ``add`` /
    ``finish_term`` path (the codec's postings writer and ``W3TermInfo``) must give the same
    term and postings files, byte for byte: short lists inlined, long ones in ``.pst``, word
    positions and character-gram frequencies, documents with and without a field length."""
    import random

    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.filedb.filestore import RamStorage
    from whoosh.system import pack_uint

    from indexer._codec import Codec
    from indexer.postings import encode_positions
    from indexer.schema import BODY, BODY_CHARS

    rng = random.Random(5)
    schema = build_schema()
    field_lengths = {d: rng.choice([0, 1, 7, 300, 5000]) for d in range(2000)}

    class Lengths:
        def doc_field_length(self, docnum: int, fieldname: str) -> int:
            return field_lengths[docnum]

    groups = []
    for fieldname in sorted((BODY, BODY_CHARS)):
        for t in range(300):
            ids = sorted(rng.sample(range(2000), rng.choice([1, 2, 5, 30, 400])))
            if fieldname == BODY:
                values = [encode_positions(sorted(rng.sample(range(900), rng.randint(1, 4)))) for _ in ids]
                weights = [float(len(_writer.postings.decode_positions(v))) for v in values]
            else:
                weights = [float(rng.randint(1, 9)) for _ in ids]
                values = [pack_uint(int(w)) for w in weights]
            groups.append((fieldname, f"词{t:04d}".encode(), ids, weights, values))

    def written(direct: bool) -> tuple[bytes, bytes]:
        storage = RamStorage()
        codec = Codec()
        segment = codec.new_segment(storage, "MAIN")
        writer = codec.field_writer(storage, segment)
        if direct:
            writer.add_groups(schema, Lengths(), iter(groups))
        else:
            field = None
            for fieldname, btext, ids, weights, values in groups:
                if fieldname != field:
                    if field is not None:
                        writer.finish_field()
                    writer.start_field(fieldname, schema[fieldname])
                    field = fieldname
                writer.start_term(btext)
                for docnum, weight, value in zip(ids, weights, values):
                    writer.add(docnum, weight, value, field_lengths[docnum])
                writer.finish_term()
        writer.finish_field()
        writer.close()
        return tuple(storage.open_file(segment.make_filename(ext)).read() for ext in (W3Codec.TERMS_EXT, W3Codec.POSTS_EXT))

    direct, stock = written(True), written(False)
    assert len(direct[1]) > 0  # some lists went to the postings file
    assert direct == stock
