"""A reading process follows the writer without losing what it has open."""

from __future__ import annotations

import pytest

from chatsnapshot.ledger import Ledger, LedgerOptions

OPTIONS = LedgerOptions(seal_interval=3600, auto_compact=False)


def test_a_reload_keeps_the_segments_already_open(tmp_path, facts):
    with Ledger.open(tmp_path, options=OPTIONS) as writer, Ledger.open(tmp_path, readonly=True) as reader:
        writer.append(facts(40, correlations=2))
        writer.seal()
        assert len(list(reader.replay("run-0"))) == 20
        before = reader._engine._parts.catalog.segments
        writer.append(facts(40, correlations=2))
        writer.seal()
        assert len(list(reader.replay("run-0"))) == 40  # the reader saw the new segment...
        after = reader._engine._parts.catalog.segments
        assert len(after) == len(before) + 1
        assert after[0] is before[0]  # ...and kept the old one, footer parsed and all


def test_open_row_groups_must_be_positive():
    with pytest.raises(ValueError, match="open_row_groups"):
        LedgerOptions(open_row_groups=0).validate()
