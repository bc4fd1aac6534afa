"""Where the bytes of a built index go: per file kind and per field.

    python bench/size.py --index-dir DIR [--stored-sample 5000]

DIR is an index folder (its ``CURRENT`` names the generation read). Prints two
tables and asserts nothing:

- per file kind: term dictionaries (``.trm``), postings (``.pst``), the
  dense arrays of frequent terms (``.zdn``, indexes of schema 2 only), stored fields (``_stored.col``),
  field lengths (``_<field>_len.col``), the other columns (``<field>.col``:
  sortable fields and ``match_text``), the vocabulary files and the rest;
- per field, summed over the segments with Whoosh's own readers: terms; the
  term dictionary's bytes (keys and term records; a term whose encoded
  postings are short keeps them inlined in its record, counted apart); the postings
  bytes of the other terms (the extent in ``.pst`` its ``W3TermInfo`` record
  names, read from the record's bytes: ``W3TermInfo.from_bytes`` returns the
  length as a tuple and unpickles every inlined term); the
  ``.zdn`` bytes (from that file's own index of (field, term) -> offset); the
  column files of the field; and its share of the stored fields, estimated by
  the pickled size of its values in a sample of documents (Whoosh pickles each
  document's stored fields as one value of ``_stored.col``).

A ``.trm`` file also holds hash tables and the field map; their bytes are the
difference between the file sizes and the per-field sums ("dictionary
overhead").
"""

from __future__ import annotations

import argparse
import pickle
import re
import struct
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whoosh.codec.whoosh3 import W3TermInfo  # noqa: E402
from whoosh.system import _INT_SIZE, _LONG_SIZE, unpack_int  # noqa: E402

from indexer._store import open_generation, served_generation  # noqa: E402

MB = 2**20
_SHORT = 2  # the field number before each term's bytes in a .trm key
_TERMINFO_FIXED = W3TermInfo._struct.size


def file_kind(name: str) -> tuple[str, str | None]:
    """The kind of an index file and, for a column, its field."""
    if name.endswith(".trm"):
        return ".trm term dictionary", None
    if name.endswith(".pst"):
        return ".pst postings", None
    if name.endswith(".zdn"):
        return ".zdn dense postings", None
    if name.endswith("._stored.col"):
        return "_stored.col stored fields", None
    if m := re.search(r"\._(.+)_len\.col$", name):
        return "_len.col field lengths", m.group(1)
    if m := re.search(r"\.([^.]+)\.col$", name):
        return ".col columns", m.group(1)
    if name.startswith("vocab"):
        return "vocab*.tsv (suggestions)", None
    if name.endswith(".toc"):
        return ".toc segment tables", None
    return "other", None


