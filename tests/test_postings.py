"""The compact postings encoding (indexer.postings) gives back what it was given."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import postings

_ids = st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=300, unique=True).map(sorted)


@st.composite
def _posting_lists(draw: st.DrawFn) -> tuple[list[int], list[float], list[bytes], bool, bool]:
    ids = draw(_ids)
    n = len(ids)
    kind = draw(st.sampled_from(["positions", "frequency", "raw", "none"]))
    if kind == "positions":
        lists = [sorted(draw(st.sets(st.integers(0, 70_000), min_size=1, max_size=12))) for _ in range(n)]
        values = [postings.encode_positions(p) for p in lists]
        boost = draw(st.sampled_from([1.0, 1.0, 2.5]))
        weights = [len(p) * boost for p in lists]
        return ids, weights, values, True, False
    if kind == "frequency":
        freqs = draw(st.lists(st.integers(1, 100_000), min_size=n, max_size=n))
        equal = draw(st.booleans())
        weights = [float(f) if equal else f * 0.5 for f in freqs]
        return ids, weights, [struct.pack("!I", f) for f in freqs], False, True
    weights = draw(st.lists(st.one_of(st.just(1.0), st.integers(0, 2**20).map(float),
                                      st.floats(0, 1e6, width=32)), min_size=n, max_size=n))
    values = (draw(st.lists(st.binary(max_size=20), min_size=n, max_size=n)) if kind == "raw" else [b""] * n)
    return ids, weights, values, False, False


@settings(max_examples=300, deadline=None)
@given(_posting_lists())
def test_round_trip(case: tuple[list[int], list[float], list[bytes], bool, bool]) -> None:
    ids, weights, values, positional, frequency = case
    data = postings.encode(ids, weights, values, positional=positional, frequency=frequency)
    got = postings.decode(data)
    assert got.ids.tolist() == ids
    assert got.weights.tolist() == np.asarray(weights, dtype=np.float32).tolist()
    assert got.values() == values
    if positional:
        flat, ends = got.positions()
        starts = [0, *ends[:-1].tolist()]
        assert [flat[a:b].tolist() for a, b in zip(starts, ends.tolist())] == [postings.decode_positions(v) for v in values]
    assert postings.uninline(postings.inline(data)) == data


@given(st.lists(st.integers(0, 2**63 - 1), max_size=200))
def test_varints_round_trip(numbers: list[int]) -> None:
    assert postings.read_varints(postings.varints(numbers)).tolist() == numbers


@given(st.lists(st.integers(0, 10**6), max_size=50).map(lambda xs: sorted(set(xs))))
def test_position_lists_round_trip(positions: list[int]) -> None:
    value = postings.encode_positions(positions)
    assert postings.decode_positions(value) == positions
    assert postings.count_positions(value) == len(positions)


def test_common_postings_are_small() -> None:
    """A frequent character gram: gaps of a few documents, frequencies of a few, one to two bytes each."""
    rng = np.random.default_rng(1)
    ids = np.cumsum(rng.integers(1, 6, size=10_000)).tolist()
    freqs = rng.integers(1, 9, size=10_000)
    data = postings.encode(ids, freqs.astype(float).tolist(), [struct.pack("!I", int(f)) for f in freqs],
                           positional=False, frequency=True)
    assert len(data) < 2.1 * len(ids)  # Whoosh's W3 block: ids, a float32 weight and a uint32 value each


@pytest.mark.parametrize("cut", [1, 2, 5, 10])
def test_error_cut_short_is_a_value_error(cut: int) -> None:
    data = postings.encode(list(range(0, 400, 3)), [2.0] * 134, [postings.encode_positions([1, 5])] * 134,
                           positional=True)
    with pytest.raises(ValueError):
        postings.decode(data[: len(data) - cut] if cut < len(data) else b"")


def test_error_not_inlined_postings() -> None:
    with pytest.raises(ValueError):
        postings.uninline(12345)
