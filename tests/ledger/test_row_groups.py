"""Segment row groups start at correlation boundaries: each group closes at the first boundary
after ``target`` rows, and inside a correlation only at ``4 * target`` rows; the groups together
are the rows, in order, whatever chunks (empty ones too) they came in."""

from __future__ import annotations

import itertools

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from chatsnapshot.ledger._engine.segment import aligned_row_groups


def _table(correlations: list[str]) -> pa.Table:
    return pa.table({"correlation_id": correlations, "row": list(range(len(correlations)))})


def _chunked(table: pa.Table, cuts: list[int]) -> list[pa.Table]:
    bounds = [0, *sorted(c % (table.num_rows + 1) for c in cuts), table.num_rows]
    return [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)]  # repeated cuts: empty chunks


runs = st.lists(st.tuples(st.integers(0, 5), st.integers(1, 40)), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(runs=runs, target=st.integers(1, 12), cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_groups_cut_at_the_first_boundary_after_the_target_and_split_long_correlations(runs, target, cuts):
    correlations = [f"c{name}" for name, length in runs for _ in range(length)]
    # Adjacent runs of the same name are one correlation (the input is sorted by correlation).
    table = _table(correlations)
    groups = list(aligned_row_groups(_chunked(table, cuts), target))

    assert pa.concat_tables(groups).column("row").to_pylist() == list(range(len(correlations)))
    for k, g in enumerate(groups):
        corr = g.column("correlation_id").to_pylist()
        assert 0 < len(corr) <= 4 * target
        # No correlation starts inside a group at or past the target: it would have closed there.
        assert all(corr[i] == corr[i - 1] for i in range(target, len(corr)))
        if k + 1 < len(groups):
            following = groups[k + 1].column("correlation_id")[0].as_py()
            if following != corr[-1]:  # closed at a boundary: only once the target was reached
                assert len(corr) >= target
            else:  # closed inside a correlation: only at the limit
                assert len(corr) == 4 * target


def test_a_group_is_one_slice_of_each_chunk_it_spans():
    # 2,000 one-row correlations in two chunks: groups of 100 rows, not tables of 100 one-row slices.
    table = _table([f"c{k:05d}" for k in range(2000)])
    groups = list(aligned_row_groups([table.slice(0, 1050), table.slice(1050)], 100))
    assert [g.num_rows for g in groups] == [100] * 20
    assert [g.column("row").num_chunks for g in groups] == [1] * 10 + [2] + [1] * 9
