"""search._columns reads every per-document array as Whoosh's own per-document readers answer.

The index is real and small: generated articles in two segments, then updates
(replaced articles: deletions in the first segments; a segment of undated,
uncategorised articles, so without the PUBLISHED, YEAR and CATEGORY columns,
between two that have them) and deletions. Every array is compared, document
by document, with Whoosh's answer for that document.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import fields as W
from whoosh import index as whoosh_index
from whoosh.columns import NumericColumn, RefBytesColumn, VarBytesColumn

from indexer import _store, build_index, colcodes, delete_articles, update_index
from indexer import schema as F
from indexer.matchtext import match_text
from indexer import codes as _codes
from indexer.colfile import file_of, numeric, var_bytes
from search._columns import NO_DATE, Columns
from search._shared import Shared
from tests import _corpus

SORTED_COLUMNS = (F.SOURCE, F.YEAR, F.CATEGORY, F.DUP_KEY)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("columns")
    records = _corpus.generate(300)
    root = work / "index"
    build_index([_corpus.write_jsonl(work / "a.jsonl", records)], index_dir=root, procs=2)
    replaced = [{**r, "title": r["title"] + "新"} for r in records[100:110]]
    update_index([_corpus.write_jsonl(work / "b.jsonl", replaced)], index_dir=root)
    bare = [{"id": f"bare-{i}", "title": f"无日期{i}", "text": r["text"], "source": r["source"]}
            for i, r in enumerate(records[:20])]
    update_index([_corpus.write_jsonl(work / "c.jsonl", bare)], index_dir=root)
    update_index([_corpus.write_jsonl(work / "d.jsonl", records[250:255])], index_dir=root)
    delete_articles([r["id"] for r in records[200:215]], index_dir=root)
    return root


@pytest.fixture()
def reader(index: Path):  # type: ignore[no-untyped-def]
    ix = _store.open_generation(_store.current_generation(index))
    with ix.reader() as r:
        yield r


def _leaf_docs(reader: Any) -> list[tuple[Any, int, int]]:
    return [(leaf, base, d) for leaf, base in reader.leaf_readers() for d in range(leaf.doc_count_all())]


def test_the_index_has_what_the_arrays_must_get_right(reader: Any) -> None:
    leaves = [leaf for leaf, _base in reader.leaf_readers()]
    assert len(leaves) >= 4
    assert any(leaf.has_deletions() for leaf in leaves)
    lacking = [i for i, leaf in enumerate(leaves) if not leaf.has_column(F.CATEGORY)]
    assert lacking and lacking[-1] < len(leaves) - 1  # a later segment has the column again
    assert not any(leaves[i].has_column(F.PUBLISHED) for i in lacking)


def test_alive_is_whoosh_s_undeleted_documents(reader: Any) -> None:
    alive = Columns(reader, Shared()).alive
    assert alive.dtype == bool and len(alive) == reader.doc_count_all()
    assert np.flatnonzero(alive).tolist() == sorted(reader.all_doc_ids())
    assert 0 < np.count_nonzero(~alive) == reader.doc_count_all() - reader.doc_count()


@pytest.mark.parametrize("field", [F.TITLE, F.TITLE_CHARS, F.BODY, F.BODY_CHARS])
def test_lengths_are_whoosh_s_field_lengths(reader: Any, field: str) -> None:
    columns = Columns(reader, Shared())
    expected = [float(leaf.doc_field_length(d, field, 1) or 1) for leaf, _base, d in _leaf_docs(reader)]
    assert columns.lengths(field).tolist() == expected
    assert columns.average_length(field) == reader.field_length(field) / reader.doc_count_all()


def test_dates_are_the_raw_published_column_or_no_date(reader: Any) -> None:
    expected = []
    for leaf, _base in reader.leaf_readers():
        column = leaf.column_reader(F.PUBLISHED, translate=False) if leaf.has_column(F.PUBLISHED) else None
        expected += [int(NO_DATE) if column is None else column[d] for d in range(leaf.doc_count_all())]
    dates = Columns(reader, Shared()).dates()
    assert dates.dtype == np.uint64 and dates.tolist() == expected
    assert int(NO_DATE) in expected and len(set(expected)) > 100


@pytest.mark.parametrize("name", SORTED_COLUMNS)
def test_column_codes_stand_for_whoosh_s_values(reader: Any, name: str) -> None:
    expected = []
    for leaf, _base in reader.leaf_readers():
        column = leaf.column_reader(name) if leaf.has_column(name) else None
        expected += [None if column is None else column[d] for d in range(leaf.doc_count_all())]
    codes, labels = Columns(reader, Shared()).column(name)
    assert [labels[c] for c in codes.tolist()] == expected
    assert len(labels) == len(set(expected)) == len(set(codes.tolist()))  # one code a value


@pytest.mark.parametrize("name", SORTED_COLUMNS)
def test_codes_written_beside_the_generation_are_the_computed_ones(reader: Any, index: Path, name: str) -> None:
    """Every build, update and delete wrote them (the index above had all three); a search maps them."""
    gen = _store.current_generation(index)
    written = colcodes.read_codes(gen, reader, name)
    computed = colcodes.compute(reader, name)
    assert written is not None and computed is not None
    assert isinstance(written[0], np.memmap)
    assert [written[1][c] for c in written[0].tolist()] == [computed[1][c] for c in computed[0].tolist()]
    assert len(written[1]) == len(computed[1]) and written[1].missing == computed[1].missing
    assert Columns(reader, Shared(), generation=gen).column(name)[0] is not None


def test_codes_for_the_same_segments_are_kept_and_others_rewritten(reader: Any, index: Path, tmp_path: Path) -> None:
    import shutil

    gen = tmp_path / "gen"
    shutil.copytree(_store.current_generation(index), gen)
    codes_file = gen / f"zhsearch-codes-{F.DUP_KEY}.npy"
    before = codes_file.stat().st_ino
    colcodes.write_codes(gen, reader)  # as after a delete: the same segments
    assert codes_file.stat().st_ino == before
    (gen / f"zhsearch-codes-{F.CATEGORY}-values.npy").unlink()
    colcodes.write_codes(gen, reader)
    assert codes_file.stat().st_ino != before
    assert all(colcodes.read_codes(gen, reader, name) is not None for name in SORTED_COLUMNS)


def test_codes_of_other_segments_or_damaged_are_not_used(reader: Any, index: Path, tmp_path: Path) -> None:
    """A copy of the generation whose header names other segments, or whose files are damaged,
    gives no codes; the search then computes them and gets Whoosh's values all the same."""
    import json
    import shutil

    gen = tmp_path / "gen"
    shutil.copytree(_store.current_generation(index), gen)
    assert colcodes.read_codes(gen, reader, F.SOURCE) is not None
    header = json.loads((gen / colcodes.HEADER).read_text())
    header["segments"][0][1] += 1
    (gen / colcodes.HEADER).write_text(json.dumps(header))
    assert colcodes.read_codes(gen, reader, F.SOURCE) is None
    shutil.copy(_store.current_generation(index) / colcodes.HEADER, gen / colcodes.HEADER)
    codes_file = gen / f"zhsearch-codes-{F.SOURCE}.npy"
    codes_file.write_bytes(codes_file.read_bytes()[:100])
    assert colcodes.read_codes(gen, reader, F.SOURCE) is None
    (gen / f"zhsearch-codes-{F.YEAR}-ends.npy").unlink()
    assert colcodes.read_codes(gen, reader, F.YEAR) is None
    for name in (F.SOURCE, F.YEAR):
        codes, labels = Columns(reader, Shared(), generation=gen).column(name)
        expected = [leaf.column_reader(name)[d] if leaf.has_column(name) else None
                    for leaf, _base in reader.leaf_readers() for d in range(leaf.doc_count_all())]
        assert [labels[c] for c in codes.tolist()] == expected