def dense_sizes(path: Path) -> dict[str, int]:
    """Bytes per field of a ``.zdn`` file (its trailing pickled index of (field, term) -> (offset, count))."""
    data = path.read_bytes()
    start = struct.unpack("<Q", data[-8:])[0]
    terms = pickle.loads(data[start:-8])["terms"]
    spans = sorted((offset, field) for (field, _term), (offset, _count) in terms.items())
    sizes: dict[str, int] = defaultdict(int)
    for (offset, field), following in zip(spans, [o for o, _ in spans[1:]] + [start]):
        sizes[field] += following - offset
    sizes["(index of terms)"] += len(data) - start
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--stored-sample", type=int, default=5000, help="documents whose stored fields are weighed")
    args = parser.parse_args()
    gen = served_generation(Path(args.index_dir))
    files = sorted(p for p in gen.iterdir() if p.is_file())
    total = sum(p.stat().st_size for p in files)

    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    col_bytes: dict[str, int] = defaultdict(int)
    len_bytes: dict[str, int] = defaultdict(int)
    dense: dict[str, int] = defaultdict(int)
    stored_total = 0
    for p in files:
        kind, field = file_kind(p.name)
        kinds[kind][0] += p.stat().st_size
        kinds[kind][1] += 1
        if kind == ".col columns" and field:
            col_bytes[field] += p.stat().st_size
        elif kind == "_len.col field lengths" and field:
            len_bytes[field] += p.stat().st_size
        elif kind == ".zdn dense postings":
            for f, n in dense_sizes(p).items():
                dense[f] += n
        elif kind.startswith("_stored"):
            stored_total += p.stat().st_size

    print(f"index {gen} : {total / MB:,.1f} MB in {len(files)} files")
    print(f"\n{'file kind':<28} {'files':>5} {'MB':>9} {'share':>6}")
    for kind, (size, count) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        print(f"{kind:<28} {count:>5} {size / MB:>9.1f} {size / total:>6.1%}")

    terms: dict[str, int] = defaultdict(int)
    inlined_terms: dict[str, int] = defaultdict(int)
    trm_keys: dict[str, int] = defaultdict(int)
    trm_records: dict[str, int] = defaultdict(int)
    trm_inlined: dict[str, int] = defaultdict(int)
    postings: dict[str, int] = defaultdict(int)
    stored: dict[str, int] = defaultdict(int)
    docs = 0
    ix = open_generation(gen)
    with ix.reader() as reader:
        leaves = [r for r, _ in reader.leaf_readers()]
        for leaf in leaves:
            tr = leaf._terms
            unmap = tr._fieldunmap
            for key, value in tr._tindex.items():
                field = unmap[struct.unpack("!H", key[:_SHORT])[0]]
                terms[field] += 1
                trm_keys[field] += len(key)
                if value[0]:  # the term record's flag: postings inlined (pickled after the fixed part)
                    inlined_terms[field] += 1
                    trm_records[field] += _TERMINFO_FIXED
                    trm_inlined[field] += len(value) - _TERMINFO_FIXED
                else:
                    trm_records[field] += len(value)
                    postings[field] += unpack_int(value[_TERMINFO_FIXED + _LONG_SIZE : _TERMINFO_FIXED + _LONG_SIZE + _INT_SIZE])[0]
        per_leaf = max(1, args.stored_sample // max(1, len(leaves)))
        for leaf in leaves:
            count = leaf.doc_count_all()
            step = max(1, count // per_leaf)
            for docnum in range(0, count, step):
                for field, value in leaf.stored_fields(docnum).items():
                    stored[field] += len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                docs += 1
    weighed = sum(stored.values()) or 1
    stored_est = {f: stored_total * n / weighed for f, n in stored.items()}

    fields = sorted(set(terms) | set(col_bytes) | set(len_bytes) | set(stored) | {f for f in dense if not f.startswith("(")},
                    key=lambda f: -(trm_keys[f] + trm_records[f] + trm_inlined[f] + postings[f] + dense.get(f, 0)
                                    + col_bytes[f] + len_bytes[f] + stored_est.get(f, 0)))
    print(f"\nper field (MB; stored: share of _stored.col by pickled size in {docs:,} documents)")
    head = (f"{'field':<15} {'terms':>10} {'inlined':>8} {'.trm keys':>9} {'records':>8} {'inl.post':>8} "
            f"{'.pst':>8} {'.zdn':>8} {'columns':>8} {'lengths':>8} {'stored':>8} {'total':>8}")
    print(head)
    sums = defaultdict(float)
    for f in fields:
        row = {
            "keys": trm_keys[f], "records": trm_records[f], "inl": trm_inlined[f], "pst": postings[f],
            "zdn": dense.get(f, 0), "col": col_bytes[f], "len": len_bytes[f], "stored": stored_est.get(f, 0.0),
        }
        row_total = sum(row.values())
        for k, v in row.items():
            sums[k] += v
        sums["terms"] += terms[f]
        sums["inlined_terms"] += inlined_terms[f]
        print(f"{f:<15} {terms[f]:>10,} {inlined_terms[f] / terms[f] if terms[f] else 0:>8.0%} "
              + " ".join(f"{row[k] / MB:>{9 if k == 'keys' else 8}.1f}" for k in ("keys", "records", "inl", "pst", "zdn", "col", "len", "stored"))
              + f" {row_total / MB:>8.1f}")
    trm_files = kinds[".trm term dictionary"][0]
    print(f"{'all fields':<15} {int(sums['terms']):>10,} {sums['inlined_terms'] / max(1, sums['terms']):>8.0%} "
          + " ".join(f"{sums[k] / MB:>{9 if k == 'keys' else 8}.1f}" for k in ("keys", "records", "inl", "pst", "zdn", "col", "len", "stored"))
          + f" {sum(sums[k] for k in ('keys', 'records', 'inl', 'pst', 'zdn', 'col', 'len', 'stored')) / MB:>8.1f}")
    print(f"dictionary overhead (.trm hash tables, field map): {(trm_files - sums['keys'] - sums['records'] - sums['inl']) / MB:.1f} MB; "
          f".zdn term index: {dense.get('(index of terms)', 0) / MB:.1f} MB; "
          f".pst not in any extent: {(kinds['.pst postings'][0] - sums['pst']) / MB:.1f} MB")
    print("inlined: share of the field's terms whose postings sit in their .trm record (inl.post: those postings' bytes)")


if __name__ == "__main__":
    main()