def test_match_text_is_the_stored_column_or_made_from_stored_fields(reader: Any) -> None:
    columns = Columns(reader, Shared())
    for leaf, base, d in _leaf_docs(reader):
        if leaf.has_column(F.MATCH_TEXT):
            expected = leaf.column_reader(F.MATCH_TEXT)[d]
        else:
            stored = leaf.stored_fields(d)
            expected = match_text(None if stored.get(F.TITLE_DERIVED) else stored.get(F.HEADLINE), stored.get(F.BODY, ""))
        assert columns.match_text(base + d) == expected


def test_threads_share_one_copy_read_from_a_memory_map(reader: Any, index: Path) -> None:
    shared = Shared()
    ix = _store.open_generation(_store.current_generation(index))
    with ix.reader() as other:
        first, second = Columns(reader, shared), Columns(other, shared)
        assert first.column(F.DUP_KEY)[0] is second.column(F.DUP_KEY)[0]
        assert first.dates() is second.dates()
    leaf = next(leaf for leaf, _base in reader.leaf_readers())
    raw = file_of(leaf, F.MATCH_TEXT)
    assert raw is not None and isinstance(getattr(raw.base, "obj", raw.base), mmap.mmap)  # numpy holds a memoryview of it


# ----- Whoosh's layouts beyond what the project's schema writes


def _raw_index(path: Path, docs: list[dict[str, Any]], schema: W.Schema) -> Any:
    path.mkdir()
    ix = whoosh_index.create_in(str(path), schema)
    writer = ix.writer()
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return whoosh_index.open_dir(str(path))


def test_var_bytes_with_stored_offsets_and_other_column_types(tmp_path: Path) -> None:
    schema = W.Schema(
        id=W.ID(stored=True),
        tag=W.ID(sortable=VarBytesColumn(write_offsets_cutoff=4)),  # offsets stored: the file ends in X
        ref=W.ID(sortable=RefBytesColumn()),  # not read as arrays: Whoosh's readers, a document at a time
        num=W.COLUMN(NumericColumn("i", default=-5)),  # defaults after the last value are not written
    )
    tags = ["", "a", "a\x00", "长一些的标签" * 3, "a", "", "b"]
    docs = [{"id": str(i), "tag": t, "ref": t or "none"} for i, t in enumerate(tags)]
    docs[1]["num"], docs[3]["num"] = 7, -2**31
    ix = _raw_index(tmp_path / "raw", docs, schema)
    with ix.reader() as reader:
        leaf = next(leaf for leaf, _base in reader.leaf_readers())
        raw = file_of(leaf, "tag")
        assert raw is not None and chr(raw[-1]) == "X"
        offsets, lengths = var_bytes(raw, len(tags))
        assert [raw[o : o + n].tobytes() for o, n in zip(offsets, lengths)] == [t.encode() for t in tags]
        nums = leaf.column_reader("num")
        assert numeric(file_of(leaf, "num"), "i", -5, len(tags)).tolist() == [nums[d] for d in range(len(tags))]
        columns = Columns(reader, Shared())
        for name in ("tag", "ref"):
            codes, labels = columns.column(name)
            whoosh = leaf.column_reader(name)
            assert [labels[c] for c in codes.tolist()] == [whoosh[d] for d in range(len(tags))]
            assert len(labels) == len({whoosh[d] for d in range(len(tags))})


def _part(values: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.frombuffer(b"".join(values), dtype=np.uint8)
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    return data, np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64), lengths


@pytest.mark.parametrize("collide", [False, True])
@pytest.mark.parametrize("keep_words", [True, False])
def test_codes_tell_apart_values_that_pad_alike_even_when_hashes_collide(monkeypatch: pytest.MonkeyPatch,
                                                                          collide: bool, keep_words: bool) -> None:
    if not keep_words:  # the words are read again to compare values, as for a column of long values
        monkeypatch.setattr(_codes, "_KEPT_BYTES", 0)
    if collide:  # every value one hash: the exact sort must give the codes
        monkeypatch.setattr(_codes._Values, "hashes", lambda self: np.zeros(len(self.lengths), dtype=np.uint64))
    first = [b"a", b"a\x00", b"", b"a", b"x" * 17, b"x" * 16, b"a\x00\x00", b""]
    second = [b"a\x00", b"x" * 17, b"b", b"y" * 300, b"y" * 299 + b"z", b"y" * 300]
    codes, labels = _codes.encode([_part(first), 4, _part(second)], bytes.decode)
    values = [v.decode() for v in first] + [None] * 4 + [v.decode() for v in second]
    assert [labels[c] for c in codes.tolist()] == values
    assert len(labels) == len(set(values)) == len(set(codes.tolist()))


def test_updates_extend_the_written_codes_and_they_stay_the_computed_ones(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Each update codes only its new segments against the values already written, also when it
    merges the small segments of earlier updates (their values that only purged documents had go):
    every document's value and the number of distinct values are those of a computation from scratch."""
    records = _corpus.generate(260, seed=7)  # two segments bigger than a merge takes
    root = tmp_path / "index"
    build_index([_corpus.write_jsonl(tmp_path / "a.jsonl", records)], index_dir=root, procs=2)
    from_scratch = []
    real_compute = colcodes.compute
    monkeypatch.setattr(colcodes, "compute", lambda reader, name: from_scratch.append(name) or real_compute(reader, name))
    appended = merged = 0
    for step in range(11):
        with _store.open_generation(_store.current_generation(root)).reader() as reader:
            before = colcodes.segments_of(reader)
        batch = [{**r, "id": f"new-{step}-{i}", "source": f"来源{step}", "category": f"类{step % 3}"}
                 for i, r in enumerate(records[step * 3 : step * 3 + 3])]
        batch.append({**records[50 + step], "title": records[50 + step]["title"] + "改"})  # a replacement
        if step % 4 == 1:  # no category, no date: a segment without those columns
            batch = [{"id": f"bare-{step}-{i}", "title": f"无类{step}{i}", "text": r["text"]} for i, r in enumerate(batch)]
        update_index([_corpus.write_jsonl(tmp_path / f"u{step}.jsonl", batch)], index_dir=root)
        if step == 6:
            delete_articles([f"new-{s}-{i}" for s in range(4) for i in range(3)], index_dir=root)
        gen = _store.current_generation(root)
        with _store.open_generation(gen).reader() as reader:
            after = colcodes.segments_of(reader)
            appended += after[: len(before)] == before
            merged += after[: len(before)] != before and after[0] == before[0]
            for name in SORTED_COLUMNS:
                written = colcodes.read_codes(gen, reader, name)
                computed = real_compute(reader, name)
                assert written is not None and computed is not None
                assert [written[1][c] for c in written[0].tolist()] == [computed[1][c] for c in computed[0].tolist()]
                assert len(written[1]) == len(computed[1]) and written[1].missing == computed[1].missing
    assert appended and merged  # both ways of extending were taken
    assert from_scratch == []  # and no update computed a column from scratch
